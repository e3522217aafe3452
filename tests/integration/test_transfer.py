"""TransferService on real SQLite databases and local blob directories: everything is
copied and verified; a rerun skips what is there and repairs what is not; a source blob
that is missing or not what its row says is reported, never copied."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from assetry.blobs import open_blob_store
from assetry.blobs.spool import DiskSpool
from assetry.db import migrate
from assetry.db.engine import SqlDatabase
from assetry.db.records import TABLES, SqlRecords
from assetry.domain.ports import BlobStore
from assetry.library import Assetry
from assetry.services.transfer import Report, TransferService
from tests.support.images import solid


@dataclass
class World:
    source_db: SqlDatabase
    target_db: SqlDatabase
    source_blobs: BlobStore
    target_blobs: BlobStore
    spool: DiskSpool
    blob_dir: Path  #: the source's blob directory

    def service(self, *, rows: bool = True, blobs: bool = True) -> TransferService:
        return TransferService(
            SqlRecords(self.source_db), self.source_blobs, self.spool,
            target_rows=SqlRecords(self.target_db) if rows else None,
            target_blobs=self.target_blobs if blobs else None, concurrency=3)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    source_dir = tmp_path / "source"
    async with Assetry.open(data_dir=source_dir, run_worker=False) as assetry:
        for i in range(3):
            await assetry.create(solid(200 + i, 150), filename=f"p{i}.jpg", wait=True)
        await assetry.create(b"some text", filename="notes.txt")
    target_url = f"sqlite:///{tmp_path / 'target' / 'assetry.db'}"
    migrate.upgrade(target_url)
    async with SqlDatabase.open(f"sqlite:///{source_dir / 'assetry.db'}") as source_db, \
            SqlDatabase.open(target_url) as target_db:
        yield World(source_db, target_db, open_blob_store(f"file://{source_dir / 'blobs'}"),
                    open_blob_store(f"file://{tmp_path / 'target' / 'blobs'}"),
                    DiskSpool(tmp_path / "spool"), source_dir / "blobs")


class Recorder:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def begin(self, stage: str, total: int) -> None:
        self.totals[stage] = total
        self.done[stage] = 0

    def advance(self, stage: str, amount: int) -> None:
        self.done[stage] += amount


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file()}


async def test_transfer_copies_and_verifies_everything(world: World, tmp_path: Path) -> None:
    progress = Recorder()
    report = await world.service().run(progress)
    source_files = files(world.blob_dir)
    assert report == Report(rows=report.rows, copied=len(source_files),
                            copied_bytes=sum(map(len, source_files.values())))
    assert report.ok and report.rows["assets"] == 4 and report.rows["versions"] == 6
    assert files(tmp_path / "target" / "blobs") == source_files
    assert progress.done == progress.totals
    assert progress.totals["blobs"] == sum(map(len, source_files.values()))
    assert progress.totals["rows"] == sum(report.rows.values())
    assert set(report.rows) == set(TABLES)


async def test_a_rerun_skips_what_is_there_and_repairs_what_is_not(world: World,
                                                                   tmp_path: Path) -> None:
    first = await world.service().run()
    again = await world.service().run()
    assert (again.copied, again.skipped, again.ok) == (0, first.copied, True)
    target = tmp_path / "target" / "blobs"
    damaged, lost, *_ = sorted(p for p in target.rglob("*") if p.is_file())
    damaged.write_bytes(b"rot")
    lost.unlink()
    repaired = await world.service(rows=False).run()
    assert (repaired.copied, repaired.skipped, repaired.rows) == (2, first.copied - 2, {})
    assert files(target) == files(world.blob_dir)


async def test_bad_source_blobs_are_reported_not_copied(world: World, tmp_path: Path) -> None:
    originals = sorted(p for p in (world.blob_dir / "originals").rglob("*") if p.is_file())
    originals[0].unlink()
    # As long as the row says, but other bytes: only the SHA-256 tells.
    originals[1].write_bytes(bytes(b ^ 0xFF for b in originals[1].read_bytes()))
    report = await world.service().run()
    reasons = dict(report.failed)
    assert len(reasons) == 2 and not report.ok
    missing_key = originals[0].relative_to(world.blob_dir).as_posix()
    corrupt_key = originals[1].relative_to(world.blob_dir).as_posix()
    assert reasons[missing_key] == "missing from the source store"
    assert "are not what its row says" in reasons[corrupt_key]
    assert report.missing == sorted([missing_key, corrupt_key])
    assert not (tmp_path / "target" / "blobs" / corrupt_key).exists()
    assert report.copied == len(files(world.blob_dir)) - 1


async def test_moving_only_the_store_leaves_the_rows(world: World) -> None:
    report = await world.service(rows=False).run()
    assert report.ok and report.rows == {} and report.copied > 0
    assert await SqlRecords(world.target_db).count("assets") == 0


def test_a_transfer_needs_a_target(world: World) -> None:
    with pytest.raises(ValueError, match="needs a target"):
        world.service(rows=False, blobs=False)
