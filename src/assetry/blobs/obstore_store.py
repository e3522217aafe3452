"""BlobStore over obstore: one class for a local directory, memory and S3."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import obstore
from obstore.exceptions import BaseError
from obstore.store import LocalStore, S3Store

from assetry.blobs.presign import S3Presigner
from assetry.errors import BackendUnavailable, BlobNotFound

if TYPE_CHECKING:
    from obstore import GetOptions, GetResult
    from obstore.store import ObjectStore

KiB = 1024
MiB = 1024 * KiB

#: obstore coalesces what it reads into chunks of at least this many bytes
_READ_CHUNK = 256 * KiB
#: no chunk handed to a caller is larger (MemoryStore returns a blob as one piece)
_MAX_CHUNK = 1 * MiB
#: multipart part size; S3 needs at least 5 MiB per part but the last
_PART_SIZE = 8 * MiB
#: parts in flight per upload; with _PART_SIZE this bounds one upload's part buffers
_PARTS_IN_FLIGHT = 4
#: a prefix under which nothing is ever stored; listing it is the cheapest real request
_PING_PREFIX = "assetry-ping-probe"
#: ranges up to this size of a local blob read lately may be read on the event loop,
#: when the page cache holds them (see _cached_range)
_CACHED_READ = 256 * KiB
#: how many keys read lately a local store remembers
_WARM_KEYS = 4096
#: preadv's flag to fail rather than wait for the disk (Linux 4.14+); None elsewhere
_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)


def check_key(key: str) -> str:
    """Return `key` if it is a relative, normalised, '/'-separated path; else ValueError.

    Keys are server-made, so this never fires on a correct caller; it is defence in
    depth for `local_path`, which turns a key into a filesystem path.
    """
    if not key or key.startswith("/") or "\x00" in key:
        raise ValueError(f"invalid blob key {key!r}")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}: empty, '.' or '..' segment")
    return key


async def _link(source: Path, target: Path) -> bool:
    """Hard-link `source` to `target` atomically (link to a temporary name beside it,
    then rename over): the local store keeps an upload's bytes without copying them.
    False when the two are on different filesystems (or links are not supported), so the
    caller copies instead. A missing source raises FileNotFoundError."""

    def link() -> bool:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.link")
        try:
            os.link(source, temp)
        except FileNotFoundError:
            if not source.is_file():
                raise
            return False
        except OSError:  # EXDEV, EPERM, EMLINK: fall back to copying
            return False
        try:
            os.replace(temp, target)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()
            return False
        return True

    return await anyio.to_thread.run_sync(link)


def _check_prefix(prefix: str) -> str:
    """A key prefix may be empty or end in '/' but otherwise follows the key rules."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


