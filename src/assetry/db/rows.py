"""SQL for the original image service's table view (domain/rows.py): originals and
versions as one set of rows, filtered by a condition tree, sorted, paged and counted.

The rows are a UNION ALL of two SELECTs, one over assets (the originals) and one over
versions joined to their asset, both limited to the readable pools (and visible assets).
Conditions and sort name the union's columns; both back-ends agree on every result:
text sorts bytewise, `like` is case-sensitive and `not` keeps rows whose column is null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db.tables import assets
from assetry.db.tables import versions as versions_table
from assetry.domain.model import AssetType
from assetry.domain.rows import AllOf, AnyOf, Compare, Condition, ListQuery, RowTable, SortKey

#: the union's text columns, sorted bytewise on both back-ends
_TEXT = frozenset({"version", "correlation_id", "hash"})


def _source(table: RowTable, pools: Sequence[str], include_hidden: bool) -> sa.Subquery:
    scope: list[sa.ColumnElement[bool]] = [assets.c.pool.in_(pools)]
    if not include_hidden:
        scope.append(sa.not_(assets.c.hidden))
    if table is RowTable.IMAGES:
        scope.append(assets.c.type == AssetType.IMAGE.value)
    originals = sa.select(
        assets.c.id.label("id"),
        sa.cast(sa.null(), versions_table.c.name.type).label("version"),
        assets.c.gallery.label("correlation_id"),
        sa.cast(sa.null(), sa.Uuid()).label("original_id"),
        assets.c.id.label("file_id"),
        assets.c.created_at.label("timestamp"),
        assets.c.sha256.label("hash"),
        assets.c.id.label("asset_id"),
    ).where(*scope)
    derived = sa.select(
        versions_table.c.id,
        versions_table.c.name,
        assets.c.gallery,
        assets.c.id,
        versions_table.c.id,
        versions_table.c.created_at,
        versions_table.c.sha256,
        assets.c.id,
    ).join_from(versions_table, assets, versions_table.c.asset_id == assets.c.id).where(
        *scope, sa.not_(versions_table.c.adhoc))  # transform results are no one's rows
    return sa.union_all(originals, derived).subquery("rows")


def like_to_glob(pattern: str) -> str:
    """A LIKE pattern as an SQLite GLOB pattern (GLOB is case-sensitive, as LIKE is on
    PostgreSQL): % -> *, _ -> ?, GLOB's own * ? [ taken literally, backslash escapes."""
    out, chars = [], iter(pattern)
    literal = {"*": "[*]", "?": "[?]", "[": "[[]"}
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "\\")
            out.append(literal.get(nxt, nxt))
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        else:
            out.append(literal.get(ch, ch))
    return "".join(out)


class _Compiler:
    def __init__(self, rows: sa.Subquery, dialect: str) -> None:
        self.rows = rows
        self.dialect = dialect

    def where(self, condition: Condition) -> sa.ColumnElement[bool]:
        if isinstance(condition, AllOf):
            return sa.and_(sa.true(), *(self.where(c) for c in condition.items))
        if isinstance(condition, AnyOf):
            return sa.or_(sa.false(), *(self.where(c) for c in condition.items))
        return self.compare(condition)

    def compare(self, c: Compare) -> sa.ColumnElement[bool]:
        col: Any = self.rows.c[c.column]
        if c.op == "eq":
            return col.is_(None) if c.value is None else col == c.value  # type: ignore[no-any-return]
        if c.op == "not":
            return col.is_not(None) if c.value is None else col.is_distinct_from(c.value)  # type: ignore[no-any-return]
        if c.op in ("in", "not_in"):
            values = [v for v in c.value if v is not None]
            with_null = len(values) != len(c.value)
            if c.op == "in":
                found = col.in_(values)
                return sa.or_(found, col.is_(None)) if with_null else found
            kept = sa.or_(col.not_in(values), col.is_(None))
            return sa.and_(kept, col.is_not(None)) if with_null else kept
        if c.op == "like":
            if self.dialect == "sqlite":
                return col.op("GLOB")(like_to_glob(c.value))  # type: ignore[no-any-return]
            return col.like(c.value)  # type: ignore[no-any-return]
        ops = {"gt": col.__gt__, "lt": col.__lt__, "ge": col.__ge__, "le": col.__le__}
        return ops[c.op](c.value)  # type: ignore[no-any-return]

    def order(self, key: SortKey) -> sa.UnaryExpression[Any]:
        col: Any = self.rows.c[key.column]
        if key.column in _TEXT and self.dialect == "postgresql":
            col = col.collate("C")
        ordered = col.desc() if key.descending else col.asc()
        return ordered.nulls_first() if key.nulls_first else ordered.nulls_last()  # type: ignore[no-any-return]


async def select_rows(
    conn: AsyncConnection, table: RowTable, query: ListQuery, *, pools: Sequence[str],
    include_hidden: bool,
) -> tuple[list[tuple[UUID, UUID]], int | None]:
    """(row id, asset id) of the page's rows in order, and the count of all matching
    rows (None unless `query.count`)."""
    rows = _source(table, pools, include_hidden)
    compiler = _Compiler(rows, conn.dialect.name)
    where = sa.true() if query.where is None else compiler.where(query.where)
    count = None
    if query.count:
        counted = sa.select(sa.func.count()).select_from(rows).where(where)
        count = int((await conn.execute(counted)).scalar_one())
    if query.limit == 0:
        return [], count
    page = (
        sa.select(rows.c.id, rows.c.asset_id)
        .where(where)
        .order_by(*(compiler.order(k) for k in query.sort))
        .offset(query.offset)
        .limit(query.limit)
    )
    return [(r.id, r.asset_id) for r in await conn.execute(page)], count
