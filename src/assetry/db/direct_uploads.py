"""SqlDirectUploadRepository: announced direct uploads in the direct_uploads table."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db.tables import direct_uploads
from assetry.domain.direct_upload import DirectUpload
from assetry.errors import DirectUploadNotFound


def from_row(row: sa.Row[Any]) -> DirectUpload:
    m = row._mapping
    return DirectUpload(
        id=m["id"], pool=m["pool"], creator=m["creator"], filename=m["filename"],
        size=m["size"], mime_type=m["mime_type"], form=dict(m["form"] or {}),
        blob_key=m["blob_key"], created_at=m["created_at"],
        url_expires_at=m["url_expires_at"], expires_at=m["expires_at"],
        claimed_at=m["claimed_at"])


class SqlDirectUploadRepository:
    """DirectUploadRepository on one connection (the caller's transaction)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, upload: DirectUpload) -> None:
        await self._conn.execute(sa.insert(direct_uploads).values(
            id=upload.id, pool=upload.pool, creator=upload.creator, filename=upload.filename,
            size=upload.size, mime_type=upload.mime_type, form=dict(upload.form),
            blob_key=upload.blob_key, created_at=upload.created_at,
            url_expires_at=upload.url_expires_at, expires_at=upload.expires_at,
            claimed_at=upload.claimed_at))

    async def get(self, upload_id: UUID) -> DirectUpload:
        """Raises DirectUploadNotFound."""
        stmt = sa.select(direct_uploads).where(direct_uploads.c.id == upload_id)
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            raise DirectUploadNotFound(f"no direct upload with id {upload_id}")
        return from_row(row)

    async def claim(self, upload_id: UUID, at: datetime) -> bool:
        """Mark the upload as being completed, only if nobody has and it has not expired
        at `at` (compare-and-set: of two racing completions, one wins)."""
        result = await self._conn.execute(
            sa.update(direct_uploads)
            .where(direct_uploads.c.id == upload_id, direct_uploads.c.claimed_at.is_(None),
                   direct_uploads.c.expires_at > at)
            .values(claimed_at=at))
        return result.rowcount == 1

    async def release(self, upload_id: UUID) -> None:
        """Let the upload be completed again (after a completion that could not finish)."""
        await self._conn.execute(sa.update(direct_uploads)
                                 .where(direct_uploads.c.id == upload_id)
                                 .values(claimed_at=None))

    async def delete(self, upload_id: UUID) -> bool:
        """Remove the upload; False if it was not there."""
        result = await self._conn.execute(
            sa.delete(direct_uploads).where(direct_uploads.c.id == upload_id))
        return result.rowcount == 1

    async def expired(self, now: datetime, *, claimed_before: datetime, limit: int
                      ) -> builtins.list[DirectUpload]:
        """Uploads expired at `now`, the longest expired first; one being completed only
        once its claim is older than `claimed_before` (its completer died)."""
        stmt = (sa.select(direct_uploads)
                .where(direct_uploads.c.expires_at <= now,
                       sa.or_(direct_uploads.c.claimed_at.is_(None),
                              direct_uploads.c.claimed_at < claimed_before))
                .order_by(direct_uploads.c.expires_at, direct_uploads.c.id).limit(limit))
        return [from_row(row) for row in await self._conn.execute(stmt)]

    async def blob_keys(self) -> AsyncIterator[str]:
        """The object key of every upload there is. Iterate it before the transaction
        ends."""
        result = await self._conn.stream(sa.select(direct_uploads.c.blob_key))
        async for key in result.scalars():
            yield key