def _cached_range(path: str, start: int, end: int | None) -> bytes | None:
    """The bytes [start, end) of the file, clipped like a slice, when they are at most
    _CACHED_READ and the page cache holds every one of them; None when reading them
    would wait for the disk, or the file system cannot say (the caller then reads them
    off the event loop). A missing file raises BlobNotFound.

    Only for files opened lately: their path is then in the kernel's caches, so the
    open does not wait for the disk either."""
    assert _NOWAIT is not None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise BlobNotFound() from exc
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        stop = size if end is None else min(end, size)
        if stop - start > _CACHED_READ:
            return None
        if stop <= start:
            return b""
        buffer = bytearray(stop - start)
        # RWF_NOWAIT: EAGAIN (BlockingIOError) instead of a wait for the disk; a short
        # count when only some of the pages are cached.
        if os.preadv(fd, [buffer], start, _NOWAIT) != len(buffer):
            return None
        return bytes(buffer)
    except OSError:
        return None
    finally:
        os.close(fd)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn obstore's errors into domain errors; the cause stays chained for the logs.

    obstore reports a missing object as the builtin FileNotFoundError (its NotFoundError
    is deprecated); everything else it raises derives from obstore.exceptions.BaseError,
    or is an OSError from the local filesystem.
    """
    try:
        yield
    except FileNotFoundError as exc:
        raise BlobNotFound() from exc
    except (BaseError, OSError) as exc:
        raise BackendUnavailable(f"the blob store failed to {action}") from exc


class ObstoreBlobStore:
    """A BlobStore over any obstore store (LocalStore, MemoryStore, S3Store).

    Every method translates obstore's errors once, here: a missing object becomes
    BlobNotFound, anything else BackendUnavailable (raised `from` the original).
    Keys that are not relative normalised paths raise ValueError. A local directory
    store reads small blobs it read lately straight from the page cache when they are
    there (`stream`), never waiting for the disk on the event loop.
    """

    def __init__(self, store: ObjectStore, *, ping_timeout: float = 5.0) -> None:
        self._store = store
        self._ping_timeout = ping_timeout
        self._presigner = S3Presigner.for_store(store) if isinstance(store, S3Store) else None
        root = self._local_root()
        #: the local directory, as a string (the fast read's paths are made from it)
        self._root = None if root is None else str(root)
        #: local keys read lately (insertion order, oldest first)
        self._warm: dict[str, None] = {}

    def __repr__(self) -> str:
        # The obstore repr names the bucket or directory, never credentials.
        return f"ObstoreBlobStore({self._store!r})"

    @property
    def store(self) -> ObjectStore:
        """The obstore store underneath (for tests and tooling)."""
        return self._store

    async def put_file(self, key: str, path: Path) -> None:
        """Store the file's bytes under `key`, replacing any; atomic for readers.

        The file is streamed in 8 MiB parts, at most 4 in flight, never read whole:
        memory stays bounded whatever the file's size. The file is left in place. A
        missing source file raises FileNotFoundError; store failures raise
        BackendUnavailable. On S3 a failed or cancelled upload may leave an incomplete
        multipart upload behind: configure a bucket lifecycle rule to abort those.
        """
        check_key(key)
        if (target := self.local_path(key)) is not None and await _link(path, target):
            return
        try:
            await obstore.put_async(
                self._store,
                key,
                path,
                chunk_size=_PART_SIZE,
                max_concurrency=_PARTS_IN_FLIGHT,
            )
        except FileNotFoundError as exc:
            # Either the source file is missing (a caller bug: let FileNotFoundError
            # through) or the store's directory or bucket is (an outage).
            if not await anyio.Path(path).is_file():
                raise
            raise BackendUnavailable("the blob store failed to store a file") from exc
        except (BaseError, OSError) as exc:
            raise BackendUnavailable("the blob store failed to store a file") from exc

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing any; atomic for readers.

        Raises BackendUnavailable.
        """
        check_key(key)
        try:
            await obstore.put_async(self._store, key, data)
        except (BaseError, OSError) as exc:
            # A FileNotFoundError here means the store's root or bucket is gone.
            raise BackendUnavailable("the blob store failed to store bytes") from exc

    @asynccontextmanager
    async def local_file(self, key: str, scratch: Path) -> AsyncIterator[Path]:
        """A local file with the bytes under `key` while the context lasts: the stored
        file itself for a local directory store (no copy: libvips reads it in place),
        otherwise the blob streamed into a temporary file under `scratch`, never held
        whole in memory, and removed on exit. The file must not be changed.

        Raises BlobNotFound, BackendUnavailable."""
        path = self.local_path(key)
        if path is not None:
            if not await anyio.Path(path).is_file():
                raise BlobNotFound()
            yield path
            return
        await anyio.Path(scratch).mkdir(parents=True, exist_ok=True)
        fd, name = await anyio.to_thread.run_sync(
            lambda: tempfile.mkstemp(prefix="blob-", suffix=".part", dir=scratch))
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as sink:
                async for chunk in self.stream(key):
                    await anyio.to_thread.run_sync(sink.write, chunk)
            yield temp
        finally:
            # Synchronously: under cancellation an await here would be cancelled too.
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)

    async def read(self, key: str) -> bytes:
        """All the bytes under `key`. Raises BlobNotFound, BackendUnavailable."""
        check_key(key)
        with _translated("read a blob"):
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())

    async def stream(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes [start, end) under `key`, in chunks of at most 1 MiB.

        This is an async generator: nothing happens until the first iteration, so
        BlobNotFound and BackendUnavailable surface from the first `anext()`, which a
        caller should await before it commits to a response status. The range is
        clipped to the blob like a slice: `end` past the end stops at the end, `start`
        at or past the end yields nothing. A negative `start` or `end < start` raises
        ValueError (also on first iteration).
        """
        check_key(key)
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range [{start}, {end})")
        if end == start:
            # An empty range still has to say whether the blob exists.
            if not await self.exists(key):
                raise BlobNotFound()
            return
        if key in self._warm and self._root is not None:
            # A small blob served again (a hot thumbnail) comes from the page cache in
            # a few system calls on the loop. obstore's read goes through its own
            # threads and back; without this, a process delivered about half as many
            # thumbnails a second (bench_delivery). Each read opens the file anew, so a
            # replaced or deleted blob reads as it is now. The path is a string, not
            # local_path's Path (pathlib cost a twentieth of a delivery; keys are
            # '/'-separated, and RWF_NOWAIT exists on Linux only).
            data = _cached_range(f"{self._root}/{key}", start, end)
            if data is not None:
                if data:
                    yield data
                return
        result = await self._get_range(key, start, end)
        if result is None:
            return
        if self._root is not None and _NOWAIT is not None:
            self._warm[key] = None
            if len(self._warm) > _WARM_KEYS:
                del self._warm[next(iter(self._warm))]
        chunks = result.stream(min_chunk_size=_READ_CHUNK)
        while True:
            # Translate around the fetch only, never around the yield: errors thrown
            # into this generator by its consumer are not the store's.
            with _translated("read a blob"):
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
            if len(chunk) <= _MAX_CHUNK:
                if chunk:
                    yield chunk
                continue
            view = memoryview(chunk)
            for offset in range(0, len(view), _MAX_CHUNK):
                yield bytes(view[offset : offset + _MAX_CHUNK])

    async def _get_range(self, key: str, start: int, end: int | None) -> GetResult | None:
        """Start a ranged GET; None when `start` lies at or past the end of the blob."""
        options: GetOptions = {}
        if end is not None:
            options["range"] = (start, end)
        elif start > 0:
            options["range"] = {"offset": start}
        try:
            return await obstore.get_async(self._store, key, options=options)
        except FileNotFoundError as exc:
            raise BlobNotFound() from exc
        except (BaseError, OSError) as exc:
            if "range" not in options:
                raise BackendUnavailable("the blob store failed to read a blob") from exc
            # Every store answers a range starting at or past the end (of an empty blob,
            # too) with a generic error (S3: 416); a HEAD tells that from a real failure.
            with _translated("read a blob"):
                size = (await obstore.head_async(self._store, key))["size"]
            if size <= start:
                return None
            raise BackendUnavailable("the blob store failed to read a blob") from exc

    async def delete(self, key: str) -> None:
        """Remove `key`. Deleting an absent key is not an error. Raises BackendUnavailable."""
        check_key(key)
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            # LocalStore reports a missing file; S3 and MemoryStore succeed silently.
            return
        except (BaseError, OSError) as exc:
            raise BackendUnavailable("the blob store failed to delete a blob") from exc

    async def exists(self, key: str) -> bool:
        """Whether a blob is stored under `key`. Raises BackendUnavailable."""
        check_key(key)
        try:
            await obstore.head_async(self._store, key)
        except FileNotFoundError:
            return False
        except (BaseError, OSError) as exc:
            raise BackendUnavailable("the blob store failed to look up a blob") from exc
        return True

    async def keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every stored key that starts with `prefix` (as a string, not by path segment).

        Order is unspecified. Raises BackendUnavailable (on first iteration).
        """
        _check_prefix(prefix)
        # obstore matches prefixes by whole path segments ("a/b" does not find "a/bc"),
        # so list the enclosing directory and filter by string prefix.
        directory = prefix.rpartition("/")[0]
        listing = obstore.list(self._store, prefix=directory or None, chunk_size=500)
        while True:
            with _translated("list blobs"):
                try:
                    batch = await anext(listing)
                except StopAsyncIteration:
                    return
            for meta in batch:
                if meta["path"].startswith(prefix):
                    yield meta["path"]

    async def ping(self) -> None:
        """Raise BackendUnavailable unless the store answers within the ping timeout.

        Lists a prefix where nothing is stored: one cheap request, and on S3 it fails
        for a missing bucket or bad credentials, which a HEAD of a probe key would not.
        """
        root = self._local_root()
        try:
            with anyio.fail_after(self._ping_timeout):
                if root is not None and not await anyio.Path(root).is_dir():
                    raise BackendUnavailable(f"the blob directory {root} is missing")
                with _translated("answer a ping"):
                    await obstore.list_with_delimiter_async(self._store, prefix=_PING_PREFIX)
        except TimeoutError as exc:
            raise BackendUnavailable(
                f"the blob store did not answer within {self._ping_timeout} s"
            ) from exc

    @property
    def signs_urls(self) -> bool:
        """Whether `presign` hands out URLs: an S3 store with static credentials."""
        return self._presigner is not None

    def presign(self, key: str, method: str, *, issued_at: datetime, expires_in: int,
                headers: Mapping[str, str] | None = None,
                response: Mapping[str, str] | None = None) -> str | None:
        """A URL that lets anyone holding it make one `method` (GET or PUT) request for
        `key` straight at the store, from `issued_at` for `expires_in` seconds. The request
        must carry `headers` exactly (e.g. content-length, which caps a PUT); a GET is
        answered with the `response` headers (content-type, content-disposition,
        cache-control) instead of the stored ones. None when the store cannot hand out
        URLs (a local directory, memory, S3 without static credentials). No I/O."""
        check_key(key)
        if self._presigner is None:
            return None
        return self._presigner.url(method, key, issued_at=issued_at, expires_in=expires_in,
                                   headers=headers, response=response)

    def local_path(self, key: str) -> Path | None:
        """The file holding `key` when the store is a local directory, else None.

        It lets the web edge hand the file to the server's sendfile instead of pumping
        bytes through Python. The file may not exist (nothing is checked). Raises
        ValueError for a key that is not a relative normalised path, so a key can never
        name a file outside the store's directory.
        """
        check_key(key)
        root = self._local_root()
        return None if root is None else root.joinpath(*key.split("/"))

    def _local_root(self) -> Path | None:
        if isinstance(self._store, LocalStore) and self._store.prefix is not None:
            return Path(self._store.prefix)
        return None
