"""Query plans: capture the SELECTs code sends to the database, EXPLAIN them, find full scans.

Used by the plan tests (tests/contract/test_query_plans.py) and by bench/bench_scale.py,
which runs the same checks on a million rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

#: The tables that grow with the number of assets: a full pass over one is a scan that
#: gets slower with every upload.
BIG_TABLES = ("assets", "versions", "attachments")


@dataclass(frozen=True)
class Query:
    """One statement as the driver received it, with its parameters."""

    statement: str
    parameters: Any

    @property
    def one_line(self) -> str:
        return " ".join(self.statement.split())


@contextmanager
def captured_queries() -> Iterator[list[Query]]:
    """Every SELECT that any SQLAlchemy engine of this process (sync, or the sync side of
    an async one) runs while the block runs, in order, duplicates included."""
    queries: list[Query] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any,
                _context: Any, executemany: bool) -> None:
        if not executemany and statement.lstrip().upper().startswith("SELECT"):
            queries.append(Query(statement, parameters))

    event.listen(sa.Engine, "before_cursor_execute", capture)
    try:
        yield queries
    finally:
        event.remove(sa.Engine, "before_cursor_execute", capture)


def distinct(queries: Sequence[Query]) -> list[Query]:
    """The first of each statement text, in order (parameters differ between repeats)."""
    seen: dict[str, Query] = {}
    for query in queries:
        seen.setdefault(query.statement, query)
    return list(seen.values())


def explain(conn: sa.Connection, query: Query) -> list[str]:
    """The plan of `query` with its own parameters, one line per node: SQLite's EXPLAIN
    QUERY PLAN (indented by depth), PostgreSQL's EXPLAIN."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query.statement}",
                                    query.parameters).all()
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return lines
    rows = conn.exec_driver_sql(f"EXPLAIN {query.statement}", query.parameters).all()
    return [row[0] for row in rows]


_TABLES = "|".join(BIG_TABLES)
_SQLITE_FULL = re.compile(
    # SQLite says SEARCH when an index narrows the rows. SCAN reads the whole table, also
    # as "SCAN t USING [COVERING] INDEX i" (the whole index, for its order); an AUTOMATIC
    # index is one SQLite builds for this statement by reading the whole table.
    rf"^\s*(SCAN ({_TABLES})\b|SEARCH ({_TABLES}) USING AUTOMATIC)"
)
_PG_SEQ_SCAN = re.compile(rf"Seq Scan on ({_TABLES})\b")
_PG_INDEX_SCAN = re.compile(rf"Index (Only )?Scan( Backward)? using \S+ on ({_TABLES})\b")


def full_scans(dialect: str, plan: Sequence[str]) -> list[str]:
    """The lines of `plan` (from `explain`) that read the whole of a big table: on
    PostgreSQL a Seq Scan, or an index scan without an Index Cond (the whole index)."""
    if dialect == "sqlite":
        return [line.strip() for line in plan if _SQLITE_FULL.search(line)]
    return [line.strip() for index, line in enumerate(plan)
            if _PG_SEQ_SCAN.search(line) or (_PG_INDEX_SCAN.search(line) and not any(
                detail.strip().startswith("Index Cond:") for detail in _details(plan, index)))]


def _details(plan: Sequence[str], index: int) -> Iterator[str]:
    """The lines that describe node `index` (its Index Cond, Filter, ...): those after
    it up to the next node, which starts with "->"."""
    for line in plan[index + 1:]:
        if "->" in line:
            return
        yield line
