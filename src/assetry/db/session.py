"""The process's own PostgreSQL session: advisory locks that end when the process does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from assetry.errors import BackendUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Advisory lock namespaces (the first key of PostgreSQL's two-key form; the second is
#: hashtext() of the id). pg_locks shows them as classid, e.g. to see who holds which job:
#: SELECT a.application_name, count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
#: WHERE l.locktype = 'advisory' AND l.classid = 1785688691 GROUP BY 1
JOB_LOCKS = 0x6A6F6273  # "jobs": a claimed job, held while it runs
RENDER_LOCKS = 0x76657273  # "vers": a version being rendered

# Errors that mean the session's connection is gone or unusable.
_LOST = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)

Op = Callable[[AsyncConnection], Awaitable[T]]


class PgSession:
    """One long-lived connection that holds this process's session-level advisory locks
    (job claims, renders). When the process dies, PostgreSQL ends the session and every
    lock with it, so other processes can take over at once rather than after a timeout.

    Operations run one at a time, in the order submitted, each in its own short
    transaction, and always to the end: a caller that is cancelled stops waiting, but
    what its operation acquired is still recorded under its `owner`, and a later
    `release(owner)` (which runs after it) frees it. If the connection breaks, its locks
    are gone with it: the record is cleared and the next operation reconnects.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._queue: asyncio.Queue[tuple[Op[Any], asyncio.Future[Any]]] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._owned: dict[object, set[tuple[int, str]]] = {}

    async def run(self, op: Op[T]) -> T:
        """Run `op` on the session in a transaction of its own, after every operation
        submitted before it. Raises what `op` raises; BackendUnavailable when the
        database cannot be reached."""
        if self._queue is None or self._runner is None or self._runner.done():
            self._queue = asyncio.Queue()
            self._runner = asyncio.get_running_loop().create_task(self._serve(self._queue))
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        # A caller cancelled while waiting never reads the outcome: do not warn about it.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.put_nowait((op, future))
        return await asyncio.shield(future)

    async def acquire(self, owner: object, namespace: int, names: Collection[str]
                      ) -> set[str]:
        """Take, for `owner`, the locks of `names` that no other session holds now; return
        those taken. Never waits. (A name this session holds for another owner is taken
        again: callers keep their own record of what this process holds.)"""

        async def op(conn: AsyncConnection) -> set[str]:
            got = {row[0] for row in await conn.execute(
                sa.text("SELECT n FROM unnest(CAST(:names AS text[])) AS n "
                        "WHERE pg_try_advisory_lock(:ns, hashtext(n))"),
                {"names": sorted(names), "ns": namespace})}
            self.record(owner, namespace, got)
            return got

        return await self.run(op) if names else set()

    def record(self, owner: object, namespace: int, names: Collection[str]) -> None:
        """Note locks an operation took for `owner` (for operations that take their own)."""
        self._owned.setdefault(owner, set()).update((namespace, n) for n in names)

    async def release(self, owner: object) -> None:
        """Free every lock `owner` holds (nothing if the session was lost meanwhile)."""

        async def op(conn: AsyncConnection) -> None:
            held = self._owned.pop(owner, set())
            for namespace in {ns for ns, _ in held}:
                await conn.execute(
                    sa.text("SELECT pg_advisory_unlock(:ns, hashtext(n)) "
                            "FROM unnest(CAST(:names AS text[])) AS n"),
                    {"ns": namespace, "names": sorted(n for ns, n in held if ns == namespace)})

        if owner in self._owned:
            with contextlib.suppress(BackendUnavailable):  # then the locks went with it
                await self.run(op)

    async def aclose(self) -> None:
        """End the session (and so every lock it holds). Safe to call twice."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        await self._drop()
        await self._engine.dispose()

    async def _serve(self, queue: asyncio.Queue[tuple[Op[Any], asyncio.Future[Any]]]) -> None:
        while True:
            op, future = await queue.get()
            try:
                result = await self._execute(op)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except BaseException as exc:  # handed to the caller
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    async def _execute(self, op: Op[T]) -> T:
        try:
            if self._conn is None:
                self._conn = await self._engine.connect()
            async with self._conn.begin():
                return await op(self._conn)
        except _LOST as exc:
            if held := sum(len(v) for v in self._owned.values()):
                log.warning("lost the database session holding %d lock(s); other processes "
                            "may now take over those jobs and renders: %s", held, exc)
            self._owned.clear()
            await self._drop()
            detail = getattr(exc, "orig", None) or exc
            raise BackendUnavailable(f"the database is unavailable: {detail}") from exc

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()
