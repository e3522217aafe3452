"""Create-or-replace that also tells which of the two happened, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


async def insert_or_update(
    conn: AsyncConnection,
    table: sa.Table,
    *,
    key: Mapping[str, Any],
    insert: Mapping[str, Any],
    update: Mapping[str, Any],
) -> bool:
    """Insert `insert` unless a row with `key` exists, else apply `update` to it.
    True when the row was inserted."""
    # INSERT .. ON CONFLICT DO NOTHING first, not SELECT-then-INSERT: on PostgreSQL a
    # concurrent creator makes it wait and then see the row, instead of a unique violation.
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        dialect_insert(table)
        .values(**insert)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*(table.c[name] for name in key))
    )
    if (await conn.execute(stmt)).first() is not None:
        return True
    await conn.execute(
        sa.update(table)
        .where(*(table.c[name] == value for name, value in key.items()))
        .values(**update)
    )
    return False
