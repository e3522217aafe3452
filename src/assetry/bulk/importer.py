"""The import run: found files into a pool, skipping the bytes the pool holds already."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from assetry.bulk.ports import AssetClient, Progress
from assetry.bulk.runs import Turns, each, settle, sha256_of
from assetry.domain.bulk import Claims, LocalFile, Outcome, Report, Result, oversize


@dataclass(frozen=True, slots=True)
class ImportOptions:
    pool: str
    gallery: str | None = None  #: every imported file goes into this gallery
    converter: str | None = None  #: the converter of every imported image
    concurrency: int = 4  #: files in flight at once (each: hash, look up, upload)


async def import_files(client: AssetClient, files: Sequence[LocalFile],
                       options: ImportOptions, progress: Progress) -> Report:
    """Send every file to the pool unless its bytes are there already: those are
    skipped, so running the same import again finishes what an interrupted one began.

    A refused file is a failed result with the server's status and detail, and the run
    goes on. A refusal no other file could escape (no answer, 401, 403, 503) stops the
    run: `report.stopped` says why. The pool is looked up first; Refused when it cannot
    be read."""
    report = Report(planned=len(files))
    pool = await client.pool(options.pool)
    claims = Claims()
    turns = Turns(len(files))
    progress.start(len(files), sum(f.size for f in files))

    async def one(index: int, file: LocalFile) -> Result:
        too_big = oversize(file.size, pool.max_size, pool.name)
        digest: str | None = None
        first: str | None = None
        try:
            if too_big is None:
                digest = await anyio.to_thread.run_sync(sha256_of, file.path)
        finally:
            # Files claim their bytes in the order found, whichever hash is done first:
            # of two files with the same bytes, the one found first is sent.
            async with turns.turn(index):
                if digest is not None:
                    first = claims.claim(digest, file.name)
        if too_big is not None:
            return Result(file.name, Outcome.FAILED, file.size, too_big, status=413)
        if first is not None:
            return Result(file.name, Outcome.SKIPPED, file.size, f"the same bytes as {first}")
        assert digest is not None
        if await client.has(pool.name, digest):
            return Result(file.name, Outcome.SKIPPED, file.size,
                          f"already in pool '{pool.name}'")
        # The name as found, not as resolved: a symbolic link's own name is the one meant.
        asset_id = await client.upload(pool.name, file.path, filename=Path(file.name).name,
                                       gallery=options.gallery, converter=options.converter)
        return Result(file.name, Outcome.DONE, file.size, asset_id=asset_id)

    async def work(item: tuple[int, LocalFile]) -> bool:
        index, file = item
        return await settle(report, progress, file.name, file.size, lambda: one(index, file),
                            io="read")

    await each(enumerate(files), work, concurrency=options.concurrency)
    return report
