"""DiskSpool: counting, hashing, the size limit and clean-up on every failure."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import anyio
import pytest

from assetry.blobs.spool import DiskSpool
from assetry.errors import TooLarge


async def chunks_of(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def spooled(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"  # not created: the spool makes it on first use


async def test_spool_receive_counts_and_hashes(spool_dir: Path) -> None:
    parts = [os.urandom(n) for n in (1, 70_000, 0, 3 * 1024 * 1024 + 5, 12)]
    data = b"".join(parts)

    staged = await DiskSpool(spool_dir).receive(chunks_of(parts), limit=len(data))

    assert staged.size == len(data)
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert staged.path.parent == spool_dir
    assert staged.path.read_bytes() == data
    assert stat.S_IMODE(staged.path.stat().st_mode) == 0o600


async def test_spool_receive_keeps_the_order_of_batches_written_while_more_arrive(
    spool_dir: Path,
) -> None:
    # 5.6 MiB in ASGI-sized chunks: several 1 MiB batches, each written while the next
    # is gathered.
    parts = [os.urandom(300_000) for _ in range(20)]
    data = b"".join(parts)

    staged = await DiskSpool(spool_dir).receive(chunks_of(parts), limit=len(data))

    assert staged.path.read_bytes() == data
    assert staged.sha256 == hashlib.sha256(data).hexdigest()


async def test_spool_receive_accepts_exactly_the_limit(spool_dir: Path) -> None:
    staged = await DiskSpool(spool_dir).receive(chunks_of([b"abc", b"de"]), limit=5)
    assert staged.size == 5
    assert staged.path.read_bytes() == b"abcde"


async def test_spool_receive_accepts_an_empty_body(spool_dir: Path) -> None:
    staged = await DiskSpool(spool_dir).receive(chunks_of([]), limit=0)
    assert staged.size == 0
    assert staged.sha256 == hashlib.sha256(b"").hexdigest()
    assert staged.path.read_bytes() == b""


@pytest.mark.parametrize(
    "parts",
    [
        [b"abc", b"def"],  # the overflow arrives in the last chunk
        [b"abcdef"],  # one chunk, already too large
        [b"a"] * 6,  # byte by byte
        [os.urandom(2 * 1024 * 1024), b"x"],  # after a batch has reached the disk
    ],
)
async def test_spool_receive_over_the_limit_raises_too_large_and_leaves_nothing(
    spool_dir: Path, parts: list[bytes]
) -> None:
    limit = sum(map(len, parts)) - 1
    with pytest.raises(TooLarge) as caught:
        await DiskSpool(spool_dir).receive(chunks_of(parts), limit=limit)
    assert caught.value.limit == limit
    assert caught.value.size is None
    assert str(limit) in caught.value.message
    assert spooled(spool_dir) == []


async def test_spool_receive_stops_reading_at_the_limit(spool_dir: Path) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 1000

    with pytest.raises(TooLarge):
        await DiskSpool(spool_dir).receive(endless(), limit=10_000)
    assert pulled == 11


async def test_spool_receive_removes_the_file_when_the_source_fails(spool_dir: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(2 * 1024 * 1024)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await DiskSpool(spool_dir).receive(broken(), limit=10 * 1024 * 1024)
    assert spooled(spool_dir) == []


async def test_spool_receive_cancelled_mid_stream_leaves_nothing(spool_dir: Path) -> None:
    midway = anyio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield os.urandom(2 * 1024 * 1024)  # one batch written to disk
        yield b"more"  # and some still in memory
        midway.set()
        await anyio.sleep_forever()
        yield b"never"

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: DiskSpool(spool_dir).receive(stalled(), limit=10 * 1024 * 1024))
        await midway.wait()
        assert len(spooled(spool_dir)) == 1
        tg.cancel_scope.cancel()
    assert spooled(spool_dir) == []


async def test_spool_receive_with_a_failing_disk_raises_and_leaves_nothing(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batches are written on worker threads while the next ones arrive: a write that
    # fails there (the disk filled up) still ends the upload, and takes its file along.
    create = DiskSpool._create

    def filling_up(self: DiskSpool) -> tuple[Any, Path]:
        file, path = create(self)
        room = [3 * 1024 * 1024]
        real_writelines = file.writelines

        def writelines(chunks: list[bytes]) -> None:
            room[0] -= sum(map(len, chunks))
            if room[0] < 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_writelines(chunks)

        file.writelines = writelines
        return file, path

    monkeypatch.setattr(DiskSpool, "_create", filling_up)
    parts = [os.urandom(256 * 1024) for _ in range(40)]  # 10 MiB, 10 batches
    with pytest.raises(OSError, match="No space left"):
        await DiskSpool(spool_dir).receive(chunks_of(parts), limit=20 * 1024 * 1024)
    assert spooled(spool_dir) == []


async def test_spool_receive_rejects_a_negative_limit(spool_dir: Path) -> None:
    with pytest.raises(ValueError, match="limit"):
        await DiskSpool(spool_dir).receive(chunks_of([]), limit=-1)


async def test_spool_receive_uses_a_new_file_each_time(spool_dir: Path) -> None:
    spool = DiskSpool(spool_dir)
    first = await spool.receive(chunks_of([b"1"]), limit=1)
    second = await spool.receive(chunks_of([b"2"]), limit=1)
    assert first.path != second.path
    assert first.path.read_bytes() == b"1"


async def test_spool_discard_removes_the_file_and_tolerates_a_second_call(
    spool_dir: Path,
) -> None:
    spool = DiskSpool(spool_dir)
    staged = await spool.receive(chunks_of([b"data"]), limit=10)
    spool.discard(staged)
    assert not staged.path.exists()
    spool.discard(staged)


async def test_spool_sweep_removes_only_stale_spool_files(spool_dir: Path) -> None:
    spool = DiskSpool(spool_dir)
    stale = await spool.receive(chunks_of([b"old"]), limit=10)
    fresh = await spool.receive(chunks_of([b"new"]), limit=10)
    hour_ago = time.time() - 3600
    os.utime(stale.path, (hour_ago, hour_ago))
    stranger = spool_dir / "not-ours.txt"
    stranger.write_bytes(b"keep")
    os.utime(stranger, (hour_ago, hour_ago))

    assert spool.sweep(older_than=600) == 1

    assert not stale.path.exists()
    assert fresh.path.exists()
    assert stranger.exists()
    assert spool.sweep(older_than=600) == 0


def test_spool_sweep_of_a_missing_directory_removes_nothing(tmp_path: Path) -> None:
    assert DiskSpool(tmp_path / "absent").sweep(older_than=0) == 0
