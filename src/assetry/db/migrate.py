"""Schema migrations from code: Alembic's upgrade to head, with no alembic.ini."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from assetry.db.engine import configure_sqlite, sync_url
from assetry.errors import BackendUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Alembic's `context` and `op` are module-level proxies: one run per process at a time.
_ALEMBIC = threading.Lock()

# Any constant: the PostgreSQL advisory lock that makes concurrent upgrades (several
# processes starting at once) run one after the other.
_PG_MIGRATION_LOCK = 0x61737365  # "asse"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _sqlite_file(url: sa.URL) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database or a server."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite":
        return None
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def _connect(database_url: str) -> Iterator[Connection]:
    """A blocking connection in a write transaction, committed when the block ends."""
    url = make_url(sync_url(database_url))
    engine = sa.create_engine(url, poolclass=NullPool)
    if url.get_backend_name() == "sqlite":
        # Migrations run with foreign keys off: batch mode re-creates tables, and dropping
        # a parent table with them on would cascade-delete its children's rows.
        # upgrade() checks the keys once the migrations are done.
        configure_sqlite(engine, foreign_keys=False)
    try:
        try:
            conn = engine.connect()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise BackendUnavailable(f"the database is unavailable: {exc.orig}") from exc
        with conn, conn.begin():
            yield conn
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision the migrations define."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at `database_url` to `revision` (the newest unless told; tests
    stop at older ones to check an upgrade over existing rows); a no-op when it is
    there already. Creates a SQLite file (and its directory) that does not exist yet.
    All pending migrations commit together or not at all. Raises BackendUnavailable
    when the database cannot be reached, ConfigError for an unsupported URL."""
    sqlite_file = _sqlite_file(make_url(sync_url(database_url)))
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    with _ALEMBIC, _connect(database_url) as conn:
        # Upgrades from several processes at once run one after the other: SQLite's
        # BEGIN IMMEDIATE already holds the write lock; PostgreSQL takes this one.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")


def current(database_url: str) -> str | None:
    """The revision the schema at `database_url` is at; None when it was never migrated
    (a SQLite file that does not exist is not created). Raises BackendUnavailable."""
    sqlite_file = _sqlite_file(make_url(sync_url(database_url)))
    if sqlite_file is not None and not sqlite_file.exists():
        return None
    with _connect(database_url) as conn:
        return MigrationContext.configure(conn).get_current_revision()
