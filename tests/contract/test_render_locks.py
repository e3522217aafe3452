"""RenderLocks held to one contract on SQLite (this process) and PostgreSQL (every process
sharing the database, through the process's session)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

from assetry.db.engine import SqlDatabase
from assetry.domain.ports import RenderLocks
from assetry.errors import Overloaded


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[SqlDatabase]:
    async with SqlDatabase.open(database_url) as opened:
        yield opened


async def test_a_key_is_held_by_one_block_at_a_time(db: SqlDatabase) -> None:
    locks = db.render_locks(wait_limit=5)
    a, b = uuid4(), uuid4()
    async with locks.hold([a, b], wait=False) as held:
        assert held == {a, b}
        async with locks.hold([b], wait=False) as again:
            assert again == frozenset()
    async with locks.hold([b], wait=False) as after:
        assert after == {b}


async def test_wait_takes_the_lock_once_its_holder_lets_go(db: SqlDatabase) -> None:
    locks = db.render_locks(wait_limit=5)
    key = uuid4()
    order: list[str] = []

    async def holder() -> None:
        async with locks.hold([key], wait=False) as held:
            assert held == {key}
            order.append("held")
            await asyncio.sleep(0.3)
            order.append("released")

    task = asyncio.create_task(holder())
    await asyncio.sleep(0.05)
    async with locks.hold([key], wait=True) as held:
        order.append("waiter")
        assert held == {key}
    await task
    assert order == ["held", "released", "waiter"]


async def test_wait_gives_up_after_the_wait_limit(db: SqlDatabase) -> None:
    locks = db.render_locks(wait_limit=0.3)
    key = uuid4()
    async with locks.hold([key], wait=False):
        started = time.monotonic()
        with pytest.raises(Overloaded) as raised:
            async with locks.hold([key], wait=True):
                pass
        assert 0.2 < time.monotonic() - started < 2
        assert raised.value.retry_after > 0
    async with locks.hold([key], wait=False) as held:  # the failed wait kept nothing
        assert held == {key}


async def test_a_cancelled_wait_leaves_nothing_held(db: SqlDatabase) -> None:
    locks = db.render_locks(wait_limit=5)
    taken, wanted = uuid4(), uuid4()

    async def waiter() -> None:
        async with locks.hold([taken, wanted], wait=True):
            raise AssertionError("unreachable: `taken` stays held")

    async with locks.hold([taken], wait=False):
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with locks.hold([taken, wanted], wait=False) as held:
        assert held == {taken, wanted}


# -- across processes: PostgreSQL ------------------------------------------------------


@pytest.fixture
async def two(postgres_url: str) -> AsyncIterator[tuple[SqlDatabase, SqlDatabase]]:
    """Two processes' worth of database: each has its own session."""
    async with SqlDatabase.open(postgres_url) as one, SqlDatabase.open(postgres_url) as other:
        yield one, other


async def test_a_key_held_by_one_process_is_not_free_for_another(
    two: tuple[SqlDatabase, SqlDatabase],
) -> None:
    one, other = (db.render_locks(wait_limit=5) for db in two)
    a, b = uuid4(), uuid4()
    async with one.hold([a], wait=False) as held:
        assert held == {a}
        async with other.hold([a, b], wait=False) as theirs:
            assert theirs == {b}
    async with other.hold([a], wait=False) as theirs:
        assert theirs == {a}


async def test_another_process_waits_for_the_holder(
    two: tuple[SqlDatabase, SqlDatabase],
) -> None:
    one, other = (db.render_locks(wait_limit=5) for db in two)
    key = uuid4()
    async with one.hold([key], wait=False):
        waiting = asyncio.create_task(_wait_for(other, key))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        released = time.monotonic()
    waited = await waiting
    assert waited - released < 1  # it noticed soon after


async def _wait_for(locks: RenderLocks, key: UUID) -> float:
    async with locks.hold([key], wait=True) as held:
        assert held == {key}
        return time.monotonic()


async def test_locks_end_with_the_holders_session(
    two: tuple[SqlDatabase, SqlDatabase],
) -> None:
    one_db, other_db = two
    one, other = one_db.render_locks(wait_limit=5), other_db.render_locks(wait_limit=5)
    key = uuid4()
    holding = asyncio.Event()

    async def hold_forever() -> None:
        async with one.hold([key], wait=False) as held:
            assert held == {key}
            holding.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(hold_forever())
    await holding.wait()
    async with other.hold([key], wait=False) as theirs:
        assert theirs == frozenset()
    # The holding process dies: the server ends its session, and the lock with it.
    async with other_db.engine.connect() as conn:
        ended = (await conn.execute(sa.text(
            "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a "
            "JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' "
            "WHERE a.datname = current_database() AND a.application_name = :name"),
            {"name": f"assetry {os.getpid()} locks"})).scalars().all()
    assert ended == [True]
    async with other.hold([key], wait=True) as theirs:
        assert theirs == {key}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
