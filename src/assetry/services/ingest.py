"""Ingest: staged bytes -> sniffed, checked, rendered, stored -> asset rows.

One path for every entry point (upload, replace, URL import): the same sniffing, type
rules, pixel cap and decode apply whatever brought the bytes in. An image is decoded
exactly once, in the request: the decode that proves it whole (a truncated or corrupt
image is refused with 422 and nothing is stored) is the one its versions are made from,
so an upload answers with its versions ready and no render job is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from assetry.domain.converter import Converter
from assetry.domain.geometry import Size
from assetry.domain.media import IMAGE_TYPES, same_kind, sanitize_filename
from assetry.domain.model import Actor, Asset, AssetType, Pool, Version, VersionStatus
from assetry.domain.ports import (
    BlobStore,
    Database,
    ImageInfo,
    ImageProcessor,
    Spool,
    StagedFile,
    Transaction,
)
from assetry.errors import (
    ConverterNotFound,
    Invalid,
    InvalidConverter,
    TooLarge,
    TypeMismatch,
    UnsupportedType,
)
from assetry.services import access, keys
from assetry.services.cache import AssetCache
from assetry.services.cpu import CpuPool, Lane
from assetry.services.disposal import dispose
from assetry.services.duplicates import oldest_copy
from assetry.services.metrics import Metrics
from assetry.services.rendering import Renderer

GALLERY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_METADATA_BYTES = 64 * 1024
MAX_RESOURCE = 512


@dataclass(frozen=True, slots=True)
class Submission:
    """What a client sent with the bytes (multipart fields or import JSON), unvalidated."""

    filename: str | None = None
    type: str | None = None
    gallery: str | None = None
    converter: str | None = None
    metadata: Any = None  #: a dict, or a JSON string of one
    mime_type: str | None = None
    attach_to: tuple[str, ...] = ()  #: resources to attach the new asset to, atomically


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> UUID:
    """Ids come from a cryptographic random source (uuid4 uses os.urandom)."""
    return uuid.uuid4()


def parse_metadata(raw: Any) -> dict[str, Any]:
    """User metadata: a JSON object (or its text), at most 64 KiB encoded. Raises Invalid."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise Invalid("must be a JSON object", field="metadata") from None
    if not isinstance(raw, dict):
        raise Invalid("must be a JSON object", field="metadata")
    if len(json.dumps(raw)) > MAX_METADATA_BYTES:
        raise Invalid(f"must encode to at most {MAX_METADATA_BYTES} bytes", field="metadata")
    return raw


def parse_resource(raw: Any, field: str = "resource") -> str:
    """An attachment's resource string: 1 to 512 characters. Raises Invalid."""
    if not isinstance(raw, str) or not 1 <= len(raw) <= MAX_RESOURCE:
        raise Invalid(f"must be a string of 1 to {MAX_RESOURCE} characters", field=field)
    return raw


def parse_gallery(raw: Any) -> str | None:
    """A gallery id, or None for "the default". Raises Invalid."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not GALLERY_RE.match(raw):
        raise Invalid("gallery ids are 1-128 of A-Z a-z 0-9 . _ : -", field="gallery")
    return raw


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` read before any byte of the body: the pool, the converter its images
    get by default (None when the pool takes no images or that converter is missing),
    and the size limit. Handed to `create`, it spares the upload a second read of both:
    the upload is stored under the pool's settings as they were when it began."""

    pool: Pool
    converter: Converter | None
    limit: int


def pending_versions(asset_id: UUID, converter: Converter, at: datetime) -> list[Version]:
    return [
        Version(id=new_id(), asset_id=asset_id, name=spec.name, spec=spec,
                status=VersionStatus.PENDING, created_at=at)
        for spec in converter.versions
    ]


