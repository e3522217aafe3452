"""The embedded worker: asyncio tasks that claim durable jobs and run their handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from assetry.domain.ports import Job, JobStore
from assetry.errors import AssetryError
from assetry.jobs.tasks import Handler

log = logging.getLogger(__name__)


class Worker:
    """Runs `concurrency` claim loops against a JobStore until `stop()`.

    Jobs survive restarts because they live in the database. Every `sweep_interval`
    seconds a job whose claim has ended is put back: at once when its worker's database
    session is gone (PostgreSQL), else once it is older than `stale_after` seconds.
    Failures are retried with exponential backoff up to `max_attempts`, then the job is
    given up (kept, failed). Idle loops claim again when woken (`wake`: a job was
    enqueued, here or in another process). One idle loop also claims every
    `poll_interval` seconds regardless, and the others sleep until woken: a loop that
    claims a job wakes the idle ones, which claim in turn while jobs are due. An idle
    process so costs one claim per interval, not one per loop (and a claim with nothing
    due is a read: see SqlJobStore.claim).
    """

    def __init__(
        self,
        store: JobStore,
        handlers: dict[str, Handler],
        *,
        concurrency: int,
        max_attempts: int,
        stale_after: float,
        poll_interval: float = 1.0,
        sweep_interval: float = 5.0,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._stale_after = stale_after
        self._poll = poll_interval
        self._sweep_interval = sweep_interval
        self._wake = asyncio.Event()
        self._polling = False  #: an idle loop is polling on the interval
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """Tell idle loops that a job may be due (saves up to one poll interval)."""
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop()) for _ in range(self._concurrency)]
        self._tasks.append(asyncio.create_task(self._sweep()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def run_until_idle(self) -> int:
        """Run due jobs one by one until none is due; return how many ran (CLI, tests)."""
        ran = 0
        while (job := await self._store.claim()) is not None:
            await self._run(job)
            ran += 1
        return ran

    async def _loop(self) -> None:
        while True:
            # Cleared before the claim, not after: a wake-up while the claim runs (a job
            # committed just after it looked) must not be lost for a whole poll interval.
            self._wake.clear()
            try:
                job = await self._store.claim()
            except AssetryError as exc:
                log.warning("job queue unavailable: %s", exc)
                job = None
            if job is None:
                await self._idle()
                continue
            self.wake()  # more may be due: the idle loops claim too
            try:
                await self._run(job)
            except AssetryError as exc:
                # The outcome could not be recorded (the database went away mid-job). The
                # claim ends with this process's session or the stale window and the job
                # runs again (jobs are safe to run twice); this loop must outlive the outage.
                log.warning("job %s (%s): outcome not recorded: %s", job.id, job.kind, exc)
                await asyncio.sleep(min(self._poll, 1.0))

    async def _idle(self) -> None:
        """Wait for a wake-up; the first idle loop also for the poll interval to pass."""
        if self._polling:
            await self._wake.wait()
            return
        self._polling = True
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            self._polling = False

    async def _sweep(self) -> None:
        # A task of its own: the claim loops may all be busy with long jobs.
        while True:
            try:
                if n := await self._store.requeue_stale(self._stale_after):
                    log.warning("requeued %d job(s) left running by a worker that stopped", n)
                    self.wake()
            except AssetryError as exc:
                log.warning("job queue unavailable: %s", exc)
            await asyncio.sleep(self._sweep_interval)

    async def _run(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            await handler(job.payload)
        except asyncio.CancelledError:
            # Shutting down mid-job: hand it back now rather than after the stale window.
            await asyncio.shield(self._store.retry(job.id, "interrupted by shutdown", delay=0))
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if job.attempts >= self._max_attempts or isinstance(exc, LookupError):
                log.error("job %s (%s) failed for good: %s", job.id, job.kind, reason)
                await self._store.give_up(job.id, reason)
            else:
                delay = min(300.0, 2.0 ** job.attempts)
                log.warning("job %s (%s) failed, retry in %.0f s: %s",
                            job.id, job.kind, delay, reason)
                await self._store.retry(job.id, reason, delay=delay)
            return
        await self._store.complete(job.id)
