"""Assets: read, list, patch, attach, hide and delete; and what their bytes are."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from uuid import UUID

from assetry.domain.media import sanitize_filename
from assetry.domain.model import Actor, Asset, AssetFilter, AssetType, Page, Pool
from assetry.domain.ports import BlobStore, Database
from assetry.domain.rows import ListQuery, Row, RowPage, RowTable
from assetry.errors import AssetNotFound, Invalid
from assetry.services import access
from assetry.services.cache import AssetCache, load_for_delivery
from assetry.services.content import Content
from assetry.services.disposal import dispose
from assetry.services.ingest import now, parse_gallery, parse_metadata, parse_resource
from assetry.services.metrics import Metrics

_PATCH_FIELDS = {"filename", "metadata", "gallery", "hidden"}
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class AssetService:
    """Reading and changing assets other than their bytes (see IngestService for those)."""

    def __init__(self, db: Database, blobs: BlobStore, metrics: Metrics, cache: AssetCache
                 ) -> None:
        self._db = db
        self._blobs = blobs
        self._metrics = metrics
        self._cache = cache

    async def _readable(self, asset_id: UUID, actor: Actor) -> tuple[Asset, Pool]:
        async with self._db.transaction(write=False) as tx:
            asset = await tx.assets.get(asset_id)
            pool = await tx.pools.get(asset.pool)
        access.read_pool(actor, pool)
        access.check_visible(asset, actor)
        return asset, pool

    async def get(self, asset_id: UUID, actor: Actor) -> Asset:
        """Raises AssetNotFound, Unauthenticated, Forbidden, Hidden."""
        return (await self._readable(asset_id, actor))[0]

    async def locate(self, item_id: UUID, actor: Actor) -> Row:
        """The asset with this id, or the asset and version whose version id this is
        (the original image service gave every version a row id of its own). Raises
        AssetNotFound, Unauthenticated, Forbidden, Hidden."""
        async with self._db.transaction(write=False) as tx:
            try:
                asset = await tx.assets.get(item_id)
            except AssetNotFound:
                owner = await tx.assets.version_owner(item_id)
                if owner is None:
                    raise AssetNotFound(f"no asset or version with id {item_id}") from None
                asset = await tx.assets.get(owner)
            pool = await tx.pools.get(asset.pool)
        access.read_pool(actor, pool)
        access.check_visible(asset, actor)
        if asset.id == item_id:
            return Row(asset)
        version = next((v for v in asset.versions if v.id == item_id), None)
        if version is None:  # replaced or deleted since version_owner found it
            raise AssetNotFound(f"no asset or version with id {item_id}")
        return Row(asset, version)

    async def rows(self, table: RowTable, query: ListQuery, actor: Actor) -> RowPage:
        """A page of the original image service's table view (domain/rows.py) across
        every pool `actor` may read; hidden assets and their versions only for those who
        may see them. Raises Invalid."""
        async with self._db.transaction(write=False) as tx:
            pools = access.readable_pools(actor, await tx.pools.list())
            return await tx.assets.rows(table, query, pools=pools,
                                        include_hidden=actor.sees_hidden)

    async def check_change(self, asset_id: UUID, actor: Actor) -> Asset:
        """The asset, once it is known that `actor` may change it; changes nothing (a
        check before a change of several assets, so a refusal leaves all of them alone).
        Raises AssetNotFound, Unauthenticated, Forbidden, Hidden."""
        async with self._db.transaction(write=False) as tx:
            asset = await tx.assets.get(asset_id)
        access.change_asset(actor, asset)
        access.check_visible(asset, actor)
        return asset

    async def list(
        self,
        pool: str,
        actor: Actor,
        *,
        type: str | None = None,
        gallery: str | None = None,
        attached_to: str | None = None,
        attached: bool | None = None,
        sha256: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Newest first. Hidden assets are left out unless `actor` may see them.
        `sha256` (hex, either case) keeps the assets whose original has that digest.
        Raises PoolNotFound, Invalid, Unauthenticated, Forbidden."""
        if not 1 <= limit <= 500:
            raise Invalid("must be from 1 to 500", field="limit")
        try:
            kind = AssetType(type) if type else None
        except ValueError:
            raise Invalid("must be image or file", field="type") from None
        if sha256 is not None and not _SHA256.fullmatch(sha256):
            raise Invalid("must be a SHA-256: 64 hexadecimal digits", field="sha256")
        where = AssetFilter(
            pool=pool, type=kind, gallery=gallery,
            attached_to=parse_resource(attached_to) if attached_to is not None else None,
            attached=attached, sha256=sha256.lower() if sha256 is not None else None,
            include_hidden=actor.sees_hidden,
        )
        async with self._db.transaction(write=False) as tx:
            access.read_pool(actor, await tx.pools.get(pool))
            return await tx.assets.list(where, limit=limit, cursor=cursor)

    async def content(self, asset_id: UUID, actor: Actor) -> Content:
        """What GET .../content serves. Raises AssetNotFound, Unauthenticated, Forbidden,
        Hidden."""
        asset, pool, _ = await load_for_delivery(self._db, self._cache, asset_id)
        access.read_pool(actor, pool)
        access.check_visible(asset, actor)
        return Content(key=asset.blob_key, size=asset.size, sha256=asset.sha256,
                       mime_type=asset.mime_type, filename=asset.filename,
                       asset_type=asset.type, modified_at=asset.modified_at,
                       public=pool.public and not asset.hidden)

    async def patch(self, asset_id: UUID, body: Mapping[str, Any], actor: Actor) -> Asset:
        """Change filename, metadata, gallery or hidden (moderators only). Raises
        AssetNotFound, Invalid, Unauthenticated, Forbidden, Hidden."""
        unknown = set(body) - _PATCH_FIELDS
        if unknown:
            raise Invalid(f"unknown field(s) {sorted(unknown)}; patchable: "
                          f"{', '.join(sorted(_PATCH_FIELDS))}", field=sorted(unknown)[0])
        changes: dict[str, Any] = {}
        if "filename" in body:
            if not isinstance(body["filename"], str):
                raise Invalid("must be a string", field="filename")
            changes["filename"] = sanitize_filename(body["filename"])
        if "metadata" in body:
            changes["metadata"] = parse_metadata(body["metadata"])
        if "gallery" in body:
            gallery = parse_gallery(body["gallery"]) if body["gallery"] is not None else None
            changes["gallery"] = gallery
        if "hidden" in body:
            if not isinstance(body["hidden"], bool):
                raise Invalid("must be true or false", field="hidden")
            changes["hidden"] = body["hidden"]
            access.moderate(actor)
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            access.change_asset(actor, asset)
            access.check_visible(asset, actor)
            if changes.get("gallery", asset.gallery) is None:
                changes["gallery"] = str(asset.id)  # null resets to the default gallery
            updated = replace(asset, **changes, modified_by=actor.name, modified_at=now())
            await tx.assets.update(updated)
        self._cache.forget(asset_id)
        return updated

    async def delete(self, asset_id: UUID, actor: Actor) -> Asset:
        """Delete the rows, then every blob. Raises AssetNotFound, Unauthenticated,
        Forbidden, Hidden."""
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            access.change_asset(actor, asset)
            access.check_visible(asset, actor)
            await tx.assets.delete(asset_id)
        self._cache.forget(asset_id)
        # Rows first, blobs after: a crash in between leaves blobs nothing points at,
        # which `assetry gc` removes; never a row pointing at a missing blob.
        await dispose(self._blobs, [asset.blob_key,
                                    *(k for v in (*asset.versions, *asset.renditions)
                                      for k in v.blob_keys)])
        self._metrics.bump("assets_deleted")
        return asset

    async def attach(self, asset_id: UUID, resource: Any, actor: Actor) -> Asset:
        """Add a back-reference (idempotent). Raises AssetNotFound, Hidden, Invalid."""
        res = parse_resource(resource)
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            access.change_asset(actor, asset)
            access.check_visible(asset, actor)
            at = now()
            await tx.assets.attach(asset_id, res, at)
            await tx.assets.update(replace(asset, modified_by=actor.name, modified_at=at))
            result = await tx.assets.get(asset_id)
        self._cache.forget(asset_id)
        return result

    async def detach(self, asset_id: UUID, resource: Any, actor: Actor) -> Asset:
        """Remove a back-reference (absent is fine). Raises AssetNotFound, Hidden, Invalid."""
        res = parse_resource(resource)
        async with self._db.transaction() as tx:
            asset = await tx.assets.get(asset_id, for_update=True)
            access.change_asset(actor, asset)
            access.check_visible(asset, actor)
            if await tx.assets.detach(asset_id, res):
                await tx.assets.update(replace(asset, modified_by=actor.name, modified_at=now()))
            result = await tx.assets.get(asset_id)
        self._cache.forget(asset_id)
        return result
