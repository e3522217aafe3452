"""Notices between processes: PostgreSQL's LISTEN/NOTIFY between two databases opened as
two processes would, and what SQLite (no channel) promises instead."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

from assetry.db import migrate
from assetry.db.engine import SqlDatabase
from assetry.domain.notices import Notice, Topic


class Heard:
    """A subscriber that records what it hears and when."""

    def __init__(self) -> None:
        self.notices: list[tuple[float, Notice]] = []
        self._changed = asyncio.Event()

    def __call__(self, notice: Notice) -> None:
        self.notices.append((time.monotonic(), notice))
        self._changed.set()

    async def next(self, topic: Topic) -> tuple[float, Notice]:
        """The first notice of `topic` not yet taken, within 5 s (earlier ones of other
        topics are dropped)."""
        deadline = time.monotonic() + 5
        while True:
            for i, (at, notice) in enumerate(self.notices):
                if notice.topic is topic:
                    del self.notices[: i + 1]
                    return at, notice
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {topic} notice within 5 s: {self.notices}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@pytest.fixture
async def pair(postgres_url: str) -> AsyncIterator[tuple[SqlDatabase, SqlDatabase, Heard]]:
    """A sending and a listening process's databases; the listener is live."""
    async with SqlDatabase.open(postgres_url) as sender, \
            SqlDatabase.open(postgres_url) as listener:
        heard = Heard()
        listener.notices.subscribe(heard)
        await heard.next(Topic.RESYNC)
        assert listener.notices.live
        yield sender, listener, heard


async def test_a_job_is_heard_when_its_transaction_commits(
    pair: tuple[SqlDatabase, SqlDatabase, Heard],
) -> None:
    sender, _, heard = pair

    async def enqueue_then_fail() -> None:
        async with sender.transaction() as tx:
            await tx.jobs.enqueue("render", {"asset_id": "x"})
            raise RuntimeError("rolled back: no job, no notice")

    with pytest.raises(RuntimeError):
        await enqueue_then_fail()
    async with sender.transaction() as tx:
        await tx.jobs.enqueue("render", {"asset_id": "y"})
        await asyncio.sleep(0.2)
        assert heard.notices == []  # not before the commit
        committing = time.monotonic()
    at, notice = await heard.next(Topic.JOB)
    assert notice == Notice(Topic.JOB)
    assert at - committing < 1  # promptly (the fleet test holds servers to 100 ms)
    assert heard.notices == []  # once


async def test_published_changes_reach_the_other_process_promptly(
    pair: tuple[SqlDatabase, SqlDatabase, Heard],
) -> None:
    sender, _, heard = pair
    sender.notices.publish(Notice(Topic.POOLS))
    await heard.next(Topic.POOLS)  # the sender's first NOTIFY also opened its connection
    asset = uuid4()
    sent = time.monotonic()
    sender.notices.publish(Notice(Topic.ASSETS, frozenset({asset})))
    at, notice = await heard.next(Topic.ASSETS)
    assert notice.assets == {asset}
    assert at - sent < 1, at - sent  # milliseconds, unless the machine is very busy


async def test_many_changes_at_once_all_arrive(
    pair: tuple[SqlDatabase, SqlDatabase, Heard],
) -> None:
    sender, _, heard = pair
    assets = {uuid4() for _ in range(500)}  # more than one NOTIFY payload holds
    for asset in assets:
        sender.notices.publish(Notice(Topic.ASSETS, frozenset({asset})))
    got: set[object] = set()
    while got != assets:
        _, notice = await heard.next(Topic.ASSETS)
        got |= notice.assets
    assert got == assets


async def test_notices_still_waiting_are_sent_on_close(postgres_url: str) -> None:
    async with SqlDatabase.open(postgres_url) as listener:
        heard = Heard()
        listener.notices.subscribe(heard)
        await heard.next(Topic.RESYNC)
        sender = SqlDatabase.open(postgres_url)
        asset = uuid4()
        sender.notices.publish(Notice(Topic.ASSETS, frozenset({asset})))
        await sender.aclose()  # e.g. `assetry regenerate` ending right after its change
        _, notice = await heard.next(Topic.ASSETS)
        assert notice.assets == {asset}


async def test_a_lost_channel_is_not_live_and_resyncs_when_back(
    pair: tuple[SqlDatabase, SqlDatabase, Heard],
) -> None:
    sender, listener, heard = pair
    async with sender.engine.connect() as conn:
        ended = (await conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name"),
            {"name": f"assetry {os.getpid()} notices"})).scalars().all()
    assert ended == [True]
    deadline = time.monotonic() + 5
    while listener.notices.live:
        assert time.monotonic() < deadline, "the listener never noticed it was cut off"
        await asyncio.sleep(0.01)
    await heard.next(Topic.RESYNC)  # back, and whatever was missed counts as changed
    assert listener.notices.live
    asset = uuid4()
    sender.notices.publish(Notice(Topic.ASSETS, frozenset({asset})))
    _, notice = await heard.next(Topic.ASSETS)
    assert notice.assets == {asset}


async def test_sqlite_has_no_channel_and_nothing_to_miss(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'assetry.db'}"
    migrate.upgrade(url)
    async with SqlDatabase.open(url) as db:
        heard = Heard()
        db.notices.subscribe(heard)
        db.notices.publish(Notice(Topic.POOLS))
        async with db.transaction() as tx:
            await tx.jobs.enqueue("render", {"asset_id": "x"})
        await asyncio.sleep(0.1)
        assert heard.notices == []
        # Always live: caches are used, and bounded by their TTL across processes.
        assert db.notices.live
