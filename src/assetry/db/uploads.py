"""SqlUploadRepository: resumable uploads and their parts; rows <-> Upload and UploadPart."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db.tables import upload_parts, uploads
from assetry.domain.tus import Upload, UploadPart
from assetry.errors import UploadNotFound


def from_row(row: sa.Row[Any]) -> Upload:
    m = row._mapping
    return Upload(
        id=m["id"], pool=m["pool"], creator=m["creator"], length=m["length"],
        offset=m["received"], created_at=m["created_at"], expires_at=m["expires_at"],
        metadata=dict(m["metadata"]), asset_id=m["asset_id"],
    )


class SqlUploadRepository:
    """UploadRepository on one connection (the caller's transaction)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, upload: Upload) -> None:
        await self._conn.execute(sa.insert(uploads).values(
            id=upload.id, pool=upload.pool, creator=upload.creator, length=upload.length,
            received=upload.offset, metadata=upload.metadata, asset_id=upload.asset_id,
            created_at=upload.created_at, expires_at=upload.expires_at))

    async def get(self, upload_id: UUID) -> Upload:
        """Raises UploadNotFound."""
        row = (await self._conn.execute(
            sa.select(uploads).where(uploads.c.id == upload_id))).first()
        if row is None:
            raise UploadNotFound(f"no upload {upload_id}")
        return from_row(row)

    async def advance(self, upload_id: UUID, part: UploadPart, *, expires_at: datetime) -> bool:
        # The UPDATE is the compare-and-set: PostgreSQL re-checks `received` after waiting
        # for a concurrent writer's row lock, SQLite runs write transactions one at a time.
        moved = await self._conn.execute(
            sa.update(uploads)
            .where(uploads.c.id == upload_id, uploads.c.received == part.offset,
                   uploads.c.asset_id.is_(None),
                   uploads.c.length >= part.offset + part.size)
            .values(received=part.offset + part.size, expires_at=expires_at))
        if moved.rowcount != 1:
            return False
        await self._conn.execute(sa.insert(upload_parts).values(
            upload_id=upload_id, start=part.offset, size=part.size, blob_key=part.blob_key))
        return True

    async def parts(self, upload_id: UUID) -> builtins.list[UploadPart]:
        rows = await self._conn.execute(
            sa.select(upload_parts).where(upload_parts.c.upload_id == upload_id)
            .order_by(upload_parts.c.start))
        return [UploadPart(offset=r.start, size=r.size, blob_key=r.blob_key) for r in rows]

    async def finish(self, upload_id: UUID, asset_id: UUID, *, expires_at: datetime) -> None:
        await self._conn.execute(
            sa.update(uploads).where(uploads.c.id == upload_id)
            .values(asset_id=asset_id, expires_at=expires_at))
        await self._conn.execute(
            sa.delete(upload_parts).where(upload_parts.c.upload_id == upload_id))

    async def delete(self, upload_id: UUID) -> bool:
        # Parts explicitly, not only by the cascade: that needs SQLite's foreign keys on.
        await self._conn.execute(
            sa.delete(upload_parts).where(upload_parts.c.upload_id == upload_id))
        result = await self._conn.execute(sa.delete(uploads).where(uploads.c.id == upload_id))
        return result.rowcount > 0

    async def expired(self, now: datetime, *, limit: int) -> builtins.list[Upload]:
        rows = await self._conn.execute(
            sa.select(uploads).where(uploads.c.expires_at <= now)
            .order_by(uploads.c.expires_at, uploads.c.id).limit(limit))
        return [from_row(r) for r in rows]

    async def existing(self, upload_ids: Sequence[UUID]) -> set[UUID]:
        if not upload_ids:
            return set()
        rows = await self._conn.execute(
            sa.select(uploads.c.id).where(uploads.c.id.in_(list(upload_ids))))
        return {r.id for r in rows}
