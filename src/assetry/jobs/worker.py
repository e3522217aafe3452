"""The embedded worker: asyncio tasks that claim durable jobs and run their handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from assetry.domain.ports import Job, JobStore
from assetry.errors import AssetryError
from assetry.jobs.tasks import Handler

log = logging.getLogger(__name__)


class Worker:
    """Runs `concurrency` claim loops against a JobStore until `stop()`.

    Jobs survive restarts because they live in the database; a job left running by a dead
    process is put back once it is older than `stale_after` seconds. Failures are retried
    with exponential backoff up to `max_attempts`, then the job is given up (kept, failed).
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
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._stale_after = stale_after
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._last_sweep = 0.0

    def wake(self) -> None:
        """Tell idle loops that a job was just enqueued (saves up to one poll interval)."""
        self._wake.set()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(i)) for i in range(self._concurrency)]

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

    async def _loop(self, index: int) -> None:
        while True:
            try:
                if index == 0 and time.monotonic() - self._last_sweep > 30:
                    self._last_sweep = time.monotonic()
                    if n := await self._store.requeue_stale(self._stale_after):
                        log.warning("requeued %d job(s) left running by a dead worker", n)
                job = await self._store.claim()
            except AssetryError as exc:
                log.warning("job queue unavailable: %s", exc)
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                continue
            await self._run(job)

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
