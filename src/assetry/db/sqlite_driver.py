"""SQLite on asyncio with one thread hop per statement.

SQLAlchemy's aiosqlite adapter sends every step of a statement to aiosqlite's thread on
its own: make a cursor, execute, fetch the rows, close the cursor; four trips, each
a queue hand-off, a thread wake-up and a wake-up of the event loop. A read transaction
of one query made ten of them (BEGIN is a statement too, and the pool's reset rolled
back a connection that had just committed), about 1.7 ms of CPU, most of an upload's
database cost. Here a statement is one trip that does all four steps; a transaction's
BEGIN waits for its first statement and goes in the same trip (a transaction with no
statement sends nothing); and the reset rollback is skipped when no transaction is
open: the same read transaction costs two trips.

Everything else is SQLAlchemy's aiosqlite dialect, unchanged: its connection, its
server-side cursor (`stream`), its error translation. This module gives it a DBAPI
module object (`create_async_engine(..., module=dbapi())`).
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

#: what one trip brings back: description, rowcount, lastrowid, rows
_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, begin: str | None, operation: str, parameters: Any,
         many: bool = False) -> _Outcome:
    """On aiosqlite's thread: `begin` if any, then the whole statement (once per set of
    parameters with `many`), its cursor closed again."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
            return None, cursor.rowcount, cursor.lastrowid, []
        cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement is one trip to the connection's thread; it
    holds no sqlite3 cursor between statements."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")
    _adapt_connection: Connection

    def __init__(self, adapt_connection: Any) -> None:
        # The base class makes an aiosqlite cursor here (a trip); the statement's own
        # trip makes and closes one instead.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        pass  # there is no sqlite3 cursor left open to close

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                _run, self._connection._conn, self._adapt_connection.take_begin(), operation,
                parameters)
            self._keep(outcome)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                _run, self._connection._conn, self._adapt_connection.take_begin(),
                operation, seq_of_parameters, True)
            self._keep(outcome)

    def _keep(self, outcome: _Outcome) -> None:
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)


class Connection(AsyncAdapt_aiosqlite_connection):
    """The DBAPI connection SQLAlchemy is given."""

    __slots__ = ("_begin",)
    _cursor_cls = _Cursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None

    def begin_with_next_statement(self, statement: str) -> None:
        """Open a transaction with `statement` (BEGIN, BEGIN IMMEDIATE) in the trip of
        the next statement; a commit or rollback before one forgets it."""
        self._begin = statement

    def take_begin(self) -> str | None:
        begin, self._begin = self._begin, None
        return begin

    def commit(self) -> None:
        if self.take_begin() is None:
            super().commit()

    def rollback(self) -> None:
        # The pool rolls back every connection it takes back, mostly just after a
        # commit: with no transaction open there is nothing to roll back, and no trip.
        # (sqlite3 reads in_transaction from the database handle: no thread check.)
        self.take_begin()
        conn = self._connection._connection
        if conn is not None and not conn.in_transaction:
            return
        super().rollback()


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> Connection:
        adapted = super().connect(*arg, **kw)
        return Connection(self, adapted._connection)


def dbapi() -> Any:
    """The DBAPI module object for SQLAlchemy's sqlite+aiosqlite dialect."""
    return _Dbapi(aiosqlite, sqlite3)
