"""Signed on-the-fly transforms: GET /api/assets/{id}/render renders any spec within limits,
for pools that enable them, and keeps the result as an ad-hoc version (a "rendition").

The first request renders (concurrent ones in the process share that render, through
VersionService's single-flight); later ones read the stored bytes. Stored results count
against a per-pool cap that `assetry gc` enforces, least recently used first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from uuid import UUID

from assetry.domain import transforms
from assetry.domain.model import Actor, Asset, AssetType, Pool, Role, Version, VersionStatus
from assetry.domain.negotiation import Wanted, choose
from assetry.domain.ports import BlobStore, Database
from assetry.errors import Forbidden, NotAnImage, RenderFailed, TransformsDisabled
from assetry.services import access
from assetry.services.cache import AssetCache, load_for_delivery
from assetry.services.content import Content
from assetry.services.disposal import dispose
from assetry.services.ingest import new_id
from assetry.services.metrics import Metrics
from assetry.services.signing import UrlSigner
from assetry.services.versions import VersionService

#: a stored result's last use is written at most this often (a read is then no write)
TOUCH_EVERY = timedelta(minutes=1)


class TransformService:
    def __init__(self, db: Database, blobs: BlobStore, versions: VersionService,
                 signer: UrlSigner, metrics: Metrics, cache: AssetCache, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._blobs = blobs
        self._versions = versions
        self._signer = signer
        self._metrics = metrics
        self._cache = cache
        self._clock = clock

    def url(self, asset_id: UUID, params: Mapping[str, str | int | None]) -> str:
        """The signed render URL of these parameters; see `sign`."""
        return self.sign(self._signer, asset_id, params)

    @staticmethod
    def sign(signer: UrlSigner, asset_id: UUID, params: Mapping[str, str | int | None]
             ) -> str:
        """The signed render URL (path and query) of these parameters: w, h, fit,
        gravity, format, q, and optionally exp; None values are left out. Raises
        InvalidTransform for a spec that the service would refuse."""
        pairs = [(k, str(v)) for k, v in params.items() if v is not None]
        transforms.parse(pairs)
        transforms.expiry(pairs)
        sig = signer.mac(transforms.signature_base(asset_id, pairs))
        return (f"/api/assets/{asset_id}/render?{transforms.canonical_query(pairs)}"
                f"&{transforms.SIGNATURE}={sig}")

    async def content(self, asset_id: UUID, params: Iterable[tuple[str, str]], actor: Actor,
                      *, accept: str | None = None) -> Content:
        """The bytes a render URL answers: stored, or rendered now and stored. A
        `format=auto` result is stored as AVIF, WebP and a fallback, and `accept` picks
        one as for a version (domain/negotiation.py).

        Checked in this order: AssetNotFound, TransformsDisabled (the pool serves none;
        404 too), Forbidden (no or a wrong `sig`, or past `exp`), InvalidTransform (the
        spec), then reading as a viewer would (the signature stands in for the token;
        a token that is sent applies instead): Hidden. Also NotAnImage, RenderFailed,
        Overloaded."""
        pairs = list(params)
        asset, pool, _ = await load_for_delivery(self._db, self._cache, asset_id)
        if pool.transforms != "signed":
            raise TransformsDisabled(f"pool {pool.name!r} does not serve transforms")
        sigs = [v for k, v in pairs if k == transforms.SIGNATURE]
        self._signer.check(transforms.signature_base(asset_id, pairs),
                           sigs[0] if len(sigs) == 1 else None)
        expires = transforms.expiry(pairs)
        if expires is not None and expires < self._clock():
            raise Forbidden("the signed URL has expired")
        wanted = transforms.parse(pairs)
        reader = actor if actor.role is not None else Actor(name=None, role=Role.VIEWER)
        access.read_pool(reader, pool)
        access.check_visible(asset, actor)
        if asset.type is not AssetType.IMAGE:
            raise NotAnImage("only images can be transformed; this asset is a file")
        stored = asset.rendition(wanted.name)
        if stored is not None and stored.status is VersionStatus.READY:
            self._metrics.bump("transforms_stored_served")
            await self._touch(asset, stored)
            return _content(asset, pool, stored, accept)
        return await self._render(asset, pool, wanted, stored, accept)

    async def _render(self, asset: Asset, pool: Pool, wanted: transforms.Transform,
                      stored: Version | None, accept: str | None) -> Content:
        if stored is None:
            at = datetime.fromtimestamp(self._clock(), UTC)
            async with self._db.transaction() as tx:
                await tx.assets.add_rendition(Version(
                    id=new_id(), asset_id=asset.id, name=wanted.name, spec=wanted.spec(),
                    status=VersionStatus.PENDING, created_at=at, used_at=at))
        if stored is None or stored.status is VersionStatus.PENDING:
            self._metrics.bump("transforms_rendered")
            await self._versions.render_version(asset.id, wanted.name)
        async with self._db.transaction(write=False) as tx:
            fresh = (await tx.assets.get(asset.id)).rendition(wanted.name)
        if fresh is None or fresh.status is VersionStatus.PENDING or fresh.blob_key is None:
            if fresh is not None and fresh.status is VersionStatus.FAILED:
                raise RenderFailed(f"the transform could not be rendered: {fresh.error}")
            raise RenderFailed("the transform is not rendered yet; try again")
        return _content(asset, pool, fresh, accept)

    async def _touch(self, asset: Asset, stored: Version) -> None:
        at = datetime.fromtimestamp(self._clock(), UTC)
        if stored.used_at is not None and at - stored.used_at < TOUCH_EVERY:
            return
        async with self._db.transaction() as tx:
            await tx.assets.touch_rendition(stored.id, at)
        self._cache.forget(asset.id)

    async def trim(self, keep: int, *, dry_run: bool = False) -> list[str]:
        """Keep the `keep` most recently used stored results of each pool; delete the
        others (rows, then blobs) and return their blob keys (with `dry_run`, only
        return them)."""
        try:
            async with self._db.transaction() as tx:
                removed = await tx.assets.trim_renditions(keep)
                if dry_run:
                    raise _RollBack(removed)
        except _RollBack as undone:
            removed = undone.removed
        keys = [k for v in removed for k in v.blob_keys]
        if not dry_run:
            for asset_id in {v.asset_id for v in removed}:
                self._cache.forget(asset_id)
            await dispose(self._blobs, keys)
        return sorted(keys)


class _RollBack(Exception):
    """Undoes a dry run's deletions (control flow, never seen outside `trim`)."""

    def __init__(self, removed: list[Version]) -> None:
        super().__init__()
        self.removed = removed


def _content(asset: Asset, pool: Pool, rendition: Version, accept: str | None) -> Content:
    assert rendition.blob_key is not None
    choice = choose(rendition, Wanted(accept=accept))
    chosen = choice.rendition
    stem = asset.filename.rsplit(".", 1)[0] or "image"
    ext = "jpg" if chosen.format == "jpeg" else chosen.format
    return Content(
        key=chosen.blob_key, size=chosen.size, sha256=chosen.sha256,
        mime_type=chosen.mime_type, filename=f"{stem}-{chosen.width}x{chosen.height}.{ext}",
        asset_type=AssetType.IMAGE, modified_at=rendition.created_at,
        public=pool.public and not asset.hidden,
        vary="Accept" if choice.negotiated else None, pin=choice.pin)
