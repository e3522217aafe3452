"""The import and export runs against an in-memory AssetClient: concurrency, skipping,
stopping and checking, on a real file system."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from uuid import uuid4

import anyio
import anyio.lowlevel
import pytest

from assetry.bulk import importer
from assetry.bulk.exporter import ExportOptions, export_pool
from assetry.bulk.importer import ImportOptions, import_files
from assetry.bulk.ports import Refused
from assetry.bulk.runs import each, sha256_of
from assetry.bulk.walk import scan
from assetry.domain.bulk import Outcome, PoolInfo, Result, StoredAsset


class MemoryClient:
    """One pool `p` in memory; uploads take a moment, so runs overlap them."""

    def __init__(self, max_size: int = 1000, refuse: dict[str, Refused] | None = None) -> None:
        self.max_size = max_size
        self.refuse = refuse or {}
        self.stored: dict[str, tuple[str, bytes]] = {}  # id -> (filename, bytes)
        self.uploaded: list[str] = []
        self.tampered: set[str] = set()  # ids whose content comes back changed
        self.in_flight = self.peak = 0

    async def pool(self, name: str) -> PoolInfo:
        if name != "p":
            raise Refused(404, f"no pool named '{name}'")
        return PoolInfo(name, self.max_size)

    async def has(self, pool: str, sha256: str) -> bool:
        return any(hashlib.sha256(data).hexdigest() == sha256
                   for _, data in self.stored.values())

    async def upload(self, pool: str, path: Path, *, filename: str, gallery: str | None,
                     converter: str | None) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await anyio.sleep(0.01)
            if filename in self.refuse:
                raise self.refuse[filename]
            asset_id = str(uuid4())
            self.stored[asset_id] = (filename, await anyio.Path(path).read_bytes())
            self.uploaded.append(filename)
            return asset_id
        finally:
            self.in_flight -= 1

    async def assets(self, pool: str) -> AsyncGenerator[StoredAsset, None]:
        for asset_id, (filename, data) in reversed(self.stored.items()):
            yield StoredAsset(
                id=asset_id, type="file", filename=filename,
                sha256=hashlib.sha256(data).hexdigest(), mime_type="text/plain",
                size=len(data), width=None, height=None, gallery=asset_id, metadata={},
                attached_to=(), hidden=False, created_at="2026-11-22T00:00:00.000Z")

    async def content(self, asset_id: str) -> AsyncGenerator[bytes, None]:
        data = self.stored[asset_id][1]
        yield data[:3]
        yield data[3:] + (b"!" if asset_id in self.tampered else b"")


class Watch:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.started: tuple[int, int] | None = None
        self.results: list[Result] = []

    def start(self, files: int, size: int) -> None:
        self.started = (files, size)

    def finished(self, result: Result) -> None:
        self.results.append(result)


def tree(root: Path, files: dict[str, bytes]) -> list[Path]:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return [root]


async def test_import_sends_each_new_content_once_with_bounded_concurrency(
        tmp_path: Path) -> None:
    files = {f"f{i:02d}.txt": f"file {i}".encode() for i in range(12)}
    files["sub/copy.txt"] = b"file 3"
    found = scan(tree(tmp_path / "in", files))
    client, watch = MemoryClient(), Watch()
    report = await import_files(client, found.files, ImportOptions("p", concurrency=3), watch)

    assert client.peak == 3  # overlapping, never more than asked
    assert sorted(client.uploaded) == sorted(n for n in files if n != "sub/copy.txt")
    assert watch.started == (13, sum(len(d) for d in files.values()))
    assert sorted(r.name for r in watch.results) == sorted(r.name for r in report.results)
    copy = next(r for r in report.results if r.name.endswith("copy.txt"))
    assert (copy.outcome, copy.reason) == (
        Outcome.SKIPPED, f"the same bytes as {tmp_path / 'in' / 'f03.txt'}")
    assert report.count(Outcome.DONE) == 12 and report.exit_code == 0

    again = await import_files(client, found.files, ImportOptions("p"), Watch())
    assert {r.outcome for r in again.results} == {Outcome.SKIPPED}
    assert {r.reason for r in again.results} == {
        "already in pool 'p'", f"the same bytes as {tmp_path / 'in' / 'f03.txt'}"}
    assert len(client.stored) == 12


async def test_import_sends_the_first_found_of_two_copies_whichever_hashes_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = scan(tree(tmp_path, {"a-first.jpg": b"same", "b-copy.jpg": b"same"}))

    def slow_for_the_first(path: Path) -> str:
        if path.name == "a-first.jpg":
            time.sleep(0.3)  # the copy's hash is done long before
        return sha256_of(path)

    monkeypatch.setattr(importer, "sha256_of", slow_for_the_first)
    client = MemoryClient()
    report = await import_files(client, found.files, ImportOptions("p", concurrency=2),
                                Watch())
    assert client.uploaded == ["a-first.jpg"]
    assert [(Path(r.name).name, r.outcome, r.reason) for r in report.results] == [
        ("b-copy.jpg", Outcome.SKIPPED, f"the same bytes as {tmp_path / 'a-first.jpg'}"),
        ("a-first.jpg", Outcome.DONE, ""),
    ]


async def test_import_refusals_fail_their_file_and_the_rest_goes_on(tmp_path: Path) -> None:
    found = scan(tree(tmp_path, {"a.txt": b"a", "big.bin": b"x" * 101, "c.txt": b"c",
                                 "gone.txt": b"g"}))
    (tmp_path / "gone.txt").unlink()
    client = MemoryClient(max_size=100, refuse={
        "c.txt": Refused(415, "pool 'p' does not accept file assets")})
    report = await import_files(client, found.files, ImportOptions("p", concurrency=2),
                                Watch())
    assert client.uploaded == ["a.txt"]
    assert [(Path(f.name).name, f.status, f.reason) for f in report.failures] == [
        ("big.bin", 413, "the file is 101 bytes; pool 'p' accepts files of at most 100"),
        ("c.txt", 415, "pool 'p' does not accept file assets"),
        ("gone.txt", None, "cannot read it: No such file or directory"),
    ]
    assert report.exit_code == 1 and report.stopped is None


@pytest.mark.parametrize("status", [None, 401, 403, 503])
async def test_import_stops_at_a_refusal_no_file_could_escape(tmp_path: Path,
                                                             status: int | None) -> None:
    found = scan(tree(tmp_path, {f"{c}.txt": c.encode() for c in "abcde"}))
    client = MemoryClient(refuse={"c.txt": Refused(status, "the token is unknown or revoked")})
    report = await import_files(client, found.files, ImportOptions("p", concurrency=1),
                                Watch())
    assert client.uploaded == ["a.txt", "b.txt"]
    prefix = f"{status} " if status else ""
    assert report.stopped == (f"{tmp_path / 'c.txt'}: {prefix}the token is unknown or "
                              "revoked")
    assert (report.planned, len(report.results), report.exit_code) == (5, 2, 2)


async def test_import_into_an_unknown_pool_is_refused_before_any_file(tmp_path: Path) -> None:
    client = MemoryClient()
    with pytest.raises(Refused, match="no pool named 'q'"):
        await import_files(client, scan(tree(tmp_path, {"a": b"a"})).files,
                           ImportOptions("q"), Watch())
    assert client.uploaded == []


async def test_export_checks_every_download_and_leaves_no_partial_file(tmp_path: Path) -> None:
    client = MemoryClient()
    found = scan(tree(tmp_path / "in", {"a.txt": b"alpha", "b.txt": b"bravo", "c.txt": b"c"}))
    # One at a time: the pool's order (the manifest's, oldest first) is then a, b, c.
    await import_files(client, found.files, ImportOptions("p", concurrency=1), Watch())
    bad = next(i for i, (name, _) in client.stored.items() if name == "b.txt")
    client.tampered.add(bad)
    out = tmp_path / "out"
    watch = Watch()
    report = await export_pool(client, ExportOptions("p", out, concurrency=2), watch)

    assert watch.started == (3, 11)
    (failure,) = report.failures
    assert failure.name == "originals/b.txt" and failure.asset_id == bad
    digest = hashlib.sha256(b"bravo").hexdigest()
    assert failure.reason == (
        f"received 6 bytes with SHA-256 {hashlib.sha256(b'bravo!').hexdigest()}; "
        f"the asset has 5 bytes with SHA-256 {digest}")
    assert sorted(p.name for p in (out / "originals").iterdir()) == ["a.txt", "c.txt"]
    listed = json.loads((out / "manifest.json").read_text())
    assert [row["path"] for row in listed["assets"]] == ["originals/a.txt", "originals/c.txt"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "originals"]

    client.tampered.clear()
    (out / "originals" / "c.txt").write_bytes(b"changed here")
    report = await export_pool(client, ExportOptions("p", out), Watch())
    assert sorted((r.name, r.outcome) for r in report.results) == [
        ("originals/a.txt", Outcome.SKIPPED), ("originals/b.txt", Outcome.DONE),
        ("originals/c.txt", Outcome.DONE)]
    assert (out / "originals" / "c.txt").read_bytes() == b"c"
    assert json.loads((out / "manifest.json").read_text())["count"] == 3


async def test_each_runs_every_item_once_and_stops_starting_new_ones() -> None:
    seen: list[int] = []

    async def work(n: int) -> bool:
        await anyio.lowlevel.checkpoint()
        seen.append(n)
        return n != 4

    await each(range(10), work, concurrency=1)
    assert seen == [0, 1, 2, 3, 4]
    seen.clear()
    await each(range(10), lambda n: work(n + 10), concurrency=3)
    assert sorted(seen) == list(range(10, 20))
    with pytest.raises(ValueError, match="at least 1"):
        await each([], work, concurrency=0)
