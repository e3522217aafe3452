"""Maintenance: find blobs no row points at (gc) and rows whose blobs are missing (verify)."""

from __future__ import annotations

from dataclasses import dataclass

from assetry.domain.ports import BlobStore, Database
from assetry.services import keys


@dataclass(frozen=True, slots=True)
class Report:
    orphans: list[str]  #: blob keys no row points at
    missing: list[str]  #: blob keys rows point at that the store does not have


class MaintenanceService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    async def scan(self) -> Report:
        """Compare every referenced key with every stored key under originals/ and versions/.

        A key a pending version reserved is neither an orphan (a render is writing it, or
        the next render of that version deletes what a killed one left) nor missing (its
        bytes need not exist yet)."""
        # Rows whose bytes must exist before the listing, rows that may point at a key
        # after it: a blob written meanwhile is then neither missing nor an orphan.
        async with self._db.transaction(write=False) as tx:
            required = {k async for k in tx.assets.blob_keys(reserved=False)}
        stored: set[str] = set()
        for prefix in ("originals/", "versions/"):
            stored |= {k async for k in self._blobs.keys(prefix)}
        async with self._db.transaction(write=False) as tx:
            referenced = {k async for k in tx.assets.blob_keys()}
        # A rendition derived from a reserved key is being written with it, not an orphan.
        orphans = [k for k in stored - referenced if keys.rendition_owner(k) not in referenced]
        return Report(orphans=sorted(orphans), missing=sorted(required - stored))

    async def gc(self, *, dry_run: bool = False) -> list[str]:
        """Delete orphaned blobs (left by a crash between a row delete and its blob delete).

        Uploads write their blob just before their row commits, so run it when no upload
        is in flight, or accept that it may take such a blob (the upload then fails)."""
        report = await self.scan()
        if not dry_run:
            for key in report.orphans:
                await self._blobs.delete(key)
        return report.orphans