class IngestService:
    """Turns staged bytes into stored assets. Blobs are written before the rows that point
    at them; a failure after a blob write removes the blobs again."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        spool: Spool,
        processor: ImageProcessor,
        cpu: CpuPool,
        metrics: Metrics,
        renderer: Renderer,
        *,
        max_pixels: int,
        max_upload_size: int,
        on_enqueued: Callable[[], None] = lambda: None,
        cache: AssetCache | None = None,
    ) -> None:
        self._cache = cache or AssetCache(ttl=0)
        self._db = db
        self._blobs = blobs
        self._spool = spool
        self._processor = processor
        self._cpu = cpu
        self._metrics = metrics
        self._renderer = renderer
        self._max_pixels = max_pixels
        self.max_upload_size = max_upload_size
        self._on_enqueued = on_enqueued

    def limit(self, pool: Pool) -> int:
        """The largest upload this pool takes now: its own limit, never above the global
        cap (which an operator may have lowered after the pool was made)."""
        return min(pool.max_size, self.max_upload_size)

    async def admit(self, pool_name: str, actor: Actor) -> Admission:
        """Check, before any byte is read, that `actor` may add assets to the pool; return
        the pool, its default converter and the size limit (pass it on to `create`).
        Raises Unauthenticated, Forbidden, PoolNotFound."""
        access.create_assets(actor)
        async with self._db.transaction(write=False) as tx:
            pool = await tx.pools.get(pool_name)
            converter = (await _stored_converter(tx, pool.converter)
                         if AssetType.IMAGE in pool.asset_types else None)
        return Admission(pool, converter, self.limit(pool))

    async def admit_replacement(self, asset_id: UUID, actor: Actor) -> int:
        """Check, before any byte is read, that `actor` may replace the asset; return the
        size limit. Raises Unauthenticated, Forbidden, AssetNotFound, Hidden."""
        async with self._db.transaction(write=False) as tx:
            asset = await tx.assets.get(asset_id)
            pool = await tx.pools.get(asset.pool)
        access.change_asset(actor, asset)
        access.check_visible(asset, actor)
        return self.limit(pool)

    async def stage(self, chunks: AsyncIterator[bytes], *, limit: int) -> StagedFile:
        """Stream bytes into the spool, counting and hashing. Raises TooLarge."""
        return await self._spool.receive(chunks, limit=limit)

    def discard(self, staged: StagedFile) -> None:
        self._spool.discard(staged)

    async def _check(
        self, staged: StagedFile, pool: Pool, sub: Submission, *, fixed_type: AssetType | None
    ) -> tuple[AssetType, str, ImageInfo | None]:
        if staged.size > self.limit(pool):
            raise TooLarge(
                f"asset is {staged.size} bytes; this pool accepts at most {self.limit(pool)}",
                limit=self.limit(pool), size=staged.size,
            )
        # Sniffing, the type rules and the header in one trip to a CPU thread.
        return await self._cpu.run(self._identify, staged, pool, sub, fixed_type)

    def _identify(
        self, staged: StagedFile, pool: Pool, sub: Submission, fixed_type: AssetType | None
    ) -> tuple[AssetType, str, ImageInfo | None]:
        """The asset's type, its MIME type from the bytes, and an image's header facts.
        Raises UnsupportedType, Invalid, UndecodableImage, TooManyPixels."""
        sniffed = self._processor.sniff(staged.path)
        if sub.mime_type and not same_kind(sub.mime_type, sniffed):
            raise UnsupportedType(
                f"declared {sub.mime_type!r} but the bytes are {sniffed}", field="mime_type"
            )
        kind = _asset_type(sub.type, sniffed, pool) if fixed_type is None else fixed_type
        if kind not in pool.asset_types:
            raise UnsupportedType(f"pool {pool.name!r} does not accept {kind.value} assets",
                                  field="type")
        if kind is AssetType.FILE:
            return kind, sniffed, None
        if sniffed not in IMAGE_TYPES:
            raise UnsupportedType(
                f"{sniffed} is not one of {', '.join(sorted(IMAGE_TYPES))}", field="file"
            )
        info = self._processor.inspect(staged.path, sniffed, max_pixels=self._max_pixels)
        return kind, sniffed, info

    async def create(
        self, pool: str | Admission, staged: StagedFile, sub: Submission, actor: Actor
    ) -> Asset:
        """Store a new asset from staged bytes (the spool file is consumed) in the pool of
        that name, or in the one `admit` read for this upload.

        Raises PoolNotFound, TooLarge, UnsupportedType (415), UndecodableImage or
        TooManyPixels (422), Invalid, InvalidConverter (field `converter`),
        Unauthenticated, Forbidden."""
        asset, _ = await self._create(pool, staged, sub, actor, copies=False)
        return asset

    async def create_noting_copy(
        self, pool: str | Admission, staged: StagedFile, sub: Submission, actor: Actor
    ) -> tuple[Asset, UUID | None]:
        """`create`, and the id of the oldest asset of the pool that already held these
        bytes and that `actor` may read, or None (see `duplicates.oldest_copy`). It is
        looked up in the transaction that stores the new asset, just before it: no
        transaction of its own. Raises what `create` raises."""
        return await self._create(pool, staged, sub, actor, copies=True)

    async def _admitted(self, pool: str | Admission, sub: Submission
                        ) -> tuple[Pool, Converter | None]:
        """The pool and the converter the submission's images get (None: the pool takes
        no images, or no converter has that name). Read now unless `admit` read them."""
        if isinstance(pool, Admission) and (
                not sub.converter or sub.converter == pool.pool.converter):
            return pool.pool, pool.converter
        async with self._db.transaction(write=False) as tx:
            stored = pool.pool if isinstance(pool, Admission) else await tx.pools.get(pool)
            name = sub.converter or stored.converter
            converter = (await _stored_converter(tx, name)
                         if AssetType.IMAGE in stored.asset_types else None)
        return stored, converter

    async def _create(
        self, pool_ref: str | Admission, staged: StagedFile, sub: Submission, actor: Actor, *,
        copies: bool,
    ) -> tuple[Asset, UUID | None]:
        copy = None
        try:
            access.create_assets(actor)
            pool, stored = await self._admitted(pool_ref, sub)
            metadata = parse_metadata(sub.metadata)
            gallery = parse_gallery(sub.gallery)
            kind, mime, info = await self._check(staged, pool, sub, fixed_type=None)
            asset_id, at = new_id(), now()
            key = keys.original_key(asset_id)
            converter = (_named(stored, sub.converter or pool.converter)
                         if kind is AssetType.IMAGE else None)
            versions: list[Version] = []
            placeholder = None
            # The original goes to the blob store while the image renders: it is stored
            # before the rows either way, and the upload's answer need not wait for both
            # one after the other.
            original = asyncio.ensure_future(self._blobs.put_file(key, staged.path))
            try:
                if converter is not None:
                    assert info is not None
                    # The one decode: it proves the image whole, makes every version and
                    # the placeholders.
                    versions = made = await self._renderer.render(
                        staged.path, mime, Size(info.width, info.height), metadata,
                        pending_versions(asset_id, converter, at), lane=Lane.INGEST,
                        placeholder=True)
                    placeholder = made.placeholder
                asset = Asset(
                    id=asset_id, pool=pool.name, type=kind,
                    filename=sanitize_filename(sub.filename),
                    mime_type=mime, size=staged.size, sha256=staged.sha256, blob_key=key,
                    gallery=gallery or str(asset_id),
                    converter=converter.name if converter else None,
                    created_at=at, modified_at=at,
                    width=info.width if info else None, height=info.height if info else None,
                    frames=info.frames if info else 1,
                    metadata=metadata, creator=actor.name, modified_by=actor.name,
                    attached_to=tuple(parse_resource(r, "attach_to") for r in sub.attach_to),
                    versions=tuple(versions), placeholder=placeholder,
                )
                await original
                async with self._db.transaction() as tx:
                    if copies:
                        copy = await oldest_copy(tx, pool, staged.sha256, actor)
                    await tx.assets.add(asset)
            except BaseException:
                await _settle(original)
                await dispose(self._blobs, [key, *(k for v in versions for k in v.blob_keys)])
                raise
        finally:
            self._spool.discard(staged)
        self._metrics.bump("assets_created")
        self._metrics.bump("versions_rendered",
                           sum(v.status is VersionStatus.READY for v in versions))
        return asset, copy

    async def replace(
        self, asset_id: UUID, staged: StagedFile, sub: Submission, actor: Actor
    ) -> Asset:
        """Replace an asset's bytes (the spool file is consumed). Every version is reset to
        pending and re-rendered; the old original and version blobs are deleted after the
        new rows are committed.

        Raises AssetNotFound, Hidden, TypeMismatch (409), and every error of `create`."""
        try:
            async with self._db.transaction(write=False) as tx:
                asset = await tx.assets.get(asset_id)
                pool = await tx.pools.get(asset.pool)
            access.change_asset(actor, asset)
            access.check_visible(asset, actor)
            if sub.type is not None and sub.type != asset.type.value:
                raise TypeMismatch(
                    f"the asset is of type {asset.type.value}, not {sub.type}", field="type"
                )
            metadata = parse_metadata(sub.metadata) if sub.metadata not in (None, "") else None
            gallery = parse_gallery(sub.gallery)
            _, mime, info = await self._check(staged, pool, sub, fixed_type=asset.type)
            converter = await self._converter(sub.converter) if sub.converter else None
            at = now()
            planned = (pending_versions(asset.id, converter, at) if converter is not None
                       else [_fresh(v, at) for v in asset.versions])
            made: list[Version] = []
            placeholder = None
            if info is not None:
                made = rendered = await self._renderer.render(
                    staged.path, mime, Size(info.width, info.height),
                    metadata if metadata is not None else asset.metadata, planned,
                    lane=Lane.INGEST, placeholder=True)
                placeholder = rendered.placeholder
            key = keys.original_key(asset.id)
            changes: dict[str, Any] = {
                "mime_type": mime, "size": staged.size, "sha256": staged.sha256,
                "blob_key": key, "width": info.width if info else None,
                "height": info.height if info else None, "frames": info.frames if info else 1,
                "placeholder": placeholder, "modified_by": actor.name, "modified_at": at,
            }
            if sub.filename:
                changes["filename"] = sanitize_filename(sub.filename)
            if metadata is not None:
                changes["metadata"] = metadata
            if gallery:
                changes["gallery"] = gallery
            if converter is not None:
                changes["converter"] = converter.name
            try:
                await self._blobs.put_file(key, staged.path)
                async with self._db.transaction() as tx:
                    # Changes made since the checks above (a patch, a convert) are kept:
                    # the replacement applies to the row as it is now.
                    current = await tx.assets.get(asset.id, for_update=True)
                    versions = made if converter is not None else _reconcile(
                        current.versions, made, at)
                    updated = replace(current, **changes, versions=tuple(versions),
                                      renditions=())
                    await tx.assets.update(updated)
                    old_versions = await tx.assets.set_versions(asset.id, versions)
                    # Transform results were made from the old bytes; the next request
                    # renders them again.
                    old_versions += await tx.assets.drop_renditions(asset.id)
                    pending = any(v.status is VersionStatus.PENDING for v in versions)
                    if pending:
                        await tx.jobs.enqueue("render", {"asset_id": str(asset.id)})
            except BaseException:
                await dispose(self._blobs, [key, *(k for v in made for k in v.blob_keys)])
                raise
        finally:
            self._spool.discard(staged)
        self._cache.forget(asset.id)
        # Rows first, blobs after: a crash here leaves only unreferenced blobs (gc finds them).
        used = {k for v in versions for k in v.blob_keys}
        await dispose(self._blobs, [
            *(k for k in (current.blob_key,) if k != key),
            *(k for v in old_versions for k in v.blob_keys),
            *(k for v in made for k in v.blob_keys if k not in used)])
        self._metrics.bump("assets_replaced")
        if pending:
            self._on_enqueued()
        return updated

    async def _converter(self, name: str) -> Converter:
        async with self._db.transaction(write=False) as tx:
            return _named(await _stored_converter(tx, name), name)


async def _settle(task: asyncio.Future[None]) -> None:
    """Let a blob write that lost its purpose end (stopped if it is still running), so
    that its key can be deleted after it; its own outcome no longer matters."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task


