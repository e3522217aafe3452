"""The Worker's loops against an in-memory JobStore: wake-ups and the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

from assetry.domain.ports import Job
from assetry.errors import BackendUnavailable
from assetry.jobs.worker import Worker


class Store:
    """A JobStore in memory. `during_claim` runs inside the next claim, after it looked."""

    def __init__(self, *due: Job) -> None:
        self.due = list(due)
        self.completed: list[UUID] = []
        self.handed_back: list[UUID] = []
        self.sweeps = 0
        self.during_claim: Callable[[], Awaitable[None]] | None = None

    async def claim(self) -> Job | None:
        found = self.due.pop(0) if self.due else None
        if self.during_claim is not None:
            hook, self.during_claim = self.during_claim, None
            await hook()
        return found

    async def complete(self, job_id: UUID) -> None:
        self.completed.append(job_id)

    async def retry(self, job_id: UUID, error: str, *, delay: float) -> None:
        self.handed_back.append(job_id)

    async def give_up(self, job_id: UUID, error: str) -> None:
        raise AssertionError(error)

    async def requeue_stale(self, older_than: float) -> int:
        self.sweeps += 1
        return 0

    async def counts(self) -> dict[str, int]:
        return {}


def job() -> Job:
    return Job(id=uuid4(), kind="render", payload={}, attempts=1)


async def noop(payload: dict[str, Any]) -> None:
    return None


async def test_a_job_enqueued_while_a_claim_looks_is_taken_at_once() -> None:
    store = Store()
    worker = Worker(store, {"render": noop}, concurrency=1, max_attempts=3,
                    stale_after=3600, poll_interval=60)
    late = job()

    async def commit_meanwhile() -> None:
        # The job commits, and its notice wakes the worker, just after the claim looked.
        store.due.append(late)
        worker.wake()

    store.during_claim = commit_meanwhile
    worker.start()
    try:
        for _ in range(100):
            if store.completed:
                break
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
    assert store.completed == [late.id]  # within a second, not after the 60 s poll


async def test_the_sweep_runs_while_every_loop_is_busy() -> None:
    long = job()
    store = Store(long)
    busy = asyncio.Event()

    async def render(payload: dict[str, Any]) -> None:
        busy.set()
        await asyncio.Event().wait()  # a long render

    worker = Worker(store, {"render": render}, concurrency=1, max_attempts=3,
                    stale_after=3600, poll_interval=60, sweep_interval=0.05)
    worker.start()
    try:
        await busy.wait()
        before = store.sweeps
        await asyncio.sleep(0.3)
        assert store.sweeps - before >= 3
    finally:
        await worker.stop()
    assert store.handed_back == [long.id]  # stopping mid-job hands it back at once


async def test_a_loop_outlives_an_outcome_it_cannot_record() -> None:
    # The database goes away while a job runs: recording its outcome fails. The loop logs
    # it and goes on with the next job instead of dying silently.
    first, second = job(), job()
    store = Store(first, second)
    recorded = store.complete
    failures = [BackendUnavailable("the database is unreachable")]

    async def complete(job_id: UUID) -> None:
        if failures:
            raise failures.pop()
        await recorded(job_id)

    store.complete = complete  # type: ignore[method-assign]
    worker = Worker(store, {"render": noop}, concurrency=1, max_attempts=3,
                    stale_after=3600, poll_interval=0.05)
    worker.start()
    try:
        for _ in range(200):
            if store.completed:
                break
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
    assert store.completed == [second.id]


class CountingStore(Store):
    def __init__(self, *due: Job) -> None:
        super().__init__(*due)
        self.claims = 0

    async def claim(self) -> Job | None:
        self.claims += 1
        return await super().claim()


async def test_idle_loops_claim_once_per_poll_interval_between_them() -> None:
    store = CountingStore()
    worker = Worker(store, {"render": noop}, concurrency=4, max_attempts=3,
                    stale_after=3600, poll_interval=0.05)
    worker.start()
    try:
        await asyncio.sleep(0.5)
    finally:
        await worker.stop()
    # One claim per loop at start, then one per interval for all of them together
    # (four loops each polling would make some 40).
    assert 5 <= store.claims <= 4 + 10 + 3


async def test_jobs_found_by_the_poll_run_on_every_idle_loop_at_once() -> None:
    store = CountingStore()
    running: list[int] = []
    all_running = asyncio.Event()

    async def held(payload: dict[str, Any]) -> None:
        running.append(1)
        if len(running) == 3:
            all_running.set()
        await asyncio.wait_for(all_running.wait(), 5)

    worker = Worker(store, {"render": held}, concurrency=3, max_attempts=3,
                    stale_after=3600, poll_interval=0.05)
    worker.start()
    try:
        await asyncio.sleep(0.2)  # every loop idle: one polls, the others sleep
        store.due.extend(job() for _ in range(3))  # committed by another process: no wake
        await asyncio.wait_for(all_running.wait(), 2)
        for _ in range(100):
            if len(store.completed) == 3:
                break
            await asyncio.sleep(0.01)
    finally:
        await worker.stop()
    assert len(store.completed) == 3 and not store.handed_back
