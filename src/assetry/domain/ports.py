"""The Protocols services depend on. Adapters implement them; only bootstrap picks which.

Every method documents its errors. Adapters translate their libraries' exceptions into
the domain errors named here (`assetry.errors`), once, at their edge.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from assetry.domain.converter import Converter
from assetry.domain.direct_upload import DirectUpload
from assetry.domain.geometry import Plan, Size
from assetry.domain.model import (
    Asset,
    AssetFilter,
    Encoding,
    Page,
    Pool,
    Token,
    Version,
    VersionStatus,
)
from assetry.domain.notices import Notice
from assetry.domain.placeholder import Placeholder
from assetry.domain.rows import ListQuery, RowPage, RowTable
from assetry.domain.tus import Upload, UploadPart


@dataclass(frozen=True, slots=True)
class StagedFile:
    """Bytes received into the local spool: counted, hashed, not yet in the blob store."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an image's header says about it (nothing is decoded to learn it)."""

    mime_type: str
    width: int  #: upright (EXIF-oriented) width
    height: int  #: upright height
    frames: int


@dataclass(frozen=True, slots=True)
class RenderRequest:
    """One version to make in a shared decode.

    `plan` is measured on the original, or, with `source`, on the output of the earlier
    request of that version id, whose pixels (before encoding) this one is made from.
    `srcset` holds a plan per extra width. A request with `keep=False` is only a source
    for later ones: it is carried out but neither encoded nor answered."""

    version_id: UUID
    plan: Plan
    format: str  #: output format: jpeg, png, webp, avif, gif, tiff, or auto
    quality: int  #: for auto, the JPEG quality; WebP and AVIF get its equivalent
    srcset: tuple[tuple[int, Plan], ...] = ()
    source: UUID | None = None
    keep: bool = True


@dataclass(frozen=True, slots=True)
class Encoded:
    """One more rendition of a version: another format, or a srcset width, or both."""

    format: str
    srcset_width: int | None  #: None: the version's own size
    data: bytes
    mime_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Rendered:
    """The encoded bytes of one version: its main rendition (for auto, the fallback) and
    the others. Renditions with the same bytes share one `bytes` object."""

    version_id: UUID
    data: bytes
    mime_type: str
    width: int
    height: int
    extras: tuple[Encoded, ...] = ()


@dataclass(frozen=True, slots=True)
class OverlaySource:
    """An overlay asset's original, as a local file, and its upright size."""

    path: Path
    mime_type: str
    size: Size


@dataclass(frozen=True, slots=True)
class RenderFailure:
    """One version that could not be made from a decode that succeeded (its own
    operations or encoder failed); the other versions of the same decode are unaffected."""

    version_id: UUID
    reason: str


T = TypeVar("T")


class Decoded(list[T], Generic[T]):
    """What was made from one decode: the results, in request order (this list), and the
    placeholders of the decoded image when they were asked for (else None)."""

    def __init__(self, results: Iterable[T] = (), *,
                 placeholder: Placeholder | None = None) -> None:
        super().__init__(results)
        self.placeholder = placeholder


@dataclass(frozen=True, slots=True)
class Fetched:
    """A remote body fetched into the spool, with what the response said about it."""

    staged: StagedFile
    filename: str  #: sanitised; from Content-Disposition, else the URL path, else "download"
    content_type: str | None  #: the upstream header as sent; informational only, never trusted
    url: str  #: the final URL, after redirects


class Fetcher(Protocol):
    """Fetches untrusted URLs without reaching inside the network."""

    async def fetch(
        self,
        url: str,
        *,
        limit: int,
        sink: Callable[[AsyncIterator[bytes]], Awaitable[StagedFile]],
    ) -> Fetched:
        """Stream the body at `url` into `sink`. Raises UnsafeUrl (422), UpstreamError
        (502), UpstreamTimeout (504), TooLarge (413); nothing is left staged on failure."""
        ...


