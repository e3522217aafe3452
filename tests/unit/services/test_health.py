"""HealthService: each back-end probed at once and for a bounded time, never raising."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from assetry.errors import BackendUnavailable
from assetry.services.health import HealthService


class Probe:
    """A stand-in back-end whose ping answers, fails or hangs."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.jobs = self  # the database's job store

    async def ping(self) -> None:
        if self.behaviour == "fails":
            raise BackendUnavailable("connection refused")
        if self.behaviour == "hangs":
            await asyncio.sleep(3600)

    async def counts(self) -> dict[str, int]:
        await self.ping()
        return {"queued": 1}


def service(database: str, storage: str) -> HealthService:
    db: Any = Probe(database)
    blobs: Any = Probe(storage)
    return HealthService(db, blobs, probe_timeout=0.5)


async def test_all_ok() -> None:
    assert await service("answers", "answers").check() == {"database": "ok", "storage": "ok"}


async def test_a_failing_part_is_named_with_its_reason() -> None:
    assert await service("fails", "answers").check() == {
        "database": "unavailable: connection refused", "storage": "ok"}


async def test_hanging_parts_are_unavailable_after_the_probe_timeout_both_at_once() -> None:
    started = time.monotonic()
    result = await service("hangs", "hangs").check()
    assert result == {"database": "unavailable: no answer within 0.5 s",
                      "storage": "unavailable: no answer within 0.5 s"}
    assert time.monotonic() - started < 0.9  # side by side: one after the other is 1 s


async def test_job_counts_of_a_hanging_database_are_unavailable_in_bounded_time() -> None:
    assert await service("answers", "answers").jobs() == {"queued": 1}
    with pytest.raises(BackendUnavailable, match=r"within 0\.5 s"):
        await service("hangs", "answers").jobs()
