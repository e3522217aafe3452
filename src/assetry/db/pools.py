"""SqlPoolRepository: pools in the pools table; rows <-> Pool."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db._upsert import insert_or_update
from assetry.db.tables import pools
from assetry.domain.model import AssetType, Pool
from assetry.errors import PoolNotFound

#: Built once: a statement object keeps its cache key, so running it again skips
#: SQLAlchemy's construction and cache-key walk (about 0.4 ms a statement here).
_BY_NAME = sa.select(pools).where(pools.c.name == sa.bindparam("name"))


def from_row(row: sa.Row[Any]) -> Pool:
    return Pool(
        name=row.name,
        title=row.title,
        asset_types=tuple(AssetType(t) for t in row.asset_types),
        max_size=row.max_size,
        converter=row.converter,
        public=row.public,
        transforms=row.transforms,
    )


def to_row(pool: Pool) -> dict[str, Any]:
    """Every column but created_at, which only an insert sets."""
    return {
        "name": pool.name,
        "title": pool.title,
        "asset_types": [t.value for t in pool.asset_types],
        "max_size": pool.max_size,
        "converter": pool.converter,
        "public": pool.public,
        "transforms": pool.transforms,
    }


class SqlPoolRepository:
    """PoolRepository on one connection (the caller's transaction)."""

    def __init__(self, conn: AsyncConnection, clock: Callable[[], datetime]) -> None:
        self._conn = conn
        self._clock = clock

    async def get(self, name: str) -> Pool:
        """Raises PoolNotFound."""
        row = (await self._conn.execute(_BY_NAME, {"name": name})).first()
        if row is None:
            raise PoolNotFound(f"no pool named {name!r}")
        return from_row(row)

    async def list(self) -> list[Pool]:
        """Every pool, by name."""
        # Sorted here, not in SQL: PostgreSQL's collation may order "-" and "_" otherwise.
        rows = await self._conn.execute(sa.select(pools))
        return sorted((from_row(row) for row in rows), key=lambda p: p.name)

    async def put(self, pool: Pool) -> bool:
        """Create or replace every field of the pool; True when it was created."""
        values = to_row(pool)
        return await insert_or_update(
            self._conn,
            pools,
            key={"name": pool.name},
            insert={**values, "created_at": self._clock()},
            update=values,
        )

    async def delete(self, name: str) -> None:
        """Remove the pool. Deleting an absent pool is not an error; a pool that still
        holds assets is refused by the database (the caller checks count_in_pool)."""
        await self._conn.execute(sa.delete(pools).where(pools.c.name == name))
