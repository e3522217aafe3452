"""The SQLite driver: one trip to the connection's thread per statement, with every
DBAPI answer SQLAlchemy reads (rows, columns, rowcount, errors), on a real database file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa

from assetry.db.engine import SqlDatabase
from assetry.db.migrate import upgrade
from assetry.errors import PoolNotFound


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    return url


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to an aiosqlite thread, in order."""
    sent: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kw)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_read_transaction_of_one_query_is_two_trips(url: str, trips: list[str]) -> None:
    async def go() -> None:
        async with SqlDatabase.open(url) as db:
            async with db.transaction(write=False) as tx:  # connects
                await tx.pools.list()
            trips.clear()
            async with db.transaction(write=False) as tx:
                await tx.pools.list()
            # BEGIN with the SELECT, then COMMIT; no cursor trips, no reset rollback
            assert trips == ["_run", "commit"]
            async with db.transaction(write=False):
                pass
            assert trips == ["_run", "commit"]  # a transaction with no statement: no trip

    run(go())


def test_statements_answer_rows_columns_and_rowcounts(url: str) -> None:
    async def go() -> None:
        async with SqlDatabase.open(url) as db:
            async with db.connection() as conn:
                await conn.execute(sa.text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
                inserted = await conn.execute(
                    sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "a"}, {"v": "b"}])
                assert inserted.rowcount == 2  # executemany
                changed = await conn.execute(sa.text("UPDATE t SET v = 'c' WHERE k > 0"))
                assert changed.rowcount == 2
            async with db.connection(write=False) as conn:
                result = await conn.execute(sa.text("SELECT k, v FROM t ORDER BY k"))
                assert list(result.keys()) == ["k", "v"]
                assert result.all() == [(1, "c"), (2, "c")]
                streamed = await conn.stream(sa.text("SELECT v FROM t ORDER BY k"))
                assert [row.v async for row in streamed] == ["c", "c"]

    run(go())


async def insert_then(db: SqlDatabase, then: Any) -> None:
    """Insert row 1, then `then(conn)` (awaited), in one write transaction."""
    async with db.connection() as conn:
        await conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        await then(conn)


async def fail() -> None:
    raise RuntimeError


def test_a_failed_block_is_rolled_back_and_errors_keep_their_kind(url: str) -> None:
    async def go() -> None:
        async with SqlDatabase.open(url) as db:
            async with db.connection() as conn:
                await conn.execute(sa.text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))
            with pytest.raises(RuntimeError):
                await insert_then(db, lambda conn: fail())
            again = sa.text("INSERT INTO t VALUES (1)")
            with pytest.raises(sa.exc.IntegrityError):
                await insert_then(db, lambda conn: conn.execute(again))
            async with db.connection(write=False) as conn:
                count = await conn.execute(sa.text("SELECT count(*) FROM t"))
                assert count.scalar() == 0  # neither block left a row
            with pytest.raises(PoolNotFound):  # repository errors still come through
                async with db.transaction(write=False) as tx:
                    await tx.pools.get("nope")

    run(go())
