"""Versions: render an image's pending versions from one decode, serve, convert, delete.

A version is rendered once however many ask for it at the same time: callers in one
process share one render, and across processes (PostgreSQL) a render lock on the version
keeps the others waiting until it is done; they then read the finished version. Should
two renders still meet (SQLite processes, a lost lock), rendering stays idempotent: each
render writes new blob keys and only a *pending* row that still names the render's
reserved key can be moved to ready; the loser deletes the blob it wrote. A background
render makes every pending version from one decode; a GET waiting on a version makes only
that one, at the scale it needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

from assetry.domain.converter import override
from assetry.domain.geometry import Size
from assetry.domain.model import Actor, Asset, AssetType, Version, VersionStatus
from assetry.domain.negotiation import Wanted, choose
from assetry.domain.ports import BlobStore, Database, RenderLocks
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
from assetry.services.content import Content, rendition_content
from assetry.services.cpu import Lane
from assetry.services.disposal import dispose
from assetry.services.ingest import new_id, now, pending_versions
from assetry.services.metrics import Metrics
from assetry.services.overlays import check_overlays
from assetry.services.rendering import Renderer

log = logging.getLogger(__name__)

#: how many finished versions a process remembers (see VersionService._finished)
_FINISHED_KEPT = 1024


class VersionService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        renderer: Renderer,
        metrics: Metrics,
        cache: AssetCache,
        locks: RenderLocks,
        *,
        scratch: Path,
        on_enqueued: Any = lambda: None,
    ) -> None:
        self._cache = cache
        self._locks = locks
        self._db = db
        self._blobs = blobs
        self._renderer = renderer
        self._metrics = metrics
        self._scratch = scratch
        self._on_enqueued = on_enqueued
        #: renders in flight in this process, by (asset, version name)
        self._inflight: dict[tuple[UUID, str], asyncio.Future[None]] = {}
        #: versions this process finished lately, by id: a caller that read a version as
        #: pending just before its render ended must not render it again
        self._finished: OrderedDict[UUID, Version] = OrderedDict()

    async def render_pending(self, asset_id: UUID, *, lane: Lane = Lane.BACKGROUND) -> None:
        """Render every pending version of the asset from one decode; versions another
        caller is already rendering in this process are joined, not rendered twice.

        A version that cannot be rendered is marked failed with the reason. Raises only
        BackendUnavailable (the caller may retry) or Overloaded (ON_DEMAND lane); a
        vanished asset is not an error."""
        tried: set[UUID] = set()
        while True:
            # Look again after every pass: versions may have become pending meanwhile (a
            # convert or replace); the look costs one query when nothing is left to do.
            if (asset := await self._current(asset_id)) is None:
                return
            pending = [v for v in asset.versions
                       if v.status is VersionStatus.PENDING and v.id not in tried]
            if not pending:
                return
            tried.update(v.id for v in pending)
            await self._render_shared(asset, pending, lane, fresh=True)

    async def render_version(self, asset_id: UUID, name: str,
                             asset: Asset | None = None, *, fresh: bool = False
                             ) -> Version | None:
        """Render one pending version for a client waiting on it (ON_DEMAND lane), from a
        decode at the scale that version alone needs: a cold GET costs what that version
        costs. Concurrent callers share one render. `asset` saves a lookup when the caller
        has just read it (a stale copy only costs a wasted reservation: reserving and
        finishing are compare-and-sets); `fresh` says it came from the database just now,
        not from a cache, so that the render need not read it again. Returns the version
        as stored by this call's render, or None when another render made it (read it
        again). Raises Overloaded, BackendUnavailable."""
        if asset is None:
            if (asset := await self._current(asset_id)) is None:
                return None
            fresh = True
        # A transform's stored result (services/transforms.py) shares the single-flight.
        version = asset.version(name) or asset.rendition(name)
        if version is None or version.status is not VersionStatus.PENDING:
            return None
        return (await self._render_shared(asset, [version], Lane.ON_DEMAND, fresh=fresh)
                ).get(version.id)

    async def _render_shared(self, asset: Asset, versions: list[Version], lane: Lane, *,
                             fresh: bool) -> dict[UUID, Version]:
        """Render `versions` of `asset` in one decode, except those already being rendered
        in this process, which are joined; return once every one of them is finished, with
        the versions this call's render stored, by id. `fresh`: `asset` was read from the
        database just now."""
        stored = {v.id: self._finished[v.id] for v in versions if v.id in self._finished}
        versions = [v for v in versions if v.id not in stored]
        joined = [self._inflight[(asset.id, v.name)] for v in versions
                  if (asset.id, v.name) in self._inflight]
        mine = [v for v in versions if (asset.id, v.name) not in self._inflight]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for v in mine:
            self._inflight[(asset.id, v.name)] = future
        try:
            if mine:
                stored |= await self._render_locked(asset.id, [v.id for v in mine], lane,
                                                    asset if fresh else None)
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            for v in mine:
                del self._inflight[(asset.id, v.name)]
            if not future.cancelled() and future.exception() is not None:
                future.exception()  # mark retrieved: waiters get it, nobody else must
        for other in joined:
            await asyncio.shield(other)
        return stored

    async def _render_locked(self, asset_id: UUID, version_ids: list[UUID], lane: Lane,
                             read: Asset | None = None) -> dict[UUID, Version]:
        """Render the versions under their render locks: at once those no other process
        is rendering, then, once the others let go of theirs, whichever are still pending
        (normally none: they were finished while this process waited). `read`: the asset
        as the caller has just read it from the database, good for the locks taken at
        once. Returns the versions this call stored, by id."""
        stored: dict[UUID, Version] = {}
        async with self._locks.hold(version_ids, wait=False) as held:
            if held:
                stored |= await self._render_if_pending(asset_id, held, lane, read)
        if rest := [v for v in version_ids if v not in held]:
            async with self._locks.hold(rest, wait=True) as held:
                stored |= await self._render_if_pending(asset_id, held, lane)
        return stored

    async def _render_if_pending(self, asset_id: UUID, version_ids: frozenset[UUID],
                                 lane: Lane, read: Asset | None = None
                                 ) -> dict[UUID, Version]:
        # Read again under the lock, unless the caller has just read the asset from the
        # database and took the lock without waiting: another process may have finished
        # the versions meanwhile, but reserving them is a compare-and-set on the row
        # (pending, naming the key read), so such a copy costs at most a reservation
        # that fails. A replace or reset gives the versions new ids. A cold GET read the
        # asset twice in a row before this (2-3 ms of its ~110).
        if (asset := read or await self._current(asset_id)) is None:
            return {}
        pending = [v for v in (*asset.versions, *asset.renditions)
                   if v.id in version_ids and v.status is VersionStatus.PENDING]
        return {v.id: v for v in await self._render(asset, pending, lane)} if pending else {}

    async def _current(self, asset_id: UUID) -> Asset | None:
        """The asset as it is now, or None when it is gone."""
        try:
            async with self._db.transaction(write=False) as tx:
                return await tx.assets.get(asset_id)
        except AssetNotFound:
            return None

    async def _reserve(self, pending: list[Version]) -> list[Version]:
        """The versions with the blob keys their render will write, recorded on their rows
        before any byte is: a render killed between writing and committing then leaves a
        key its row still names (no orphan for gc), and the next render deletes it, as
        this one does. Versions finished or taken over meanwhile are left out."""
        planned = [replace(v, blob_key=keys.version_key(v.asset_id, v.id)) for v in pending]
        reserved: list[Version] = []
        abandoned: list[str | None] = []
        async with self._db.transaction() as tx:
            for old, new in zip(pending, planned, strict=True):
                assert new.blob_key is not None
                if await tx.assets.reserve_version_key(old.id, previous=old.blob_key,
                                                       key=new.blob_key):
                    reserved.append(new)
                    abandoned.append(old.blob_key)
        # Only now: a render still writing one of these keys (its process thought dead,
        # or on SQLite not locked out) can no longer finish with it, and deletes it itself.
        await dispose(self._blobs, abandoned)
        return reserved

    async def _render(self, asset: Asset, pending: list[Version], lane: Lane
                      ) -> list[Version]:
        """Render and finish `pending`; return the versions whose finish won."""
        assert asset.width is not None and asset.height is not None
        pending = await self._reserve(pending)
        if not pending:
            return []
        try:
            async with self._blobs.local_file(asset.blob_key, self._scratch) as path:
                finished: list[Version] = await self._renderer.render(
                    path, asset.mime_type, Size(asset.width, asset.height), asset.metadata,
                    pending, lane=lane, sources=asset.versions)
        except BlobNotFound:
            finished = [replace(v, status=VersionStatus.FAILED,
                                error="the original's bytes are missing from the blob store")
                        for v in pending]
        except (UndecodableImage, RenderFailed) as exc:
            log.warning("render of asset %s failed: %s", asset.id, exc)
            finished = [replace(v, status=VersionStatus.FAILED, error=exc.message)
                        for v in pending]
        lost: list[Version] = []
        won: list[Version] = []
        # Should this fail, the blobs stay: the rows still name them as reserved (the next
        # render deletes them), or the commit went through after all and they are in use.
        async with self._db.transaction() as tx:
            for reserved, made in zip(pending, finished, strict=True):
                ready = made.status is VersionStatus.READY
                # a failure wrote nothing
                v = made if ready else replace(made, blob_key=None, encodings=())
                if await tx.assets.finish_version(
                        v.id, status=v.status, blob_key=v.blob_key, error=v.error,
                        facts=_facts(v) if ready else None, reserved=reserved.blob_key,
                        encodings=v.encodings):
                    won.append(v)
                elif ready:  # replaced, deleted, or taken over meanwhile
                    lost.append(v)
        await dispose(self._blobs, [k for v in lost for k in v.blob_keys])
        self._cache.forget(asset.id)
        for v in won:
            self._finished[v.id] = v
        while len(self._finished) > _FINISHED_KEPT:
            self._finished.popitem(last=False)
        self._metrics.bump("versions_rendered",
                           sum(v.status is VersionStatus.READY for v in won))
        self._metrics.bump("versions_failed",
                           sum(v.status is VersionStatus.FAILED for v in won))
        return won

    async def content(self, asset_id: UUID, name: str, actor: Actor,
                      wanted: Wanted = Wanted()) -> Content:
        """What GET .../versions/{name} serves; a pending version is rendered first;
        `wanted` picks among its renditions (domain/negotiation.py).

        Raises AssetNotFound, Unauthenticated, Forbidden, Hidden, VersionNotFound (also
        for a width or format it is not stored in), Invalid, RenderFailed (a failed
        render)."""
        asset, pool, fresh = await load_for_delivery(self._db, self._cache, asset_id)
        access.read_pool(actor, pool)
        access.check_visible(asset, actor)
        version = asset.version(name)
        if version is None:
            raise VersionNotFound(f"asset {asset_id} has no version {name!r}")
        for _ in range(2):
            if version.status is not VersionStatus.PENDING:
                break
            # A second pass covers a replace or convert that made a newer pending version
            # of this name while the first render ran.
            self._metrics.bump("renders_on_demand")
            made = await self.render_version(asset_id, name, asset, fresh=fresh)
            if made is not None:  # ours: no need to read it back
                version = made
                continue
            async with self._db.transaction(write=False) as tx:
                asset = await tx.assets.get(asset_id)
            fresh = True
            version = asset.version(name)
            if version is None:
                raise VersionNotFound(f"asset {asset_id} has no version {name!r}")
        if version.status is VersionStatus.FAILED:
            raise RenderFailed(f"version {name!r} could not be rendered: {version.error}")
        if version.status is not VersionStatus.READY or version.blob_key is None:
            raise RenderFailed(f"version {name!r} is not ready yet; try again")
        return rendition_content(asset, version, choose(version, wanted),
                                 public=pool.public and not asset.hidden)

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
        if converter != stored:  # per-call settings may name overlays the stored one did not
            async with self._db.transaction(write=False) as tx:
                await check_overlays(tx, converter)
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
        await dispose(self._blobs, [k for v in old if v.name in names for k in v.blob_keys])
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
        await dispose(self._blobs, removed.blob_keys)
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
        await dispose(self._blobs, [k for v in old for k in v.blob_keys])
        self._on_enqueued()


def _facts(version: Version) -> dict[str, Any]:
    return {"width": version.width, "height": version.height, "mime_type": version.mime_type,
            "size": version.size, "sha256": version.sha256}
