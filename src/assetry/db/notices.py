"""Notices between processes (the Notices port): PostgreSQL's LISTEN/NOTIFY, or nothing
at all on SQLite, whose processes share one host and rely on polling and short TTLs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.domain.notices import CHANNEL, Notice, Topic, decode, encode
from assetry.errors import AssetryError

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

#: Seconds without a notification after which the listener checks that its server is
#: still there (a connection can die without a word, e.g. behind a failed router).
_KEEPALIVE = 15.0
#: Seconds to wait before reconnecting, doubling up to the second value.
_RETRY = (0.2, 5.0)
#: Seconds `aclose` waits for notices still to be sent.
_FLUSH_TIMEOUT = 5.0

Handler = Callable[[Notice], None]


async def notify_in(conn: AsyncConnection, notice: Notice) -> None:
    """Send `notice` inside the caller's transaction: PostgreSQL delivers it when (and
    only if) that transaction commits. Nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        for payload in encode([notice]):
            await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))


class LocalNotices:
    """Notices on a database without a channel (SQLite): nothing is sent. Processes on
    the same host then learn of changes by polling (jobs) and within the delivery cache's
    TTL (assets)."""

    live = True

    def publish(self, notice: Notice) -> None:
        pass

    def subscribe(self, handler: Handler) -> None:
        pass

    async def aclose(self) -> None:
        pass


class PgNotices:
    """Notices over LISTEN/NOTIFY on channel `assetry`.

    Hearing: one dedicated connection per process (psycopg, autocommit) that LISTENs,
    started by the first `subscribe`; after every (re)connection the subscribers get a
    RESYNC notice, since whatever was sent while it was down is lost. Sending: NOTIFY on
    a pooled connection, in the background, several notices per statement when they
    pile up.
    """

    def __init__(
        self,
        conninfo: str,
        begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        *,
        application_name: str,
        connect_timeout: int,
    ) -> None:
        self._conninfo = conninfo
        self._begin = begin
        self._application_name = application_name
        self._connect_timeout = connect_timeout
        self._handlers: list[Handler] = []
        self._live = False
        self._listener: asyncio.Task[None] | None = None
        self._outbox: list[Notice] = []
        self._sender: asyncio.Task[None] | None = None

    @property
    def live(self) -> bool:
        return self._live

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    def publish(self, notice: Notice) -> None:
        self._outbox.append(notice)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def aclose(self) -> None:
        """Send what is still waiting (for a few seconds at most), then stop listening."""
        if self._sender is not None and not self._sender.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._sender), _FLUSH_TIMEOUT)
            self._sender.cancel()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _send(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            try:
                async with self._begin() as conn:
                    for payload in encode(batch):
                        await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, payload)))
            except AssetryError as exc:
                log.warning("could not tell the other processes about %d change(s): %s",
                            len(batch), exc)

    async def _listen(self) -> None:
        import psycopg  # the postgres extra: only processes on PostgreSQL need it

        pause = _RETRY[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=self._connect_timeout,
                    application_name=self._application_name,
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._live, pause = True, _RETRY[0]
                    log.debug("listening for notices on channel %s", CHANNEL)
                    self._deliver(Notice(Topic.RESYNC))
                    async for payload in _payloads(conn):
                        if (notice := decode(payload)) is not None:
                            self._deliver(notice)
            except (psycopg.Error, OSError) as exc:
                if self._live:
                    log.warning("lost the notice channel (caches are bypassed until it is "
                                "back): %s", exc)
            finally:
                self._live = False
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RETRY[1])

    def _deliver(self, notice: Notice) -> None:
        for handler in self._handlers:
            try:
                handler(notice)
            except Exception:  # one broken subscriber must not deafen the others
                log.exception("a notice handler failed on %s", notice)


async def _payloads(conn: psycopg.AsyncConnection[Any]) -> AsyncIterator[str]:
    """Payloads heard on the channel, until the connection fails (raises psycopg.Error)."""
    while True:
        async for notify in conn.notifies(timeout=_KEEPALIVE):
            if notify.channel == CHANNEL:
                yield notify.payload
        await conn.execute("SELECT 1")  # quiet for a while: is the server still there?
