"""The SQL Database: engines from a URL, SQLite tuning, and the unit-of-work context manager."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from assetry.db import sqlite_driver
from assetry.db.assets import SqlAssetRepository
from assetry.db.converters import SqlConverterRepository
from assetry.db.direct_uploads import SqlDirectUploadRepository
from assetry.db.jobs import SqlJobQueue, SqlJobStore
from assetry.db.locks import VersionLocks
from assetry.db.notices import LocalNotices, PgNotices
from assetry.db.pools import SqlPoolRepository
from assetry.db.session import PgSession
from assetry.db.tokens import SqlTokenRepository
from assetry.db.uploads import SqlUploadRepository
from assetry.domain.ports import (
    AssetRepository,
    ConverterRepository,
    DirectUploadRepository,
    JobQueue,
    JobStore,
    Notices,
    PoolRepository,
    RenderLocks,
    TokenRepository,
    Transaction,
    UploadRepository,
)
from assetry.errors import BackendUnavailable, ConfigError

#: Milliseconds a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000
#: Seconds to wait for a PostgreSQL server to accept a connection.
POSTGRES_CONNECT_TIMEOUT_S = 5

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}
_BACKENDS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
}

# Errors that mean "the database did not answer" (refused, timed out, locked too long,
# connection dropped). Everything else from SQLAlchemy is a bug and stays one.
_UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)

# Execution option read by the SQLite "begin" hook: False starts a deferred (read) transaction.
_WRITE_OPTION = "assetry_write"


def _parse(url: str) -> tuple[URL, str]:
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(f"invalid database URL {url!r}: {exc}") from exc
    backend = _BACKENDS.get(parsed.drivername)
    if backend is None:
        raise ConfigError(
            f"unsupported database URL scheme {parsed.drivername!r}; "
            "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    return parsed, backend


def async_url(url: str) -> str:
    """The URL with its asyncio driver: sqlite -> sqlite+aiosqlite, postgresql ->
    postgresql+psycopg. Raises ConfigError for any other scheme."""
    parsed, backend = _parse(url)
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The URL with its blocking driver (stdlib sqlite3, psycopg), for migrations.
    Raises ConfigError for an unsupported scheme."""
    parsed, backend = _parse(url)
    return parsed.set(drivername=_SYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def configure_sqlite(engine: Engine, *, foreign_keys: bool = True) -> None:
    """Tune every connection `engine` opens to SQLite and let it control BEGIN itself.

    WAL lets readers run beside the one writer; busy_timeout makes a writer wait for the
    lock instead of failing at once. Write transactions start with BEGIN IMMEDIATE: a
    deferred transaction that reads and then writes cannot wait for the lock (SQLite
    reports "database is locked" at the upgrade), an immediate one queues at BEGIN.
    This follows SQLAlchemy's "Serializable isolation / Savepoints / Transactional DDL"
    recipe: sqlite3 stops emitting BEGIN itself, which also makes DDL transactional.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit at driver level; we emit BEGIN
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL takes a lock another connection may hold.
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, True)
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        dbapi = conn.connection.dbapi_connection
        if isinstance(dbapi, sqlite_driver.Connection):
            dbapi.begin_with_next_statement(begin)  # no trip of its own
        else:
            conn.exec_driver_sql(begin)


def create_engine(url: str) -> AsyncEngine:
    """An asyncio engine for `url` (sqlite:// or postgresql://), tuned for its back-end.
    Connects lazily. Raises ConfigError for an unsupported URL."""
    _, backend = _parse(url)
    if backend == "sqlite":
        engine = create_async_engine(async_url(url), module=sqlite_driver.dbapi())
        configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        async_url(url),
        pool_pre_ping=True,  # a restarted server must not fail the next request
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
                      "application_name": application_name()},
    )


def application_name(role: str = "") -> str:
    """How this process's PostgreSQL connections name themselves (pg_stat_activity):
    `assetry PID`, plus `locks` for the session holding its advisory locks and `notices`
    for the one listening on the notice channel."""
    return " ".join(filter(None, ("assetry", str(os.getpid()), role)))


def _conninfo(url: str) -> str:
    """A libpq connection URI for a postgresql:// URL (psycopg without SQLAlchemy)."""
    parsed, _ = _parse(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlTransaction:
    """One unit of work: every repository shares the same connection and transaction."""

    assets: AssetRepository
    pools: PoolRepository
    converters: ConverterRepository
    tokens: TokenRepository
    uploads: UploadRepository
    direct_uploads: DirectUploadRepository
    jobs: JobQueue

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self.assets = SqlAssetRepository(conn)
        self.pools = SqlPoolRepository(conn, clock)
        self.converters = SqlConverterRepository(conn, clock)
        self.tokens = SqlTokenRepository(conn)
        self.uploads = SqlUploadRepository(conn)
        self.direct_uploads = SqlDirectUploadRepository(conn)
        self.jobs = SqlJobQueue(conn, clock)


class SqlDatabase:
    """The metadata database (SQLite or PostgreSQL) behind the Database port.

    Open with `SqlDatabase.open(url)` and close with `aclose()` (or use it as an async
    context manager). The schema must already be migrated (`assetry.db.migrate.upgrade`).
    """

    jobs: JobStore
    #: what this process changed, every other process hears (LISTEN/NOTIFY on PostgreSQL)
    notices: Notices

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _utc_now,
                 url: str | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._session: PgSession | None = None
        self._notices: PgNotices | None = None
        if url is not None and engine.dialect.name == "postgresql":
            self._session = PgSession(create_async_engine(
                async_url(url), poolclass=NullPool,
                connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
                              "application_name": application_name("locks")}))
            self._notices = PgNotices(_conninfo(url), self._begin,
                                      application_name=application_name("notices"),
                                      connect_timeout=POSTGRES_CONNECT_TIMEOUT_S)
        self.notices = self._notices or LocalNotices()
        self.jobs = SqlJobStore(self._begin, clock, self._session)

    @classmethod
    def open(cls, url: str, *, clock: Callable[[], datetime] = _utc_now) -> SqlDatabase:
        """A database for `url`; connects lazily, so an unreachable server surfaces as
        BackendUnavailable on first use. `clock` gives the current UTC time (tests pass a
        fake one). Raises ConfigError for an unsupported URL.

        On PostgreSQL the process also gets a session of its own for advisory locks (job
        claims, render locks) and, once something subscribes to `notices`, a connection
        listening on the notice channel."""
        return cls(create_engine(url), clock=clock, url=url)

    def render_locks(self, *, wait_limit: float) -> RenderLocks:
        """Render locks across every process on this database (PostgreSQL), or within this
        process (SQLite); a wait for one gives up after `wait_limit` seconds."""
        return VersionLocks(self._session, wait_limit=wait_limit)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def aclose(self) -> None:
        """Send the notices still waiting, end the lock session (releasing every lock this
        process holds) and close every pooled connection. Safe to call twice."""
        if self._notices is not None:
            await self._notices.aclose()
        if self._session is not None:
            await self._session.aclose()
        await self._engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Transaction]:
        """One unit of work: commits when the block ends, rolls back when it raises.

        On SQLite a writing unit holds the write lock from the start (BEGIN IMMEDIATE), so
        concurrent writers run one after the other instead of failing; `write=False` units
        (reads) run beside them. Raises BackendUnavailable when the database cannot be
        reached or stays locked.
        """
        async with self._begin(write=write) as conn:
            yield SqlTransaction(conn, self._clock)

    def connection(self, *, write: bool = True) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection inside one transaction, for adapters that work on whole tables
        (db/records.py); errors are translated as in `transaction`."""
        return self._begin(write=write)

    async def ping(self) -> None:
        """Raise BackendUnavailable unless the database answers."""
        async with self._begin(write=False) as conn:
            await conn.execute(sa.select(1))

    @asynccontextmanager
    async def _begin(self, *, write: bool = True) -> AsyncIterator[AsyncConnection]:
        # The one place database errors are translated: also the ones raised by the
        # repositories inside the block, and by the commit.
        try:
            async with self._engine.connect() as conn:
                if not write:
                    await conn.execution_options(**{_WRITE_OPTION: False})
                async with conn.begin():
                    yield conn
        except _UNAVAILABLE as exc:
            detail = getattr(exc, "orig", None) or exc
            raise BackendUnavailable(f"the database is unavailable: {detail}") from exc
