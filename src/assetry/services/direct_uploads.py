"""Direct uploads: the client PUTs the bytes straight to the S3 store through a presigned
URL, then Assetry ingests them exactly as an upload (the same IngestService.create)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from assetry.domain.direct_upload import DirectUpload, lifetimes, parse_request
from assetry.domain.media import sanitize_filename
from assetry.domain.model import Actor, Asset, Role
from assetry.domain.ports import BlobStore, Database
from assetry.errors import (
    AssetryError,
    BackendUnavailable,
    BlobNotFound,
    DirectUploadBusy,
    DirectUploadNotFound,
    DirectUploadsUnavailable,
    Forbidden,
    Invalid,
    NotUploaded,
    TooLarge,
)
from assetry.services import access, keys
from assetry.services.disposal import dispose
from assetry.services.ingest import (
    IngestService,
    Submission,
    new_id,
    now,
    parse_gallery,
    parse_metadata,
)

#: a completion that has held its claim this long is taken to have died with its process
STALE_CLAIM = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Collected:
    """What `collect` removed (or, on a dry run, found)."""

    uploads: list[UUID]  #: expired uploads
    objects: list[str]  #: their objects, and objects under the prefix no upload points at


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a client needs to send the bytes: PUT them to `url` with `headers`."""

    upload: DirectUpload
    url: str
    headers: Mapping[str, str]


