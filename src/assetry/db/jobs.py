"""The durable job queue in the jobs table: enqueue inside a unit of work, claim from a worker."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db.tables import jobs
from assetry.domain.ports import Job


class JobStatus(StrEnum):
    QUEUED = "queued"  #: waiting until due_at
    RUNNING = "running"  #: claimed by a worker at locked_at
    FAILED = "failed"  #: given up; kept for inspection


class SqlJobQueue:
    """JobQueue on the caller's connection: the job commits or rolls back with its data."""

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        """Add a queued job, due now. `payload` must be JSON-serialisable."""
        now = self._clock()
        await self._conn.execute(
            sa.insert(jobs).values(
                id=uuid4(),
                kind=kind,
                payload=payload,
                status=JobStatus.QUEUED.value,
                attempts=0,
                due_at=now,
                locked_at=None,
                last_error=None,
                created_at=now,
            )
        )


class SqlJobStore:
    """JobStore for workers; each method runs in its own transaction.

    Safe for many workers on PostgreSQL (claims skip rows another worker has locked) and
    for many coroutines on SQLite (write transactions run one at a time).
    """

    def __init__(
        self,
        begin: Callable[..., AbstractAsyncContextManager[AsyncConnection]],
        clock: Callable[[], datetime],
    ) -> None:
        self._begin = begin
        self._clock = clock

    async def claim(self) -> Job | None:
        """Take the job that has been due longest (marking it running, counting the
        attempt), or None when none is due. No two claims return the same job."""
        now = self._clock()
        # SKIP LOCKED lets concurrent PostgreSQL workers pass over a row another one is
        # claiming; SQLite renders no FOR UPDATE and needs none (BEGIN IMMEDIATE).
        oldest_due = (
            sa.select(jobs.c.id)
            .where(jobs.c.status == JobStatus.QUEUED.value, jobs.c.due_at <= now)
            .order_by(jobs.c.due_at, jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            sa.update(jobs)
            .where(jobs.c.id == oldest_due, jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.RUNNING.value, attempts=jobs.c.attempts + 1, locked_at=now)
            .returning(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts)
        )
        async with self._begin() as conn:
            row = (await conn.execute(stmt)).one_or_none()
        if row is None:
            return None
        return Job(id=row.id, kind=row.kind, payload=dict(row.payload), attempts=row.attempts)

    async def complete(self, job_id: UUID) -> None:
        """Remove a finished job. Completing an absent job is not an error."""
        async with self._begin() as conn:
            await conn.execute(sa.delete(jobs).where(jobs.c.id == job_id))

    async def retry(self, job_id: UUID, error: str, *, delay: float) -> None:
        """Put a running job back, due `delay` seconds from now, noting `error`. A job
        that is no longer running (requeued as stale meanwhile) is left alone."""
        now = self._clock()
        async with self._begin() as conn:
            await conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value)
                .values(
                    status=JobStatus.QUEUED.value,
                    due_at=now + timedelta(seconds=delay),
                    locked_at=None,
                    last_error=error,
                )
            )

    async def give_up(self, job_id: UUID, error: str) -> None:
        """Mark a job failed for good with `error`; it stays in the table for inspection."""
        async with self._begin() as conn:
            await conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=JobStatus.FAILED.value, locked_at=None, last_error=error)
            )

    async def requeue_stale(self, older_than: float) -> int:
        """Make jobs claimed more than `older_than` seconds ago due again (their worker
        died); return how many. Their attempt stays counted."""
        now = self._clock()
        async with self._begin() as conn:
            result = await conn.execute(
                sa.update(jobs)
                .where(
                    jobs.c.status == JobStatus.RUNNING.value,
                    jobs.c.locked_at < now - timedelta(seconds=older_than),
                )
                .values(
                    status=JobStatus.QUEUED.value,
                    due_at=now,
                    locked_at=None,
                    last_error=f"requeued: still running after {older_than:g} s",
                )
            )
        return result.rowcount

    async def counts(self) -> dict[str, int]:
        """Number of jobs in each state; every state is present, zero when empty."""
        counts = {status.value: 0 for status in JobStatus}
        async with self._begin(write=False) as conn:
            rows = await conn.execute(
                sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
            )
            for status, count in rows:
                counts[status] = count
        return counts