class Spool(Protocol):
    """A local directory where incoming bytes are streamed, counted and hashed."""

    async def receive(self, chunks: AsyncIterator[bytes], *, limit: int) -> StagedFile:
        """Write `chunks` to a new spool file while hashing (SHA-256) and counting.

        Raises TooLarge the moment more than `limit` bytes arrive; nothing is left behind.
        """
        ...

    def discard(self, staged: StagedFile) -> None:
        """Remove a spool file. Removing it twice is not an error."""
        ...


class ImageProcessor(Protocol):
    """libvips (and pillow-heif) behind a small synchronous, CPU-bound interface."""

    def sniff(self, path: Path) -> str:
        """The MIME type of the file's bytes (never its name). Unknown bytes give
        application/octet-stream."""
        ...

    def inspect(self, path: Path, mime_type: str, *, max_pixels: int) -> ImageInfo:
        """Read the header only and check the pixel cap (all frames). Cheap: no pixel is
        decoded, so this proves nothing about the rest of the file (`render` does).

        Raises TooManyPixels when the header is over `max_pixels`, UndecodableImage when
        the header does not parse as `mime_type`.
        """
        ...

    def render(
        self, path: Path, mime_type: str, requests: Sequence[RenderRequest], scale: float,
        placeholder: bool = False, overlays: Mapping[str, OverlaySource] | None = None,
    ) -> Decoded[Rendered | RenderFailure]:
        """Decode the file once at `scale` (shrink-on-load), checking every byte of the
        stream (a truncated or corrupt image raises, even with no request), and make
        every requested version from that one decode: one result per request with
        `keep`, in request order. A request's `source` must come earlier in `requests`.
        `overlays` holds the images the plans draw on top, by asset id. With
        `placeholder`, also the placeholders of the decoded image (None if they fail).

        Raises UndecodableImage when the image does not decode; a version that fails on
        its own (or whose source failed) comes back as a RenderFailure.
        """
        ...


