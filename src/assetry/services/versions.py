"""Versions: render an image's pending versions from one decode, serve, convert, delete.

Rendering is idempotent and safe to run twice or concurrently: each render writes new
blob keys and only a *pending* row can be moved to ready; the loser of a race deletes the
blob it wrote. Inside one process, concurrent callers for the same asset share one render.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from uuid import UUID

from assetry.domain.converter import OutputFormat, override
from assetry.domain.geometry import Point, Size, decode_scale, plan
from assetry.domain.media import FORMAT_MIME, SAME_FORMAT
from assetry.domain.model import Actor, Asset, AssetType, Version, VersionStatus
from assetry.domain.ports import BlobStore, Database, ImageProcessor, RenderRequest
from assetry.errors import (
    AssetNotFound,
    BlobNotFound,
    ConverterNotFound,
    InvalidConverter,
    NotAnImage,
    RenderFailed,
    UndecodableImage,
    VersionNotFound,
)
from assetry.services import access, keys
from assetry.services.cache import AssetCache, load_for_delivery
from assetry.services.content import Content
from assetry.services.cpu import CpuPool
from assetry.services.disposal import dispose
from assetry.services.ingest import new_id, now, pending_versions
from assetry.services.metrics import Metrics

log = logging.getLogger(__name__)


def focal_point(metadata: Mapping[str, Any]) -> Point | None:
    """The asset's `metadata.focal_point` {x, y} in 0..1, if well-formed."""
    raw = metadata.get("focal_point")
    if not isinstance(raw, Mapping):
        return None
    x, y = raw.get("x"), raw.get("y")
    if all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in (x, y)):
        return Point(float(x), float(y))  # type: ignore[arg-type]
    return None


def output_format(version: Version, original_mime: str) -> str:
    if version.spec.format is OutputFormat.SAME:
        return SAME_FORMAT.get(original_mime, "jpeg")
    return version.spec.format.value


