"""The BlobStore contract, held against every registered back-end (memory, file, real S3)."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from assetry.blobs import _FACTORIES, ObstoreBlobStore, open_blob_store
from assetry.domain.ports import BlobStore
from assetry.errors import BackendUnavailable, BlobNotFound

MiB = 1024 * 1024
SCHEMES = ("memory", "file", "s3")
#: s3 runs a real SeaweedFS server (a subprocess): the "slow" marker's definition
BACKENDS = [pytest.param(s, marks=pytest.mark.slow) if s == "s3" else s for s in SCHEMES]


@pytest.fixture(params=BACKENDS)
def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "memory":
        return open_blob_store("memory://")
    if request.param == "file":
        return open_blob_store((tmp_path / "blobs").as_uri())
    server = request.getfixturevalue("seaweed")
    # One shared bucket; a fresh prefix per test keeps the cases independent.
    return open_blob_store(server.url(prefix=f"t-{uuid4().hex}"))


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-looking bytes (a range error shows as a mismatch)."""
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


async def collect(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key, start, end)])


def test_contract_covers_every_registered_scheme() -> None:
    assert set(SCHEMES) == set(_FACTORIES)


async def test_blob_store_put_bytes_then_read_roundtrips(blob_store: BlobStore) -> None:
    await blob_store.put_bytes("a/b/one", b"hello")
    assert await blob_store.read("a/b/one") == b"hello"
    assert await blob_store.exists("a/b/one")


async def test_blob_store_empty_blob_roundtrips(blob_store: BlobStore) -> None:
    await blob_store.put_bytes("empty", b"")
    assert await blob_store.read("empty") == b""
    assert await blob_store.exists("empty")
    assert await collect(blob_store, "empty") == b""
    assert await collect(blob_store, "empty", 0, 10) == b""
    assert await collect(blob_store, "empty", 3) == b""


