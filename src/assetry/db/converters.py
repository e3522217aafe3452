"""SqlConverterRepository: converters in the converters table; rows <-> Converter."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db._upsert import insert_or_update
from assetry.db.tables import converters, pools
from assetry.domain.converter import Converter, parse_version
from assetry.errors import ConverterNotFound

#: Built once: a statement object keeps its cache key, so running it again skips
#: SQLAlchemy's construction and cache-key walk (about 0.4 ms a statement here).
_BY_NAME = sa.select(converters).where(converters.c.name == sa.bindparam("name"))


def from_row(row: sa.Row[Any]) -> Converter:
    return Converter(
        name=row.name,
        versions=tuple(parse_version(raw, f"versions[{i}]") for i, raw in enumerate(row.versions)),
    )


class SqlConverterRepository:
    """ConverterRepository on one connection (the caller's transaction)."""

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def get(self, name: str) -> Converter:
        """Raises ConverterNotFound."""
        row = (await self._conn.execute(_BY_NAME, {"name": name})).first()
        if row is None:
            raise ConverterNotFound(f"no converter named {name!r}")
        return from_row(row)

    async def list(self) -> list[Converter]:
        """Every converter, by name."""
        # Sorted here, not in SQL: PostgreSQL's collation may order "-" and "_" otherwise.
        rows = await self._conn.execute(sa.select(converters))
        return sorted((from_row(row) for row in rows), key=lambda c: c.name)

    async def put(self, converter: Converter) -> bool:
        """Create or replace the converter's versions; True when it was created."""
        now = self._clock()
        specs = [spec.to_json() for spec in converter.versions]
        return await insert_or_update(
            self._conn,
            converters,
            key={"name": converter.name},
            insert={
                "name": converter.name,
                "versions": specs,
                "created_at": now,
                "modified_at": now,
            },
            update={"versions": specs, "modified_at": now},
        )

    async def delete(self, name: str) -> None:
        """Remove the converter. Deleting an absent converter is not an error; assets it
        made keep its name."""
        await self._conn.execute(sa.delete(converters).where(converters.c.name == name))

    async def in_use(self, name: str) -> builtins.list[str]:
        """Names of the pools whose default converter this is, by name."""
        rows = await self._conn.execute(sa.select(pools.c.name).where(pools.c.converter == name))
        return sorted(rows.scalars())
