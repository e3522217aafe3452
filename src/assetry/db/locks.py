"""RenderLocks: who renders which version, in this process and (on PostgreSQL) across
every process sharing the database, through advisory locks on the process's session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from uuid import UUID

from assetry.db.session import RENDER_LOCKS, PgSession
from assetry.errors import Overloaded

#: Seconds between two looks at a lock held elsewhere: the first ones short, since most
#: renders take a fraction of a second.
_POLL_FIRST = 0.02
_POLL_MAX = 0.25


class VersionLocks:
    """RenderLocks keyed by version id. Without a session (SQLite, one host) the locks
    cover this process only, and renders in other processes are kept apart by the
    version's compare-and-set alone.

    Waiting for a lock another process holds is a poll of pg_try_advisory_lock, short at
    first, never a blocking pg_advisory_lock: that would stall the one session every
    lock of this process goes through.
    """

    def __init__(self, session: PgSession | None, *, wait_limit: float) -> None:
        self._session = session
        self._wait_limit = wait_limit
        self._here: dict[UUID, object] = {}  #: key -> the block holding it in this process

    @asynccontextmanager
    async def hold(self, keys: Sequence[UUID], *, wait: bool) -> AsyncIterator[frozenset[UUID]]:
        owner = object()
        try:
            if wait:
                held = await self._wait_for(owner, sorted(set(keys)))
            else:
                held = await self._take(owner, set(keys))
            yield frozenset(held)
        finally:
            for key in [k for k, o in self._here.items() if o is owner]:
                del self._here[key]
            if self._session is not None:
                await asyncio.shield(self._session.release(owner))

    async def _take(self, owner: object, keys: set[UUID]) -> set[UUID]:
        free = {k for k in keys if k not in self._here}
        for key in free:  # reserved here first: a cancelled take is undone by the block's exit
            self._here[key] = owner
        got = free
        if self._session is not None and free:
            names = await self._session.acquire(owner, RENDER_LOCKS, [str(k) for k in free])
            got = {k for k in free if str(k) in names}
        for key in free - got:
            del self._here[key]
        return got

    async def _wait_for(self, owner: object, keys: list[UUID]) -> set[UUID]:
        # One after the other in a fixed order: two waiters never hold what the other waits for.
        deadline = time.monotonic() + self._wait_limit
        for key in keys:
            pause = _POLL_FIRST
            while not await self._take(owner, {key}):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Overloaded("another process has been rendering this for "
                                     f"{self._wait_limit:g} s; try again later", retry_after=5)
                await asyncio.sleep(min(pause, left))
                pause = min(pause * 2, _POLL_MAX)
        return set(keys)
