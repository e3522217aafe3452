"""gc and verify on a real SQLite database and a real local blob directory: a version's
other renditions (format auto, srcset widths) are stored under keys derived from its own,
and a key reserved by a render in progress covers the renditions it is writing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from assetry.blobs import open_blob_store
from assetry.db import migrate
from assetry.db.engine import SqlDatabase
from assetry.domain.converter import VersionSpec
from assetry.domain.model import Asset, AssetType, Encoding, Version, VersionStatus
from assetry.services import keys
from assetry.services.maintenance import MaintenanceService

AT = datetime(2026, 12, 1, tzinfo=UTC)


def encoding(key: str, fmt: str) -> Encoding:
    return Encoding(format=fmt, srcset_width=None, blob_key=key, mime_type=f"image/{fmt}",
                    width=10, height=10, size=3, sha256="a" * 64)


async def test_renditions_of_a_reserved_key_are_not_orphans(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'assetry.db'}"
    migrate.upgrade(url)
    blobs = open_blob_store(f"file://{tmp_path / 'blobs'}")
    asset_id = uuid4()
    original = keys.original_key(asset_id)
    spec = VersionSpec(name="hero", width=10, height=10)
    ready = Version(id=uuid4(), asset_id=asset_id, name="ready", spec=spec,
                    status=VersionStatus.READY, created_at=AT)
    ready_key = keys.version_key(asset_id, ready.id)
    ready = replace(ready, blob_key=ready_key, mime_type="image/jpeg",
                    encodings=(encoding(keys.encoding_key(ready_key, "avif"), "avif"),))
    pending = Version(id=uuid4(), asset_id=asset_id, name="hero", spec=spec,
                      status=VersionStatus.PENDING, created_at=AT)
    reserved = keys.version_key(asset_id, pending.id)
    abandoned = keys.version_key(asset_id, uuid4())  # a render taken over long ago
    async with SqlDatabase.open(url) as db:
        async with db.transaction() as tx:
            await tx.assets.add(Asset(
                id=asset_id, pool="default", type=AssetType.IMAGE, filename="a.jpg",
                mime_type="image/jpeg", size=3, sha256="b" * 64, blob_key=original,
                gallery=str(asset_id), converter="default", created_at=AT, modified_at=AT,
                width=10, height=10, versions=(ready, pending)))
            assert await tx.assets.reserve_version_key(pending.id, previous=None,
                                                       key=reserved)
        # A render is writing the reserved version's renditions; one killed earlier left
        # its own, under a key no row names any more.
        writing = [reserved, keys.encoding_key(reserved, "avif"),
                   keys.encoding_key(reserved, "640w.webp")]
        left = [abandoned, keys.encoding_key(abandoned, "avif")]
        for key in [original, ready_key, *(e.blob_key for e in ready.encodings), *writing,
                    *left]:
            await blobs.put_bytes(key, b"abc")
        report = await MaintenanceService(db, blobs).scan()
    assert report.orphans == sorted(left)
    assert report.missing == []
