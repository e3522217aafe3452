"""Transfer: move an installation to other back-ends (e.g. SQLite and a local directory to
PostgreSQL and S3): every blob, verified by SHA-256, then every row with its ids.
Resumable: what the target has already, verified, is left alone."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from assetry.domain.ports import BlobStore, Records, Spool, StoredBlob
from assetry.errors import BlobNotFound, TooLarge

#: rows read and written at a time
BATCH = 500
#: blob prefixes rows point into (what `verify` compares)
_BLOB_PREFIXES = ("originals/", "versions/")


class Progress(Protocol):
    """Where a transfer reports how far it got (the CLI draws bars from it)."""

    def begin(self, stage: str, total: int) -> None:
        """A stage starts: "blobs" (total in bytes) or "rows" (total in rows)."""
        ...

    def advance(self, stage: str, amount: int) -> None: ...


class _Quiet:
    def begin(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, amount: int) -> None:
        pass


@dataclass
class Report:
    """What a transfer did. `ok` when nothing failed and the target's rows point only at
    blobs its store has."""

    rows: dict[str, int] = field(default_factory=dict)  #: rows written, by table
    copied: int = 0  #: blobs copied and verified
    copied_bytes: int = 0
    skipped: int = 0  #: blobs the target had already, with the right SHA-256
    failed: list[tuple[str, str]] = field(default_factory=list)  #: (blob key, why)
    missing: list[str] = field(default_factory=list)  #: keys target rows point at, absent

    @property
    def ok(self) -> bool:
        return not self.failed and not self.missing


class _BadBlob(Exception):
    """This blob cannot be copied; the others go on."""


class TransferService:
    """Copies from the current back-ends to others. `target_rows` None: the database
    stays (only blobs move); `target_blobs` None: the store stays (only rows move).

    Run it while nothing writes to the source (stop the servers and workers, or
    accept that what changes meanwhile may be missed; a second run picks up what is
    new). Rows are written parents first, after every blob, so the target's rows never
    point at a blob it lacks; deletions in the source are not carried over."""

    def __init__(self, source_rows: Records, source_blobs: BlobStore, spool: Spool, *,
                 target_rows: Records | None, target_blobs: BlobStore | None,
                 concurrency: int = 4) -> None:
        if target_rows is None and target_blobs is None:
            raise ValueError("a transfer needs a target database, a target store, or both")
        self._source_rows = source_rows
        self._source_blobs = source_blobs
        self._spool = spool
        self._target_rows = target_rows
        self._target_blobs = target_blobs
        self._concurrency = concurrency

    async def run(self, progress: Progress | None = None) -> Report:
        """Copy, verify, report. Raises BackendUnavailable when a back-end stops
        answering (run it again to go on); a blob that cannot be copied (missing from the
        source, bytes that do not match their row) is reported, not raised."""
        progress = progress or _Quiet()
        report = Report()
        if self._target_blobs is not None:
            blobs = list({b.key: b async for b in self._source_rows.blobs()}.values())
            await self._copy_blobs(blobs, self._target_blobs, progress, report)
        if self._target_rows is not None:
            await self._copy_rows(self._target_rows, progress, report)
        report.missing = await self._missing()
        return report

    async def _copy_blobs(self, blobs: Sequence[StoredBlob], target: BlobStore,
                          progress: Progress, report: Report) -> None:
        progress.begin("blobs", sum(b.size for b in blobs))
        queue = iter(blobs)  # shared: each copier takes the next blob when it is free

        async def copier() -> None:
            for blob in queue:
                try:
                    copied = await self._copy_blob(blob, target)
                except _BadBlob as exc:
                    report.failed.append((blob.key, str(exc)))
                else:
                    if copied:
                        report.copied += 1
                        report.copied_bytes += blob.size
                    else:
                        report.skipped += 1
                progress.advance("blobs", blob.size)

        async with anyio.create_task_group() as group:
            for _ in range(self._concurrency):
                group.start_soon(copier)

    async def _copy_blob(self, blob: StoredBlob, target: BlobStore) -> bool:
        """True when copied, False when the target had it verified already."""
        if await _holds(target, blob):
            return False
        try:
            staged = await self._spool.receive(self._source_blobs.stream(blob.key),
                                               limit=blob.size)
        except BlobNotFound:
            raise _BadBlob("missing from the source store") from None
        except TooLarge:
            raise _BadBlob(f"the source holds more than the {blob.size} bytes its row "
                           "says") from None
        try:
            if (staged.size, staged.sha256) != (blob.size, blob.sha256):
                raise _BadBlob(f"the source's bytes ({staged.size} bytes, SHA-256 "
                               f"{staged.sha256[:12]}…) are not what its row says")
            await target.put_file(blob.key, staged.path)
        finally:
            self._spool.discard(staged)
        if not await _holds(target, blob):
            raise _BadBlob("the copy in the target store does not read back right")
        return True

    async def _copy_rows(self, target: Records, progress: Progress, report: Report) -> None:
        tables = self._source_rows.tables
        progress.begin("rows", sum([await self._source_rows.count(t) for t in tables]))
        for table in tables:
            report.rows[table] = 0
            async for rows in self._source_rows.read(table, batch=BATCH):
                await target.write(table, rows)
                report.rows[table] += len(rows)
                progress.advance("rows", len(rows))

    async def _missing(self) -> list[str]:
        """Keys the target's rows point at that the target's store does not have."""
        rows = self._target_rows or self._source_rows
        store = self._target_blobs or self._source_blobs
        wanted = {b.key async for b in rows.blobs()}
        stored: set[str] = set()
        for prefix in _BLOB_PREFIXES:
            stored |= {k async for k in store.keys(prefix)}
        return sorted(wanted - stored)


async def _holds(store: BlobStore, blob: StoredBlob) -> bool:
    """Whether `store` has `blob.key` with exactly the bytes its row says (read and
    hashed: a size or a listing would not catch a corrupt copy)."""
    digest, size = hashlib.sha256(), 0
    try:
        async for chunk in store.stream(blob.key):
            size += len(chunk)
            digest.update(chunk)
    except BlobNotFound:
        return False
    return size == blob.size and digest.hexdigest() == blob.sha256