class VersionService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        processor: ImageProcessor,
        cpu: CpuPool,
        metrics: Metrics,
        cache: AssetCache,
        *,
        on_enqueued: Any = lambda: None,
    ) -> None:
        self._cache = cache
        self._db = db
        self._blobs = blobs
        self._processor = processor
        self._cpu = cpu
        self._metrics = metrics
        self._on_enqueued = on_enqueued
        self._inflight: dict[UUID, asyncio.Future[None]] = {}

    async def render_pending(self, asset_id: UUID) -> None:
        """Render every pending version of the asset; concurrent calls share one decode.

        A version that cannot be rendered is marked failed with the reason. Raises only
        BackendUnavailable (the caller may retry); a vanished asset is not an error."""
        while (running := self._inflight.get(asset_id)) is not None:
            # Join the render in flight; then look again, since versions may have become
            # pending after it read them (a convert or replace meanwhile). That second look
            # costs one query when nothing is left to do.
            await asyncio.shield(running)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[asset_id] = future
        try:
            await self._render(asset_id)
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._inflight[asset_id]
            if not future.cancelled() and future.exception() is not None:
                future.exception()  # mark retrieved: waiters get it, nobody else must

    async def _render(self, asset_id: UUID) -> None:
        try:
            async with self._db.transaction(write=False) as tx:
                asset = await tx.assets.get(asset_id)
        except AssetNotFound:
            return
        pending = [v for v in asset.versions if v.status is VersionStatus.PENDING]
        if not pending:
            return
        try:
            data = await self._blobs.read(asset.blob_key)
        except BlobNotFound:
            await self._fail(pending, "the original's bytes are missing from the blob store")
            return
        assert asset.width is not None and asset.height is not None
        source, focal = Size(asset.width, asset.height), focal_point(asset.metadata)
        requests = [
            RenderRequest(version_id=v.id, plan=plan(source, v.spec, focal),
                          format=output_format(v, asset.mime_type), quality=v.spec.quality)
            for v in pending
        ]
        started = time.perf_counter()
        try:
            rendered = await self._cpu.run(
                self._processor.render, data, asset.mime_type, requests,
                decode_scale([r.plan for r in requests]),
            )
        except (UndecodableImage, RenderFailed) as exc:
            log.warning("render of asset %s failed: %s", asset_id, exc)
            await self._fail(pending, exc.message)
            return
        finally:
            self._metrics.render_seconds += time.perf_counter() - started
        self._metrics.bump("renders")
        for out in rendered:
            key = keys.version_key(asset.id, out.version_id)
            await self._blobs.put_bytes(key, out.data)
            facts = {"width": out.width, "height": out.height, "mime_type": out.mime_type,
                     "size": len(out.data), "sha256": _sha256(out.data)}
            async with self._db.transaction() as tx:
                won = await tx.assets.finish_version(
                    out.version_id, status=VersionStatus.READY, blob_key=key, facts=facts
                )
            if not won:  # replaced, deleted, or another worker finished first
                await dispose(self._blobs, [key])
            else:
                self._metrics.bump("versions_rendered")
        self._cache.forget(asset.id)

    async def _fail(self, versions: list[Version], reason: str) -> None:
        async with self._db.transaction() as tx:
            for v in versions:
                await tx.assets.finish_version(v.id, status=VersionStatus.FAILED, error=reason)
        for v in versions:
            self._cache.forget(v.asset_id)
        self._metrics.bump("versions_failed", len(versions))

    async def content(self, asset_id: UUID, name: str, actor: Actor) -> Content:
        """What GET .../versions/{name} serves; a pending version is rendered first.

        Raises AssetNotFound, Unauthenticated, Forbidden, Hidden, VersionNotFound,
        RenderFailed (a failed render)."""
        asset, pool = await load_for_delivery(self._db, self._cache, asset_id)
        access.read_pool(actor, pool)
        access.check_visible(asset, actor)
        version = asset.version(name)
        if version is None:
            raise VersionNotFound(f"asset {asset_id} has no version {name!r}")
        if version.status is VersionStatus.PENDING:
            self._metrics.bump("renders_on_demand")
            await self.render_pending(asset_id)
            async with self._db.transaction(write=False) as tx:
                asset = await tx.assets.get(asset_id)
            version = asset.version(name)
            if version is None:
                raise VersionNotFound(f"asset {asset_id} has no version {name!r}")
            if version.status is VersionStatus.PENDING:
                # Replaced while we rendered: the newer version is pending; render it too.
                await self.render_pending(asset_id)
                async with self._db.transaction(write=False) as tx:
                    version = (await tx.assets.get(asset_id)).version(name) or version
        if version.status is VersionStatus.FAILED:
            raise RenderFailed(f"version {name!r} could not be rendered: {version.error}")
        if version.status is not VersionStatus.READY or version.blob_key is None:
            raise RenderFailed(f"version {name!r} is not ready yet; try again")
        return Content(
            key=version.blob_key, size=version.size or 0, sha256=version.sha256 or "",
            mime_type=version.mime_type or "application/octet-stream",
            filename=_version_filename(asset, version), asset_type=AssetType.IMAGE,
            modified_at=version.created_at, public=pool.public and not asset.hidden,
        )

    async def convert(
        self, asset_id: UUID, converter_name: str | None, settings: Any, actor: Actor
    ) -> Asset:
        """(Re)make the image's versions with a converter (default: the asset's), with
        per-call `settings` overriding its stored specs for this call only. Versions of the
        same names are replaced (old blobs deleted after commit); others are kept.

        Raises AssetNotFound, Hidden, NotAnImage, InvalidConverter."""
        async with self._db.transaction(write=False) as tx:
            asset = await tx.assets.get(asset_id)
        access.change_asset(actor, asset)
        access.check_visible(asset, actor)
        if asset.type is not AssetType.IMAGE:
            raise NotAnImage("only images have versions; this asset is a file")
        name = converter_name or asset.converter or "default"
        async with self._db.transaction(write=False) as tx:
            try:
                stored = await tx.converters.get(name)
            except ConverterNotFound:
                raise InvalidConverter(f"no converter named {name!r}", field="converter") from None
        converter = override(stored, settings)
        at = now()
        fresh = pending_versions(asset.id, converter, at)
        names = {v.name for v in fresh}
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            kept = [v for v in asset.versions if v.name not in names]
            old = await tx.assets.set_versions(asset.id, [*kept, *fresh])
            updated = replace(asset, converter=converter.name, modified_by=actor.name,
                              modified_at=at)
            await tx.assets.update(updated)
            await tx.jobs.enqueue("render", {"asset_id": str(asset.id)})
            result = await tx.assets.get(asset.id)
        self._cache.forget(asset.id)
        await dispose(self._blobs, [v.blob_key for v in old if v.name in names])
        self._on_enqueued()
        return result

    async def delete(self, asset_id: UUID, name: str, actor: Actor) -> Asset:
        """Remove one version (row, then blob). Raises AssetNotFound, Hidden,
        VersionNotFound; the original is not a version and cannot be removed this way."""
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            access.change_asset(actor, asset)
            access.check_visible(asset, actor)
            removed = await tx.assets.delete_version(asset_id, name)
            await tx.assets.update(replace(asset, modified_by=actor.name, modified_at=now()))
            result = await tx.assets.get(asset_id)
        self._cache.forget(asset_id)
        await dispose(self._blobs, [removed.blob_key])
        return result

    async def reset(self, asset_id: UUID) -> None:
        """Mark every version pending again with fresh ids (for `assetry regenerate`)."""
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            versions = [Version(id=new_id(), asset_id=asset.id, name=v.name, spec=v.spec,
                                status=VersionStatus.PENDING, created_at=now())
                        for v in asset.versions]
            old = await tx.assets.set_versions(asset.id, versions)
            await tx.jobs.enqueue("render", {"asset_id": str(asset.id)})
        self._cache.forget(asset_id)
        await dispose(self._blobs, [v.blob_key for v in old])
        self._on_enqueued()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version_filename(asset: Asset, version: Version) -> str:
    stem = asset.filename.rsplit(".", 1)[0] or "image"
    fmt = next((k for k, v in FORMAT_MIME.items() if v == version.mime_type), "bin")
    return f"{stem}-{version.name}.{'jpg' if fmt == 'jpeg' else fmt}"