class DirectUploadService:
    """Announces uploads (a presigned PUT URL limited to the announced size and to `ttl`
    seconds) and completes them into assets. Needs a store that presigns URLs."""

    def __init__(self, db: Database, blobs: BlobStore, ingest: IngestService, *, ttl: int,
                 clock: Callable[[], datetime] = now) -> None:
        self._db = db
        self._blobs = blobs
        self._ingest = ingest
        self._ttl = ttl
        self._clock = clock

    async def start(self, pool: str, body: Mapping[str, Any], actor: Actor) -> Ticket:
        """Announce an upload of `body["size"]` bytes into `pool`; the URL accepts exactly
        that many bytes (a signed Content-Length) for `ttl` seconds.

        Raises Unauthenticated, Forbidden, Invalid, PoolNotFound, DirectUploadsUnavailable
        (409: the store cannot presign), TooLarge (field `size`)."""
        access.create_assets(actor)
        request = parse_request(body)
        parse_metadata(request.form.get("metadata"))
        parse_gallery(request.form.get("gallery"))
        limit = (await self._ingest.admit(pool, actor)).limit
        if not self._blobs.signs_urls:
            raise DirectUploadsUnavailable(
                "direct uploads need an S3 blob store with static credentials, and this "
                "server's store cannot hand out upload URLs; upload the file with "
                f"POST /api/pools/{pool}/assets instead")
        if request.size > limit:
            refused = TooLarge(f"{request.size} bytes announced; this pool accepts at most "
                               f"{limit}", limit=limit, size=request.size)
            refused.field = "size"
            raise refused
        # Whole seconds: the signature's X-Amz-Date has no fraction, and the expiries
        # reported must be the ones the store applies.
        upload_id, at = new_id(), self._clock().replace(microsecond=0)
        url_expires_at, expires_at = lifetimes(at, self._ttl)
        upload = DirectUpload(
            id=upload_id, pool=pool, creator=actor.name,
            filename=sanitize_filename(request.filename), size=request.size,
            mime_type=request.mime_type, form=request.form,
            blob_key=keys.direct_upload_key(upload_id), created_at=at,
            url_expires_at=url_expires_at, expires_at=expires_at)
        headers = {"Content-Length": str(upload.size)}
        url = self._blobs.presign(upload.blob_key, "PUT", issued_at=at, expires_in=self._ttl,
                                  headers=headers)
        assert url is not None  # signs_urls
        async with self._db.transaction() as tx:
            await tx.direct_uploads.add(upload)
        return Ticket(upload, url, headers)

    async def complete(self, upload_id: UUID, actor: Actor) -> Asset:
        """Ingest the object the client PUT, exactly as an upload of those bytes with the
        announced file name, type and form fields; the upload and its object are then
        gone. Bad bytes are refused with the upload's errors and nothing is kept (no
        asset, no upload, no object).

        Raises DirectUploadNotFound (also once expired), Forbidden (another token's
        upload), NotUploaded (409, nothing PUT yet: PUT, then complete again),
        DirectUploadBusy (409, another completion is running), Invalid or TooLarge (field
        `size`: the object is not the announced size), and every error of an upload."""
        access.create_assets(actor)
        async with self._db.transaction() as tx:
            upload = await tx.direct_uploads.get(upload_id)
            if upload.creator != actor.name and actor.role is not Role.ADMIN:
                raise Forbidden("only the token that started a direct upload may complete it")
            if upload.expired(self._clock()):
                raise DirectUploadNotFound(f"the direct upload {upload_id} has expired")
            if not await tx.direct_uploads.claim(upload_id, self._clock()):
                raise DirectUploadBusy()
        try:
            asset = await self._ingest_object(upload, actor)
        except (NotUploaded, BackendUnavailable):
            # Worth another try: the object may still come, the back-end may come back.
            with contextlib.suppress(BackendUnavailable):
                async with self._db.transaction() as tx:
                    await tx.direct_uploads.release(upload_id)
            raise
        except AssetryError:
            await self._forget(upload)  # refused: nothing is kept
            raise
        except BaseException:
            with contextlib.suppress(BackendUnavailable):
                async with self._db.transaction() as tx:
                    await tx.direct_uploads.release(upload_id)
            raise
        await self._forget(upload)
        return asset

    async def _ingest_object(self, upload: DirectUpload, actor: Actor) -> Asset:
        try:
            staged = await self._ingest.stage(self._blobs.stream(upload.blob_key),
                                              limit=upload.size)
        except BlobNotFound:
            raise NotUploaded(f"nothing has been PUT to the upload URL of {upload.id} yet"
                              ) from None
        except TooLarge as exc:
            exc.field = "size"
            raise
        if staged.size != upload.size:
            self._ingest.discard(staged)
            raise Invalid(f"{staged.size} bytes were uploaded, not the {upload.size} announced",
                          field="size")
        form = upload.form
        return await self._ingest.create(upload.pool, staged, Submission(
            filename=upload.filename, mime_type=upload.mime_type, type=form.get("type"),
            gallery=form.get("gallery"), converter=form.get("converter"),
            metadata=form.get("metadata")), actor)

    async def _forget(self, upload: DirectUpload) -> None:
        """Delete the upload, then its object (rows first: a crash between leaves an object
        `assetry gc` removes). When the row cannot be deleted (the database is down), the
        object stays with it: `assetry gc` removes both once the upload expires."""
        try:
            async with self._db.transaction() as tx:
                await tx.direct_uploads.delete(upload.id)
        except BackendUnavailable:
            return
        await dispose(self._blobs, [upload.blob_key])

    async def collect(self, *, dry_run: bool = False) -> Collected:
        """Remove expired uploads and every object under the direct-upload prefix that no
        upload points at (left by a crash, or PUT again after a completion); with
        `dry_run` only say what would go. Raises BackendUnavailable."""
        # Objects are listed before uploads are read: an upload is recorded before its URL
        # is handed out, so a listed object without an upload really has none.
        stored = {k async for k in self._blobs.keys(keys.DIRECT_UPLOADS)}
        at = self._clock()
        async with self._db.transaction(write=False) as tx:
            expired = await tx.direct_uploads.expired(
                at, claimed_before=at - STALE_CLAIM, limit=10_000)
            live = {k async for k in tx.direct_uploads.blob_keys()}
        gone = {u.blob_key for u in expired}
        leftovers = sorted((stored - live) | (stored & gone))
        if not dry_run:
            for upload in expired:
                async with self._db.transaction() as tx:
                    await tx.direct_uploads.delete(upload.id)
            for key in leftovers:
                await self._blobs.delete(key)
        return Collected([u.id for u in expired], leftovers)