class BlobStore(Protocol):
    """Byte storage addressed by server-made keys. Writes are atomic; readers never see
    partial data."""

    async def put_file(self, key: str, path: Path) -> None:
        """Store the file's bytes under `key`, replacing any. Raises BackendUnavailable."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing any. Raises BackendUnavailable."""
        ...

    async def read(self, key: str) -> bytes:
        """All the bytes under `key`. Raises BlobNotFound, BackendUnavailable."""
        ...

    def local_file(self, key: str, scratch: Path) -> AbstractAsyncContextManager[Path]:
        """A local file with the bytes under `key`, for as long as the context lasts: the
        stored file itself when the store is a local directory (no copy), otherwise a
        download streamed into a temporary file under `scratch` (removed on exit). The
        file must not be changed. Raises BlobNotFound, BackendUnavailable."""
        ...

    def stream(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes [start, end) under `key`, in chunks. Raises BlobNotFound."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`. Deleting an absent key is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`."""
        ...

    def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every stored key that starts with `prefix`."""
        ...

    async def ping(self) -> None:
        """Raise BackendUnavailable unless the store answers."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file holding `key` when the store is a local directory, else None. Nothing
        is checked: the file may not exist. Raises ValueError for a malformed key."""
        ...

    @property
    def signs_urls(self) -> bool:
        """Whether `presign` hands out URLs."""
        ...

    def presign(self, key: str, method: str, *, issued_at: datetime, expires_in: int,
                headers: Mapping[str, str] | None = None,
                response: Mapping[str, str] | None = None) -> str | None:
        """A URL that lets its holder make one `method` (GET or PUT) request for `key`
        straight at the store, valid from `issued_at` for `expires_in` seconds, without
        credentials. The request must carry `headers` exactly (content-length caps a
        PUT); a GET is answered with the `response` headers (content-type,
        content-disposition, cache-control). None when the store cannot hand out URLs.
        No I/O."""
        ...


class AssetRepository(Protocol):
    """Assets, their versions and attachments, inside one transaction."""

    async def add(self, asset: Asset) -> None: ...

    async def get(self, asset_id: UUID, *, for_update: bool = False) -> Asset:
        """The asset with its versions and attachments. Raises AssetNotFound."""
        ...

    async def list(self, where: AssetFilter, *, limit: int, cursor: str | None) -> Page:
        """Newest first. Raises Invalid for a cursor this repository did not make."""
        ...

    async def in_galleries(self, gallery_ids: Sequence[str]) -> builtins.list[Asset]:
        """Every image of the given galleries, oldest first."""
        ...

    async def first_with_sha256(self, pool: str, sha256: str, *, include_hidden: bool
                                ) -> UUID | None:
        """The id of the oldest asset of `pool` whose original has this hex SHA-256
        (hidden ones only with `include_hidden`), or None."""
        ...

    async def update(self, asset: Asset) -> None:
        """Write every field of `asset` except versions and attachments."""
        ...

    async def delete(self, asset_id: UUID) -> None: ...

    async def count_in_pool(self, pool: str) -> int: ...

    async def set_versions(
        self, asset_id: UUID, versions: Sequence[Version]
    ) -> builtins.list[Version]:
        """Replace every version row of the asset; return the rows that were there."""
        ...

    async def delete_version(self, asset_id: UUID, name: str) -> Version:
        """Remove one version row and return it. Raises VersionNotFound."""
        ...

    async def version_owner(self, version_id: UUID) -> UUID | None:
        """The id of the asset that holds the version with this id, or None."""
        ...

    async def rows(self, table: RowTable, query: ListQuery, *, pools: Sequence[str],
                   include_hidden: bool) -> RowPage:
        """A page of the original image service's table view (domain/rows.py) over the
        assets of `pools` (hidden ones only with `include_hidden`): the rows passing
        `query.where`, in `query.sort` order (nulls last), `query.limit` rows from
        `query.offset`, and their count when `query.count`."""
        ...

    async def reserve_version_key(self, version_id: UUID, *, previous: str | None,
                                  key: str) -> bool:
        """Record `key` on a *pending* version as where a render is about to store its
        bytes, in place of `previous` (the key the row named when it was read: None, or
        the reservation of a render that never finished). False when the version is no
        longer pending or names another key (another render took it over)."""
        ...

    async def finish_version(
        self,
        version_id: UUID,
        *,
        status: VersionStatus,
        blob_key: str | None = None,
        facts: dict[str, Any] | None = None,
        error: str | None = None,
        reserved: str | None = None,
        encodings: Sequence[Encoding] = (),
    ) -> bool:
        """Move a *pending* version that still names `reserved` (the key its render
        reserved, None if it reserved none) to ready or failed, with its other
        renditions. False otherwise (replaced, deleted, finished or taken over by another
        render)."""
        ...

    async def add_rendition(self, version: Version) -> bool:
        """Insert a transform's pending stored result; False when one of that name
        exists. Raises AssetNotFound."""
        ...

    async def touch_rendition(self, version_id: UUID, at: datetime) -> None:
        """Record that a transform's stored result was served at `at`."""
        ...

    async def drop_renditions(self, asset_id: UUID) -> builtins.list[Version]:
        """Remove every stored transform result of the asset; return them."""
        ...

    async def trim_renditions(self, keep: int) -> builtins.list[Version]:
        """Keep the `keep` most recently used transform results of each pool; remove and
        return the rest."""
        ...

    async def attach(self, asset_id: UUID, resource: str, at: datetime) -> None:
        """Add a back-reference. Attaching twice keeps the first."""
        ...

    async def detach(self, asset_id: UUID, resource: str) -> bool:
        """Remove a back-reference; False if it was not there."""
        ...

    def blob_keys(self, *, reserved: bool = True) -> AsyncIterator[str]:
        """Every blob key a row points at (for gc and verify): originals, finished
        versions and, with `reserved`, the keys pending versions reserved (their bytes
        may not exist yet)."""
        ...


class PoolRepository(Protocol):
    async def get(self, name: str) -> Pool:
        """Raises PoolNotFound."""
        ...

    async def list(self) -> list[Pool]: ...

    async def put(self, pool: Pool) -> bool:
        """Create or replace; True when it was created."""
        ...

    async def delete(self, name: str) -> None: ...


class ConverterRepository(Protocol):
    async def get(self, name: str) -> Converter:
        """Raises ConverterNotFound."""
        ...

    async def list(self) -> list[Converter]: ...

    async def put(self, converter: Converter) -> bool:
        """Create or replace; True when it was created."""
        ...

    async def delete(self, name: str) -> None: ...

    async def in_use(self, name: str) -> builtins.list[str]:
        """Names of the pools that use this converter by default."""
        ...


class TokenRepository(Protocol):
    async def add(self, token: Token) -> None:
        """Raises Conflict when the name is taken."""
        ...

    async def by_hash(self, digest: str) -> Token | None:
        """The token whose secret hashes to `digest`, revoked or not."""
        ...

    async def list(self) -> builtins.list[Token]: ...

    async def revoke(self, name: str, at: datetime) -> bool:
        """Mark a token revoked; False if no active token has this name."""
        ...

    async def count_active(self) -> int: ...


class UploadRepository(Protocol):
    """Resumable uploads and the parts their PATCHes stored."""

    async def add(self, upload: Upload) -> None: ...

    async def get(self, upload_id: UUID) -> Upload:
        """Raises UploadNotFound."""
        ...

    async def advance(self, upload_id: UUID, part: UploadPart, *, expires_at: datetime) -> bool:
        """Record `part` and move the offset to its end, only if the upload is unfinished
        and its offset is still `part.offset` (compare-and-set: of two PATCHes racing from
        one offset, one wins). False when it is not (or the upload is gone)."""
        ...

    async def parts(self, upload_id: UUID) -> builtins.list[UploadPart]:
        """The recorded parts, by offset."""
        ...

    async def finish(self, upload_id: UUID, asset_id: UUID, *, expires_at: datetime) -> None:
        """Record the asset a complete upload became and forget its parts."""
        ...

    async def delete(self, upload_id: UUID) -> bool:
        """Remove the upload and its parts; False if it was not there."""
        ...

    async def expired(self, now: datetime, *, limit: int) -> builtins.list[Upload]:
        """Uploads whose `expires_at` is at or before `now`, the longest expired first."""
        ...

    async def existing(self, upload_ids: Sequence[UUID]) -> set[UUID]:
        """Which of `upload_ids` exist."""
        ...


class DirectUploadRepository(Protocol):
    """Announced direct uploads (their objects live in the blob store)."""

    async def add(self, upload: DirectUpload) -> None: ...

    async def get(self, upload_id: UUID) -> DirectUpload:
        """Raises DirectUploadNotFound."""
        ...

    async def claim(self, upload_id: UUID, at: datetime) -> bool:
        """Mark it as being completed, only if nobody has and it has not expired at `at`;
        False otherwise (of two racing completions, one wins)."""
        ...

    async def release(self, upload_id: UUID) -> None:
        """Let it be completed again."""
        ...

    async def delete(self, upload_id: UUID) -> bool:
        """Remove it; False if it was not there."""
        ...

    async def expired(self, now: datetime, *, claimed_before: datetime, limit: int
                      ) -> builtins.list[DirectUpload]:
        """Expired at `now`, the longest expired first; one being completed only once its
        claim is older than `claimed_before`."""
        ...

    def blob_keys(self) -> AsyncIterator[str]:
        """The object key of every upload there is."""
        ...


class JobQueue(Protocol):
    """Deferring work inside the caller's transaction: a job exists iff the data does."""

    async def enqueue(self, kind: str, payload: dict[str, Any]) -> None: ...


class Transaction(Protocol):
    """One unit of work. Leaving the context commits; an exception rolls back."""

    assets: AssetRepository
    pools: PoolRepository
    converters: ConverterRepository
    tokens: TokenRepository
    uploads: UploadRepository
    direct_uploads: DirectUploadRepository
    jobs: JobQueue


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job: run it, then complete, retry or give it up."""

    id: UUID
    kind: str
    payload: dict[str, Any]
    attempts: int  #: tries so far, this one included


class JobStore(Protocol):
    """The worker side of the durable queue. Every method is its own transaction.

    A claim lasts until complete, retry or give_up. Where the database has sessions
    (PostgreSQL), it is also held by this process's session, so it ends the moment the
    process dies and `requeue_stale` puts the job back at once."""

    async def claim(self) -> Job | None:
        """Take the oldest due job (marking it running), or None when none is due."""
        ...

    async def complete(self, job_id: UUID) -> None:
        """Remove a finished job."""
        ...

    async def retry(self, job_id: UUID, error: str, *, delay: float) -> None:
        """Put a running job back, due again after `delay` seconds."""
        ...

    async def give_up(self, job_id: UUID, error: str) -> None:
        """Mark a job failed for good; it stays for inspection."""
        ...

    async def requeue_stale(self, older_than: float) -> int:
        """Put back running jobs whose claim has ended (its process's session is gone),
        or that were claimed more than `older_than` seconds ago (on a database without
        sessions, the only sign that their worker died); return how many."""
        ...

    async def counts(self) -> dict[str, int]:
        """Number of jobs by state (queued, running, failed)."""
        ...


class RenderLocks(Protocol):
    """Who renders which version, across every process sharing the database: a version
    being rendered by one process is not rendered by another at the same time.

    A lock is held by its process (on PostgreSQL, by that process's database session), so
    it ends when the holder leaves its block, and at once when the holder's process dies.
    Inside one process a key is held by one block at a time as well."""

    def hold(self, keys: Sequence[UUID], *, wait: bool
             ) -> AbstractAsyncContextManager[frozenset[UUID]]:
        """Hold the locks of `keys` for the block; yields the keys held.

        wait=False takes those free now, at once. wait=True waits, in a fixed order, until
        it holds them all. Raises Overloaded when they stay taken for the wait limit,
        BackendUnavailable."""
        ...


class Notices(Protocol):
    """Notices between the processes that share the database (domain/notices.py): what
    one process changed, the others hear within milliseconds."""

    @property
    def live(self) -> bool:
        """False while notices from other processes may be missed (the channel is down);
        what they changed meanwhile is announced by a RESYNC notice once it is back."""
        ...

    def publish(self, notice: Notice) -> None:
        """Send `notice` to every process, perhaps this one too. Returns at once; the
        notice goes out shortly after, or is lost (and logged) when the database cannot
        be reached."""
        ...

    def subscribe(self, handler: Callable[[Notice], None]) -> None:
        """Call `handler` with every notice heard from now on, and with RESYNC each time
        the channel opens. Handlers must be quick and must not raise."""
        ...


@dataclass(frozen=True, slots=True)
class StoredBlob:
    """A blob a row points at, with what the row says its bytes are."""

    key: str
    size: int
    sha256: str


class Records(Protocol):
    """A whole metadata database as plain rows, table by table, ids and times as stored:
    what moves an installation to another database. Each method is its own transaction."""

    tables: Sequence[str]  #: every table to move, parents before the rows that refer to them

    async def count(self, table: str) -> int: ...

    def read(self, table: str, *, batch: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Every row, in batches of at most `batch`, in primary key order."""
        ...

    async def write(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert the rows, overwriting any with the same primary key (and first removing
        rows that hold one of their unique values under another key)."""
        ...

    def blobs(self) -> AsyncIterator[StoredBlob]:
        """Every blob the rows point at (originals, then finished versions; not a pending
        version's reservation) with size and SHA-256."""
        ...


class Database(Protocol):
    jobs: JobStore

    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        """One unit of work. `write=False` promises it only reads (SQLite then need not
        take the write lock). Raises BackendUnavailable when the database cannot be
        reached."""
        ...

    async def ping(self) -> None:
        """Raise BackendUnavailable unless the database answers."""
        ...
