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

from assetry.db.notices import notify_in
from assetry.db.session import JOB_LOCKS, PgSession
from assetry.db.tables import jobs
from assetry.domain.notices import Notice, Topic
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
        # Idle workers of every process hear of it when (and if) the caller commits.
        await notify_in(self._conn, Notice(Topic.JOB))


#: whether some queued job is due at :now (the index on status, due_at answers it)
_ANY_DUE = (
    sa.select(sa.literal(1))
    .where(jobs.c.status == JobStatus.QUEUED.value, jobs.c.due_at <= sa.bindparam("now"))
    .limit(1)
)


class SqlJobStore:
    """JobStore for workers; each method runs in its own transaction.

    Safe for many workers on PostgreSQL (claims skip rows another worker has locked) and
    for many coroutines on SQLite (write transactions run one at a time).

    With a `session` (PostgreSQL), a claim is also an advisory lock that this process's
    session holds until the job is completed, retried or given up: if the process dies,
    the lock goes with its session and `requeue_stale` puts the job back at once.
    """

    def __init__(
        self,
        begin: Callable[..., AbstractAsyncContextManager[AsyncConnection]],
        clock: Callable[[], datetime],
        session: PgSession | None = None,
    ) -> None:
        self._begin = begin
        self._clock = clock
        self._session = session

    async def claim(self) -> Job | None:
        """Take the job that has been due longest (marking it running, counting the
        attempt), or None when none is due. No two claims return the same job.

        Whether any job is due is read first, outside a write transaction: an idle
        worker polls every second in every process, and on SQLite a claim's write
        transaction holds the database's one write lock, which uploads wait for."""
        now = self._clock()
        async with self._begin(write=False) as conn:
            if (await conn.execute(_ANY_DUE, {"now": now})).first() is None:
                return None
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
        if self._session is None:
            async with self._begin() as conn:
                row = (await conn.execute(stmt)).one_or_none()
        else:
            row = await self._session.run(lambda conn: self._claim_locked(conn, stmt))
        if row is None:
            return None
        return Job(id=row.id, kind=row.kind, payload=dict(row.payload), attempts=row.attempts)

    async def _claim_locked(self, conn: AsyncConnection, stmt: sa.Update) -> sa.Row[Any] | None:
        # The row turns running and its lock is taken in one transaction, so no sweep can
        # see the job running without its lock. The lock is normally free: it waits only
        # for a sweep looking at this very row, or for a job whose id hashes alike.
        row = (await conn.execute(stmt)).one_or_none()
        if row is not None:
            await conn.execute(sa.select(sa.func.pg_advisory_lock(
                JOB_LOCKS, sa.func.hashtext(str(row.id)))))
            assert self._session is not None
            self._session.record(row.id, JOB_LOCKS, [str(row.id)])
        return row

    async def _release(self, job_id: UUID) -> None:
        if self._session is not None:
            await self._session.release(job_id)

    async def complete(self, job_id: UUID) -> None:
        """Remove a finished job. Completing an absent job is not an error."""
        async with self._begin() as conn:
            await conn.execute(sa.delete(jobs).where(jobs.c.id == job_id))
        await self._release(job_id)

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
            if delay <= 0:
                await notify_in(conn, Notice(Topic.JOB))
        await self._release(job_id)

    async def give_up(self, job_id: UUID, error: str) -> None:
        """Mark a job failed for good with `error`; it stays in the table for inspection."""
        async with self._begin() as conn:
            await conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=JobStatus.FAILED.value, locked_at=None, last_error=error)
            )
        await self._release(job_id)

    async def requeue_stale(self, older_than: float) -> int:
        """Make running jobs due again whose claim has ended (PostgreSQL: no session holds
        its lock any more) or that were claimed more than `older_than` seconds ago; return
        how many. Their attempt stays counted."""
        now = self._clock()
        stale = jobs.c.locked_at < now - timedelta(seconds=older_than)
        async with self._begin() as conn:
            if conn.dialect.name == "postgresql":
                # Run on a pooled connection, never on the session: a session takes its own
                # locks again, so it would find its own running jobs abandoned. The lock
                # taken here lasts only until this transaction ends.
                abandoned = sa.func.pg_try_advisory_xact_lock(
                    JOB_LOCKS, sa.func.hashtext(sa.cast(jobs.c.id, sa.Text)))
                stale = sa.or_(stale, abandoned)
            result = await conn.execute(
                sa.update(jobs)
                .where(jobs.c.status == JobStatus.RUNNING.value, stale)
                .values(
                    status=JobStatus.QUEUED.value,
                    due_at=now,
                    locked_at=None,
                    last_error="requeued: its worker stopped or took longer than "
                               f"{older_than:g} s",
                )
            )
            if result.rowcount:
                await notify_in(conn, Notice(Topic.JOB))
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
