"""The export run: a pool's originals into a directory, with a JSON manifest of them."""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread

from assetry.bulk.ports import AssetClient, Progress
from assetry.bulk.runs import each, settle, sha256_of
from assetry.domain.bulk import (
    MANIFEST,
    ORIGINALS,
    Outcome,
    Report,
    Result,
    StoredAsset,
    export_paths,
    manifest,
    manifest_row,
)


@dataclass(frozen=True, slots=True)
class ExportOptions:
    pool: str
    directory: Path
    concurrency: int = 4  #: downloads at once


async def export_pool(client: AssetClient, options: ExportOptions, progress: Progress
                      ) -> Report:
    """Write every original of the pool the client may see under `directory/originals/`
    and list them in `directory/manifest.json` (id, path, filename, sha256, sizes,
    gallery, metadata, attachments, …), oldest first.

    Every download is checked against the asset's size and SHA-256 and only then moved
    into place, so no file is ever half written. A file already there with the right
    bytes is skipped: exporting into the same directory again fetches only what is new
    or changed. A refused download is a failed result and the run goes on; a refusal no
    other file could escape (no answer, 401, 403, 503) stops it (`report.stopped`). The
    manifest lists the files that are in place, also after failures. Raises Refused when
    the pool's listing cannot be read."""
    report = Report()
    # The listing, not the pool, answers whether the pool is there and readable: anyone
    # may read a public pool's assets, only viewers and above the pool itself.
    async with aclosing(client.assets(options.pool)) as listing:
        assets = [asset async for asset in listing]
    assets.reverse()  # oldest first: older files keep their names as the pool grows
    paths = export_paths(assets)
    (options.directory / ORIGINALS).mkdir(parents=True, exist_ok=True)
    report.planned = len(assets)
    progress.start(len(assets), sum(a.size for a in assets))
    in_place: set[str] = set()

    async def one(asset: StoredAsset) -> Result:
        path = paths[asset.id]
        target = options.directory / path
        if await anyio.to_thread.run_sync(_holds, target, asset):
            in_place.add(asset.id)
            return Result(path, Outcome.SKIPPED, asset.size, "already exported",
                          asset_id=asset.id)
        # A dot name: never an exported name (those are sanitised), never imported again.
        partial = target.with_name(f".{target.name}.part")
        try:
            size, digest = await _download(client, asset.id, partial)
            if (size, digest) != (asset.size, asset.sha256):
                return Result(path, Outcome.FAILED, asset.size,
                              f"received {size} bytes with SHA-256 {digest}; the asset has "
                              f"{asset.size} bytes with SHA-256 {asset.sha256}",
                              asset_id=asset.id)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        in_place.add(asset.id)
        return Result(path, Outcome.DONE, asset.size, asset_id=asset.id)

    async def work(asset: StoredAsset) -> bool:
        return await settle(report, progress, paths[asset.id], asset.size,
                            lambda: one(asset), io="write", asset_id=asset.id)

    await each(assets, work, concurrency=options.concurrency)
    rows = [manifest_row(a, paths[a.id]) for a in assets if a.id in in_place]
    exported_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _write_atomically(options.directory / MANIFEST,
                      json.dumps(manifest(options.pool, rows, exported_at), indent=2,
                                 ensure_ascii=False) + "\n")
    return report


def _holds(target: Path, asset: StoredAsset) -> bool:
    """Whether `target` is a file with exactly the asset's bytes."""
    try:
        return (target.is_file() and target.stat().st_size == asset.size
                and sha256_of(target) == asset.sha256)
    except OSError:
        return False


async def _download(client: AssetClient, asset_id: str, path: Path) -> tuple[int, str]:
    """Write the original's bytes to `path`; return their count and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    async with await anyio.open_file(path, "wb") as f, \
            aclosing(client.content(asset_id)) as chunks:
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            await f.write(chunk)
    return size, digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
