"""Resumable uploads (tus 1.0): create, take PATCHes, finish through the ingest, expire.

Each accepted PATCH is streamed through the spool (counted against what the upload still
lacks, and checked against its Upload-Checksum), stored in the blob store as one part,
and recorded with a compare-and-set on the upload's offset, so any process may take the
next PATCH and two PATCHes racing from one offset cannot both count. When the last byte
is recorded, the parts are streamed back through the spool (which hashes the whole file)
into the very same `IngestService.create` as a multipart upload.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from uuid import UUID

from assetry.domain import tus
from assetry.domain.model import Actor, AssetType
from assetry.domain.ports import BlobStore, Database, Spool
from assetry.domain.tus import Checksum, Hasher, Upload, UploadPart
from assetry.errors import (
    AssetryError,
    BackendUnavailable,
    ChecksumMismatch,
    ConverterNotFound,
    Forbidden,
    Invalid,
    InvalidConverter,
    NotFound,
    OffsetMismatch,
    TooLarge,
    Unauthenticated,
    UploadExpired,
    UploadNotFound,
)
from assetry.services import access, keys
from assetry.services.disposal import dispose
from assetry.services.ingest import IngestService, Submission, parse_gallery, parse_metadata

log = logging.getLogger(__name__)

#: expired uploads removed per database round trip by `collect`
_BATCH = 500


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Collected:
    """What `collect` removed (or, in a dry run, would remove)."""

    uploads: list[UUID]  #: expired uploads, with their stored parts
    strays: list[str]  #: part blobs whose upload no longer exists (left by a crash)


class ResumableUploadService:
    """tus uploads into a pool. Every method takes the caller; an upload is visible only
    to the token name that created it, and only under its pool (anyone else: 404)."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        spool: Spool,
        ingest: IngestService,
        *,
        expiry: float,
        max_upload_size: int,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._db = db
        self._blobs = blobs
        self._spool = spool
        self._ingest = ingest
        self._expiry = expiry
        self._max_upload_size = max_upload_size
        self._clock = clock

    async def max_size(self, pool: str, actor: Actor) -> int:
        """Tus-Max-Size: the pool's limit for a caller who may upload into it, otherwise
        the global cap (OPTIONS needs no credentials and reveals nothing about pools)."""
        try:
            return (await self._ingest.admit(pool, actor)).limit
        except (Unauthenticated, Forbidden, NotFound):
            return self._max_upload_size

    async def create(self, pool: str, *, length: int, metadata: dict[str, str],
                     actor: Actor) -> Upload:
        """Start an upload of `length` bytes. Everything that can be checked without the
        bytes is checked now: the role, the pool, the length against the pool's limit,
        and the metadata the asset will get. An upload of 0 bytes is complete at once and
        goes to the ingest here.

        Raises Unauthenticated, Forbidden, PoolNotFound, TooLarge (field Upload-Length),
        Invalid, InvalidConverter, and for an empty upload every error of the ingest."""
        limit = (await self._ingest.admit(pool, actor)).limit
        if length > limit:
            raise TooLarge(f"Upload-Length is {length} bytes; this pool accepts files of at "
                           f"most {limit}", limit=limit, size=length, field="Upload-Length")
        await self._check(metadata)
        at = self._clock()
        upload = Upload(id=uuid.uuid4(), pool=pool, creator=actor.name, length=length,
                        offset=0, created_at=at, expires_at=tus.expiry(at, self._expiry),
                        metadata=metadata)
        async with self._db.transaction() as tx:
            await tx.uploads.add(upload)
        if upload.complete:
            return await self._finish(upload, actor)
        return upload

    async def status(self, pool: str, upload_id: UUID, actor: Actor) -> Upload:
        """The upload as it stands (HEAD). Raises Unauthenticated, Forbidden,
        UploadNotFound, UploadExpired."""
        return await self._own(pool, upload_id, actor)

    async def receive(
        self,
        pool: str,
        upload_id: UUID,
        chunks: AsyncIterator[bytes],
        *,
        offset: int,
        checksum: Checksum | None,
        declared: int | None,
        actor: Actor,
    ) -> Upload:
        """Add the bytes of one PATCH at `offset` (which must be the upload's offset).
        `declared` is the request's Content-Length, if it sent one. A body that ends
        early (the client went away) is kept as far as it came, unless a checksum was
        sent. The PATCH that brings the last byte hands the upload to the ingest; the
        Upload it returns then names the asset.

        Raises Unauthenticated, Forbidden, UploadNotFound, UploadExpired, OffsetMismatch
        (409), TooLarge (more bytes than the upload still lacks), ChecksumMismatch (460;
        the bytes are discarded), and from the last PATCH every error of the ingest, after
        which the upload is gone (nothing is kept)."""
        upload = await self._own(pool, upload_id, actor)
        if offset != upload.offset:
            raise OffsetMismatch(f"Upload-Offset is {offset} but the upload is at "
                                 f"{upload.offset}; resume from there", field="Upload-Offset")
        if declared is not None and declared > upload.remaining:
            raise self._too_large(upload, declared)
        hasher = checksum.hasher() if checksum is not None else None
        try:
            staged = await self._spool.receive(_hashed(chunks, hasher), limit=upload.remaining)
        except TooLarge:
            raise self._too_large(upload, None) from None
        try:
            if checksum is not None and hasher is not None and not checksum.matches(hasher):
                raise ChecksumMismatch(f"the {staged.size} bytes received do not match the "
                                       f"{checksum.algorithm} in Upload-Checksum; they were "
                                       "discarded")
            if staged.size == 0:
                return upload
            key = keys.upload_part_key(upload.id, offset)
            await self._blobs.put_file(key, staged.path)
        finally:
            self._spool.discard(staged)
        part = UploadPart(offset=offset, size=staged.size, blob_key=key)
        expires_at = tus.expiry(self._clock(), self._expiry)
        try:
            async with self._db.transaction() as tx:
                moved = await tx.uploads.advance(upload.id, part, expires_at=expires_at)
        except BaseException:
            await self._blobs.delete(key)
            raise
        if not moved:
            await self._blobs.delete(key)
            await self._own(pool, upload_id, actor)  # gone meanwhile: 404 (or 410)
            raise OffsetMismatch("another PATCH moved the upload's offset meanwhile; ask "
                                 "HEAD for the offset and resume from there",
                                 field="Upload-Offset")
        upload = replace(upload, offset=part.offset + part.size, expires_at=expires_at)
        if upload.complete:
            return await self._finish(upload, actor)
        return upload

    async def terminate(self, pool: str, upload_id: UUID, actor: Actor) -> None:
        """Remove an upload and its stored parts (tus termination), also an expired one.
        The asset a finished upload became stays. Raises Unauthenticated, Forbidden,
        UploadNotFound."""
        await self._own(pool, upload_id, actor, expired_too=True)
        await self._forget(upload_id)

    async def collect(self, *, dry_run: bool = False) -> Collected:
        """Remove expired uploads (finished ones' records too) and the parts they stored,
        and part blobs whose upload no longer exists (a crash between removing a row and
        its blobs). A dry run lists at most one batch of expired uploads."""
        now = self._clock()
        removed: list[UUID] = []
        while True:
            async with self._db.transaction(write=False) as tx:
                batch = await tx.uploads.expired(now, limit=_BATCH)
            removed += [u.id for u in batch]
            if dry_run or not batch:
                break
            for upload in batch:
                await self._forget(upload.id)
        strays = await self._strays(exclude=set(removed) if dry_run else set())
        if not dry_run:
            await dispose(self._blobs, strays)
        return Collected(uploads=removed, strays=strays)

    async def _strays(self, *, exclude: set[UUID]) -> list[str]:
        by_upload: dict[UUID, list[str]] = defaultdict(list)
        async for key in self._blobs.keys(keys.UPLOADS):
            upload_id = keys.upload_of(key)
            if upload_id is not None and upload_id not in exclude:
                by_upload[upload_id].append(key)
        ids = list(by_upload)
        alive: set[UUID] = set()
        for start in range(0, len(ids), _BATCH):
            async with self._db.transaction(write=False) as tx:
                alive |= await tx.uploads.existing(ids[start:start + _BATCH])
        return sorted(k for upload_id, found in by_upload.items() if upload_id not in alive
                      for k in found)

    async def _own(self, pool: str, upload_id: UUID, actor: Actor, *,
                   expired_too: bool = False) -> Upload:
        access.create_assets(actor)
        async with self._db.transaction(write=False) as tx:
            upload = await tx.uploads.get(upload_id)
        if upload.pool != pool or upload.creator != actor.name:
            raise UploadNotFound(f"no upload {upload_id}")
        if not expired_too and upload.expires_at <= self._clock():
            raise UploadExpired(f"upload {upload_id} expired at "
                                f"{upload.expires_at.isoformat()}; start a new one")
        return upload

    async def _check(self, metadata: dict[str, str]) -> None:
        """The metadata the asset will get, checked before any byte is sent."""
        fields = tus.submission_fields(metadata)
        if "type" in fields and fields["type"] not in {t.value for t in AssetType}:
            raise Invalid("must be image or file", field="type")
        parse_gallery(fields.get("gallery"))
        parse_metadata(fields.get("metadata"))
        if converter := fields.get("converter"):
            async with self._db.transaction(write=False) as tx:
                try:
                    await tx.converters.get(converter)
                except ConverterNotFound:
                    raise InvalidConverter(f"no converter named {converter!r}",
                                           field="converter") from None

    async def _finish(self, upload: Upload, actor: Actor) -> Upload:
        """Hand a complete upload to the ingest: its parts, in order, are streamed into the
        spool (which hashes the whole file again), then `IngestService.create` stores the
        asset as for a multipart upload. Whatever the ingest refuses, nothing is kept."""
        try:
            async with self._db.transaction(write=False) as tx:
                parts = await tx.uploads.parts(upload.id)
            staged = await self._spool.receive(self._joined(parts), limit=upload.length)
            asset = await self._ingest.create(upload.pool, staged, _submission(upload), actor)
        except AssetryError:
            await self._forget(upload.id)
            raise
        expires_at = tus.expiry(self._clock(), self._expiry)
        async with self._db.transaction() as tx:
            await tx.uploads.finish(upload.id, asset.id, expires_at=expires_at)
        await self._dispose_parts(upload.id)
        return replace(upload, asset_id=asset.id, expires_at=expires_at)

    async def _joined(self, parts: Sequence[UploadPart]) -> AsyncIterator[bytes]:
        for part in parts:
            async for chunk in self._blobs.stream(part.blob_key):
                yield chunk

    async def _forget(self, upload_id: UUID) -> None:
        """Rows first, blobs after: a crash in between leaves only parts `collect` finds."""
        async with self._db.transaction() as tx:
            await tx.uploads.delete(upload_id)
        await self._dispose_parts(upload_id)

    async def _dispose_parts(self, upload_id: UUID) -> None:
        try:
            stored = [k async for k in self._blobs.keys(keys.upload_prefix(upload_id))]
        except BackendUnavailable as exc:
            log.warning("could not list the parts of upload %s (left for `assetry gc`): %s",
                        upload_id, exc)
            return
        await dispose(self._blobs, stored)

    @staticmethod
    def _too_large(upload: Upload, declared: int | None) -> TooLarge:
        sent = f"{declared} bytes were sent" if declared is not None else "more was sent"
        return TooLarge(f"the upload lacks {upload.remaining} bytes (Upload-Length "
                        f"{upload.length}) but {sent}; nothing was kept from this request",
                        limit=upload.remaining, size=declared, field="body")


def _submission(upload: Upload) -> Submission:
    """What the asset gets from Upload-Metadata: the upload form's fields, by name."""
    fields = tus.submission_fields(upload.metadata)
    return Submission(
        filename=fields.get("filename"), type=fields.get("type"), gallery=fields.get("gallery"),
        converter=fields.get("converter"), metadata=fields.get("metadata"),
        mime_type=fields.get("mime_type"))


async def _hashed(chunks: AsyncIterator[bytes], hasher: Hasher | None
                  ) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        if hasher is not None:
            hasher.update(chunk)
        yield chunk