async def test_blob_store_put_file_streams_a_large_file(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as f:
        for i in range(20):
            block = payload(MiB, seed=i)
            digest.update(block)
            f.write(block)

    await blob_store.put_file("originals/big", source)

    streamed = hashlib.sha256()
    sizes = []
    async for chunk in blob_store.stream("originals/big"):
        streamed.update(chunk)
        sizes.append(len(chunk))
    assert streamed.hexdigest() == digest.hexdigest()
    assert sum(sizes) == 20 * MiB
    assert max(sizes) <= MiB  # delivered in bounded chunks, never as one 20 MiB piece
    assert source.exists()  # put_file copies; the spool owns the source


async def test_blob_store_put_file_of_a_missing_source_raises_file_not_found(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await blob_store.put_file("k", tmp_path / "absent")


async def test_blob_store_local_file_holds_the_bytes_for_the_context(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    data = payload(3 * MiB + 17, seed=5)
    await blob_store.put_bytes("orig/one", data)
    scratch = tmp_path / "scratch"
    async with blob_store.local_file("orig/one", scratch) as path:
        assert path.read_bytes() == data
    # A temporary download is gone afterwards; a local store's own file stays.
    assert not scratch.exists() or list(scratch.iterdir()) == []
    assert await blob_store.read("orig/one") == data


async def test_blob_store_local_file_of_a_missing_key_raises_blob_not_found(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    with pytest.raises(BlobNotFound):
        async with blob_store.local_file("no/such/key", tmp_path / "scratch"):
            pass
    assert not (tmp_path / "scratch").exists() or list((tmp_path / "scratch").iterdir()) == []


async def test_blob_store_put_file_keeps_the_bytes_after_the_source_is_removed(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    # The local store links the upload's spool file instead of copying it: removing the
    # spool file afterwards must not take the blob with it.
    source = tmp_path / "spool.part"
    source.write_bytes(payload(100_000, seed=9))
    await blob_store.put_file("orig/linked", source)
    source.unlink()
    assert await blob_store.read("orig/linked") == payload(100_000, seed=9)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (1000, None),  # start only
        (10, 20),  # start and end
        (100_000, 2_900_000),  # crosses several 256 KiB read and 1 MiB yield boundaries
        (0, 1),
        (3 * MiB - 1, None),  # the last byte
        (2 * MiB, 10 * MiB),  # end past the end stops at the end
        (3 * MiB, None),  # start at the end: nothing
        (4 * MiB, 5 * MiB),  # start past the end: nothing
        (5, 5),  # empty range
    ],
)
async def test_blob_store_stream_yields_the_byte_range(
    blob_store: BlobStore, start: int, end: int | None
) -> None:
    data = payload(3 * MiB)
    await blob_store.put_bytes("ranged", data)
    assert await collect(blob_store, "ranged", start, end) == data[start:end]


async def test_blob_store_stream_yields_bounded_chunks(blob_store: BlobStore) -> None:
    await blob_store.put_bytes("chunked", payload(3 * MiB))
    sizes = [len(c) async for c in blob_store.stream("chunked", 100_000, 2_900_000)]
    assert len(sizes) > 1
    assert all(0 < size <= MiB for size in sizes)


@pytest.mark.parametrize(("start", "end"), [(-1, None), (10, 5)])
async def test_blob_store_stream_rejects_an_inverted_range(
    blob_store: BlobStore, start: int, end: int | None
) -> None:
    await blob_store.put_bytes("k", b"0123456789")
    with pytest.raises(ValueError, match="range"):
        await collect(blob_store, "k", start, end)


async def test_blob_store_read_missing_key_raises_blob_not_found(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await blob_store.read("absent")


@pytest.mark.parametrize(("start", "end"), [(0, None), (5, None), (5, 10), (5, 5)])
async def test_blob_store_stream_missing_key_raises_on_first_iteration(
    blob_store: BlobStore, start: int, end: int | None
) -> None:
    chunks = blob_store.stream("absent", start, end)  # nothing happens yet
    with pytest.raises(BlobNotFound):
        await anext(chunks)


@pytest.mark.parametrize(("start", "end"), [(0, None), (3, 7), (3, None), (8, 100), (10, None),
                                            (12, 20)])
async def test_blob_store_a_blob_read_again_reads_as_it_is_now(
    blob_store: BlobStore, start: int, end: int | None
) -> None:
    # A local store reads small blobs it read lately from the page cache: the same bytes,
    # and a replace or delete shows at once.
    await blob_store.put_bytes("hot/k", b"0123456789")
    assert await collect(blob_store, "hot/k") == b"0123456789"
    assert await collect(blob_store, "hot/k", start, end) == b"0123456789"[start:end]
    await blob_store.put_bytes("hot/k", b"replaced, longer")
    assert await collect(blob_store, "hot/k", start, end) == b"replaced, longer"[start:end]
    await blob_store.delete("hot/k")
    with pytest.raises(BlobNotFound):
        await anext(blob_store.stream("hot/k", start, end))


async def test_blob_store_a_large_blob_read_again_comes_in_bounded_chunks(
    blob_store: BlobStore
) -> None:
    data = payload(3 * MiB)
    await blob_store.put_bytes("hot/large", data)
    for _ in range(2):
        sizes = [len(c) async for c in blob_store.stream("hot/large")]
        assert len(sizes) > 1 and all(0 < size <= MiB for size in sizes)
    assert await collect(blob_store, "hot/large", 1000, 300_000) == data[1000:300_000]
    assert await collect(blob_store, "hot/large", 1000, 300_000) == data[1000:300_000]


async def test_blob_store_delete_missing_key_is_a_no_op(blob_store: BlobStore) -> None:
    await blob_store.delete("absent")
    await blob_store.delete("no/such/dir/absent")


async def test_blob_store_delete_then_exists_is_false(blob_store: BlobStore) -> None:
    await blob_store.put_bytes("doomed", b"x")
    await blob_store.delete("doomed")
    assert not await blob_store.exists("doomed")
    with pytest.raises(BlobNotFound):
        await blob_store.read("doomed")


async def test_blob_store_put_replaces_existing_bytes(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    await blob_store.put_bytes("k", b"a much longer first value")
    await blob_store.put_bytes("k", b"second")
    assert await blob_store.read("k") == b"second"
    source = tmp_path / "third"
    source.write_bytes(b"third")
    await blob_store.put_file("k", source)
    assert await blob_store.read("k") == b"third"


async def test_blob_store_keys_lists_only_the_prefix(blob_store: BlobStore) -> None:
    for key in ("o/ab/1", "o/ab/2", "o/abc/3", "o/b/4", "v/ab/5", "o/a"):
        await blob_store.put_bytes(key, b"x")

    async def keys(prefix: str = "") -> list[str]:
        return sorted([k async for k in blob_store.keys(prefix)])

    assert await keys("o/ab/") == ["o/ab/1", "o/ab/2"]
    assert await keys("o/ab") == ["o/ab/1", "o/ab/2", "o/abc/3"]  # a string prefix
    assert await keys("o/a") == ["o/a", "o/ab/1", "o/ab/2", "o/abc/3"]
    assert await keys("v/") == ["v/ab/5"]
    assert await keys("nothing/") == []
    assert len(await keys()) == 6


async def test_blob_store_ping_answers(blob_store: BlobStore) -> None:
    await blob_store.ping()


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "a/", "../up", "a/../b", "a/./b"])
async def test_blob_store_rejects_keys_that_are_not_normalised_paths(
    blob_store: BlobStore, key: str
) -> None:
    with pytest.raises(ValueError, match="key"):
        await blob_store.put_bytes(key, b"x")
    with pytest.raises(ValueError, match="key"):
        await blob_store.read(key)


def test_file_store_local_path_points_into_its_directory(tmp_path: Path) -> None:
    store = open_blob_store((tmp_path / "blobs").as_uri())
    assert isinstance(store, ObstoreBlobStore)
    assert store.local_path("a/b/c.jpg") == (tmp_path / "blobs" / "a" / "b" / "c.jpg").resolve()
    with pytest.raises(ValueError, match="key"):
        store.local_path("../../etc/passwd")
    memory = open_blob_store("memory://")
    assert isinstance(memory, ObstoreBlobStore)
    assert memory.local_path("a/b") is None


async def test_file_store_local_path_holds_the_bytes(tmp_path: Path) -> None:
    store = open_blob_store((tmp_path / "blobs").as_uri())
    assert isinstance(store, ObstoreBlobStore)
    await store.put_bytes("a/b", b"bytes")
    path = store.local_path("a/b")
    assert path is not None
    assert path.read_bytes() == b"bytes"


async def test_file_store_ping_fails_when_its_directory_is_gone(tmp_path: Path) -> None:
    store = open_blob_store((tmp_path / "blobs").as_uri())
    (tmp_path / "blobs").rmdir()
    with pytest.raises(BackendUnavailable):
        await store.ping()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but never listening: every connection is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def unreachable_s3(closed_port: int) -> BlobStore:
    return open_blob_store(
        f"s3://nowhere?endpoint=http://127.0.0.1:{closed_port}&region=us-east-1"
        "&access_key_id=k&secret_access_key=s&max_retries=0&connect_timeout=1&timeout=2"
    )


async def test_s3_store_that_does_not_answer_raises_backend_unavailable(
    unreachable_s3: BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x")
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        await unreachable_s3.ping()
    with pytest.raises(BackendUnavailable):
        await unreachable_s3.read("k")
    with pytest.raises(BackendUnavailable):
        await collect(unreachable_s3, "k", 5, 10)
    with pytest.raises(BackendUnavailable):
        await unreachable_s3.put_bytes("k", b"x")
    with pytest.raises(BackendUnavailable):
        await unreachable_s3.put_file("k", source)
    with pytest.raises(BackendUnavailable):
        await unreachable_s3.exists("k")
    with pytest.raises(BackendUnavailable):
        await unreachable_s3.delete("k")
    with pytest.raises(BackendUnavailable):
        [k async for k in unreachable_s3.keys("a/")]
    assert time.monotonic() - started < 10


async def test_backend_unavailable_chains_the_obstore_error(unreachable_s3: BlobStore) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        await unreachable_s3.read("k")
    assert caught.value.__cause__ is not None
    assert "127.0.0.1" in str(caught.value.__cause__)  # the logs keep the details
