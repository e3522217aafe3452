"""SqlRecords: every row of the metadata database as plain values, read and written table
by table (moving an installation to another database, ids kept)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from assetry.db.engine import SqlDatabase
from assetry.db.tables import assets, metadata, versions
from assetry.domain.model import VersionStatus
from assetry.domain.ports import StoredBlob

#: the tables a move copies, each after the tables its rows refer to
TABLES = ("converters", "pools", "tokens", "assets", "versions", "attachments", "jobs")
#: tables a move leaves behind, and why; every table is in exactly one of the two
#: (a test holds new tables to that, so each gets a decision)
LEFT_BEHIND = {
    # Announced uploads point at temporary objects in the old store; a client announces
    # again. Expired ones are `assetry gc`'s.
    "direct_uploads": "unfinished direct uploads belong to the old store",
    # Resumable uploads keep their parts under uploads/ in the old store; an unfinished
    # one is started again, a finished one's record only names an asset that moved anyway.
    "uploads": "resumable uploads keep their parts in the old store",
    "upload_parts": "the parts of resumable uploads, in the old store",
}


class SqlRecords:
    """Records over one SQLite or PostgreSQL database (already migrated). Errors are
    translated as every transaction's (BackendUnavailable)."""

    tables: Sequence[str] = TABLES

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    async def count(self, table: str) -> int:
        async with self._db.connection(write=False) as conn:
            query = sa.select(sa.func.count()).select_from(metadata.tables[table])
            return int((await conn.execute(query)).scalar_one())

    async def read(self, table: str, *, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Every row in primary key order, `batch` at a time, from one consistent read."""
        t = metadata.tables[table]
        async with self._db.connection(write=False) as conn:
            result = await conn.stream(sa.select(t).order_by(*t.primary_key.columns))
            async for rows in result.mappings().partitions(batch):
                yield [dict(row) for row in rows]

    async def write(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert-or-overwrite by primary key, in one transaction. A row that holds a
        unique value (a version's (asset, name), a token's hash) under another primary key
        is removed first: the source has the newer truth."""
        if not rows:
            return
        t = metadata.tables[table]
        key = list(t.primary_key.columns)
        async with self._db.connection() as conn:
            for unique in (c for c in t.constraints if isinstance(c, sa.UniqueConstraint)):
                columns = list(unique.columns)
                await conn.execute(sa.delete(t).where(
                    sa.tuple_(*columns).in_([tuple(r[c.name] for c in columns) for r in rows]),
                    sa.tuple_(*key).not_in([tuple(r[c.name] for c in key) for r in rows])))
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(t)
            upsert = insert.on_conflict_do_update(
                index_elements=key,
                set_={c.name: insert.excluded[c.name] for c in t.columns if c not in key})
            await conn.execute(upsert, list(rows))

    async def blobs(self) -> AsyncIterator[StoredBlob]:
        async with self._db.connection(write=False) as conn:
            for query in (
                sa.select(assets.c.blob_key, assets.c.size, assets.c.sha256),
                # A pending version's key is a render's reservation, not bytes it has.
                sa.select(versions.c.blob_key, versions.c.size, versions.c.sha256)
                .where(versions.c.blob_key.is_not(None),
                       versions.c.status != VersionStatus.PENDING.value),
            ):
                result = await conn.stream(query)
                async for key, size, digest in result:
                    yield StoredBlob(key=key, size=size, sha256=digest)