async def _stored_converter(tx: Transaction, name: str) -> Converter | None:
    try:
        return await tx.converters.get(name)
    except ConverterNotFound:
        return None


def _named(converter: Converter | None, name: str) -> Converter:
    """The converter read by `name`; InvalidConverter when there was none."""
    if converter is None:
        raise InvalidConverter(f"no converter named {name!r}", field="converter")
    return converter


def _fresh(version: Version, at: datetime) -> Version:
    """A pending copy of `version` under a new id (its bytes are about to change)."""
    return Version(id=new_id(), asset_id=version.asset_id, name=version.name, spec=version.spec,
                   status=VersionStatus.PENDING, created_at=at)


def _reconcile(current: tuple[Version, ...], made: list[Version], at: datetime) -> list[Version]:
    """The versions a replaced asset keeps: for each version it has *now*, the one made
    from the new bytes when its name and spec are what was rendered, else a pending one
    (a convert changed the set while the new bytes were being rendered)."""
    by_name = {v.name: v for v in made}
    return [
        by_name[v.name] if v.name in by_name and by_name[v.name].spec == v.spec
        else _fresh(v, at)
        for v in current
    ]


def _asset_type(declared: str | None, sniffed: str, pool: Pool) -> AssetType:
    if declared:
        try:
            return AssetType(declared)
        except ValueError:
            raise Invalid("must be image or file", field="type") from None
    if sniffed in IMAGE_TYPES and AssetType.IMAGE in pool.asset_types:
        return AssetType.IMAGE
    return AssetType.FILE
