"""The original image service's scenarios (docs/seed-systems.md §1b, K1-K11) replayed
through a plain JSON-RPC client against a real server.

What the original did over its other services is done the Assetry way and said so:
a converter record is `PUT /api/converters/{name}` and a file record plus its upload is
`POST /api/pools/{pool}/assets` (the original had no RPC upload either). K6 (converter
record CRUD) has no JSON-RPC method in the original's images service; it is covered over
REST in test_converters.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import banded, load
from tests.support.jsonrpc import RpcClient

WIDTH, HEIGHT = 640, 480
#: red above, blue below: a vertical flip puts blue on top
PHOTO = banded(WIDTH, HEIGHT, (0, HEIGHT // 2, WIDTH, HEIGHT // 2), fmt=".jpg")
KEEP = {"width": 10000, "height": 10000, "fit": "inside"}  # never upscaled: the same size
PROCESSED = [{"op": "blur", "sigma": 1}, {"op": "scale", "factor": 0.5},
             {"op": "flip", "axis": "vertical"}]
#: K1's converter: versions original (png, unprocessed), resized (jpeg 200x200),
#: scaled (jpeg q10, blurred, half, flipped), cropped (png, the scaled one cut 1:1)
KAIJU = {"versions": [
    {"name": "original", "format": "png", **KEEP},
    {"name": "resized", "format": "jpeg", "width": 200, "height": 200, "fit": "fill"},
    {"name": "scaled", "format": "jpeg", "quality": 10, "operations": PROCESSED, **KEEP},
    {"name": "cropped", "format": "png", **KEEP,
     "operations": [*PROCESSED, {"op": "aspect_crop", "ratio": [1, 1]}]},
]}
META_KEYS = {"test", "version", "format", "output_extension", "size", "file_size", "status"}


@pytest.fixture(scope="module")
def rpc(base_url: str, tokens: dict[str, str]) -> Iterator[RpcClient]:
    with httpx.Client(base_url=base_url, timeout=120,
                      headers={"Authorization": f"Bearer {tokens['admin']}"}) as http:
        assert http.put("/api/converters/kaiju", json=KAIJU).status_code == 201
        yield RpcClient(http)


@pytest.fixture(scope="module")
def file_id(rpc: RpcClient) -> str:
    """K3.1: a file record named test.jpg with the JPEG uploaded to it."""
    r = upload(rpc.http, PHOTO, filename="test.jpg", type="file")
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return str(body["id"])


@pytest.fixture(scope="module")
def converted(rpc: RpcClient, file_id: str) -> list[dict[str, Any]]:
    """K3.2: convert_from_file with metadata {test: true}."""
    rows: list[dict[str, Any]] = rpc.call("images.convert_from_file", file_id=file_id,
                                          converter_id="kaiju", metadata={"test": True})
    return rows


def fetch(rpc: RpcClient, row: dict[str, Any]) -> bytes:
    r = rpc.http.get(row["file"]["uri"])
    assert r.status_code == 200, r.text
    return r.content


def by_version(rows: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {r["version"]: r for r in rows}


def test_k1_the_converter_makes_every_configured_version(rpc: RpcClient,
                                                         converted: list[dict[str, Any]]) -> None:
    rows = by_version(converted)
    assert set(rows) == {None, "original", "resized", "scaled", "cropped"}
    for name in ("original", "resized", "scaled", "cropped"):
        meta = rows[name]["metadata"]
        assert set(meta) == META_KEYS, meta
        assert meta["test"] is True and meta["version"] == name and meta["status"] == "ready"
        data = fetch(rpc, rows[name])
        assert meta["file_size"] == len(data) == rows[name]["file"]["meta"]["file_size"]
        image = load(data)
        assert meta["size"] == [image.width, image.height]
    assert {n: rows[n]["metadata"]["format"] for n in ("original", "resized", "scaled",
                                                       "cropped")} == {
        "original": "png", "resized": "jpeg", "scaled": "jpeg", "cropped": "png"}
    assert rows["cropped"]["metadata"]["output_extension"] == "png"
    assert rows["resized"]["metadata"]["output_extension"] == "jpg"
    assert rows["original"]["metadata"]["size"] == [WIDTH, HEIGHT]
    assert rows["resized"]["metadata"]["size"] == [200, 200]
    assert rows["scaled"]["metadata"]["size"] == [WIDTH // 2, HEIGHT // 2]
    side = min(WIDTH // 2, HEIGHT // 2)
    assert rows["cropped"]["metadata"]["size"] == [side, side]
    # Flipped vertically: blue (the original's bottom) is on top now.
    scaled = load(fetch(rpc, rows["scaled"]))
    top, bottom = scaled(WIDTH // 4, 10), scaled(WIDTH // 4, HEIGHT // 2 - 10)
    assert top[2] > 200 and top[0] < 60, top
    assert bottom[0] > 200 and bottom[2] < 60, bottom
    original = load(fetch(rpc, rows["original"]))
    assert original(WIDTH // 2, 10)[0] > 200  # the unprocessed original is not flipped


def test_k2_the_image_converter_class_is_listed(rpc: RpcClient) -> None:
    page = rpc.call("images.converters.list", conditions={"cls": ["ImageConverter"]})
    kaiju = next(c for c in page["data"] if c["name"] == "kaiju")
    assert kaiju["cls"] == "ImageConverter" and kaiju["id"] == "kaiju"
    assert [v["name"] for v in kaiju["settings"]["versions"]] == [
        "original", "resized", "scaled", "cropped"]


def test_k3_the_original_and_its_versions_share_a_gallery_named_after_it(
        rpc: RpcClient, file_id: str, converted: list[dict[str, Any]]) -> None:
    original, *versions = converted
    assert original["version"] is None and original["original_id"] is None
    assert len(versions) == 4 and all(v["version"] for v in versions)
    assert {r["correlation_id"] for r in converted} == {original["id"]}
    assert all(v["original_id"] == original["id"] for v in versions)
    # The file record is a file of its own, and stays: the image holds a copy of its bytes.
    assert original["file_id"] != file_id
    assert fetch(rpc, original) == PHOTO
    source = rpc.call("files.get", id=file_id)
    assert (source["name"], source["extension"], source["meta"]["file_size"]) == (
        "test", "jpg", len(PHOTO))


def test_k4_the_gallery_by_its_correlation_id(rpc: RpcClient,
                                              converted: list[dict[str, Any]]) -> None:
    original = converted[0]
    gid = original["correlation_id"]
    for asked in (gid, [gid]):  # one id as a plain string too (the original broke on it)
        (gallery,) = rpc.call("images.gallery", id=asked)
        assert gallery["id"] == gid
        versions = gallery["versions"]
        # The real original under "original", never the converter version of that name.
        assert versions["original"]["original_id"] is None
        assert versions["original"]["id"] == original["id"]
        assert set(versions) == {"original", "resized", "scaled", "cropped"}
        for name, row in versions.items():
            assert row["correlation_id"] == gid
            if name != "original":
                assert row["original_id"] == original["id"]
            assert row["file"]["uri"] and fetch(rpc, row)
        (image,) = gallery["images"]
        assert image["versions"]["original"]["version"] == "original"
        assert image["versions"]["original"]["original_id"] == original["id"]


def test_k5_crud_create_exists_update_delete(rpc: RpcClient, file_id: str) -> None:
    row = rpc.call("images.create", data={"file_id": file_id, "meta": {"n": 1}})
    assert row["version"] is None and row["metadata"] == {"n": 1}
    assert row["correlation_id"] == row["id"]
    assert rpc.call("images.exists", id=row["id"]) is True
    updated = rpc.call("images.update", id=row["id"], data={"metadata": {"n": 2}})
    assert updated["metadata"] == {"n": 2} and updated["id"] == row["id"]
    assert rpc.call("images.get", id=row["id"])["metadata"] == {"n": 2}
    assert rpc.call("images.delete", id=row["id"]) is None
    assert rpc.call("images.exists", id=row["id"]) is False


def test_k5_the_bulk_forms_are_a_batch(rpc: RpcClient, file_id: str) -> None:
    created = rpc.send([{"jsonrpc": "2.0", "id": i, "method": "images.create",
                         "params": {"data": {"file_id": file_id}}} for i in range(3)])
    ids = [c["result"]["id"] for c in created]
    exists = rpc.send([{"jsonrpc": "2.0", "id": i, "method": "images.exists",
                        "params": [image]} for i, image in enumerate(ids)])
    assert [e["result"] for e in exists] == [True] * 3
    rpc.send([{"jsonrpc": "2.0", "id": i, "method": "images.update",
               "params": {"id": image, "data": {"metadata": {"bulk": True}}}}
              for i, image in enumerate(ids)])
    listed = rpc.call("images.list", conditions={"id": ids, "version": None})
    assert listed["count"] == 3
    assert all(r["metadata"] == {"bulk": True} for r in listed["data"])
    deleted = rpc.send([{"jsonrpc": "2.0", "id": i, "method": "images.delete",
                         "params": {"id": image, "columns": "id"}}
                        for i, image in enumerate(ids)])
    assert [d["result"] for d in deleted] == [{"id": i} for i in ids]
    assert rpc.call("images.list", conditions={"id": ids})["count"] == 0


def convert_again(rpc: RpcClient, file_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = rpc.call("images.convert_from_file", file_id=file_id,
                                          converter_id="kaiju")
    return rows


def test_k7_only_originals_convert_and_a_second_conversion_replaces(
        rpc: RpcClient, file_id: str) -> None:
    original, *versions = convert_again(rpc, file_id)
    resized = next(v for v in versions if v["version"] == "resized")
    error = rpc.error("images.convert_image", id=resized["id"], converter_id="kaiju")
    assert (error["code"], error["data"]["field"]) == (-32602, "id")
    assert 'version" must be null' in error["message"]
    again = rpc.call("images.convert_image", id=original["id"], converter_id="kaiju",
                     converter_settings={"versions": {"resized": {"width": 100,
                                                                  "height": 100}}})
    assert again[0]["id"] == original["id"]
    assert {r["version"] for r in again[1:]} == {"original", "resized", "scaled", "cropped"}
    assert by_version(again)["resized"]["metadata"]["size"] == [100, 100]
    # No pile-up: one row per version name, and the gallery shows the new ones.
    rows = rpc.call("images.list", conditions={"original_id": original["id"]})
    assert rows["count"] == 4
    assert {r["id"] for r in rows["data"]} == {r["id"] for r in again[1:]}
    (gallery,) = rpc.call("images.gallery", id=original["correlation_id"])
    assert gallery["versions"]["resized"]["id"] == by_version(again)["resized"]["id"]
    assert rpc.call("images.exists", id=resized["id"]) is False


def test_k8_versions_delete_never_the_original(rpc: RpcClient, file_id: str) -> None:
    original, *_ = convert_again(rpc, file_id)
    for versions in ([None], "original", ["resized", "original"]):
        error = rpc.error("images.versions.delete", id=original["id"], versions=versions)
        assert (error["code"], error["data"]["field"]) == (-32602, "versions")
    assert rpc.call("images.list", conditions={"original_id": original["id"]})["count"] == 4
    deleted = rpc.call("images.versions.delete", id=original["id"], versions=["resized"])
    assert [d["version"] for d in deleted] == ["resized"]
    assert rpc.http.get(deleted[0]["file"]["uri"]).status_code == 404
    (gallery,) = rpc.call("images.gallery", id=original["correlation_id"])
    assert set(gallery["versions"]) == {"original", "scaled", "cropped"}
    assert rpc.call("images.exists", id=original["id"]) is True


def test_k9_deleting_an_original_removes_its_versions(rpc: RpcClient, file_id: str) -> None:
    original, *versions = convert_again(rpc, file_id)
    rpc.call("images.delete", id=original["id"])
    for row in [original, *versions]:
        assert rpc.call("images.exists", id=row["id"]) is False
        assert rpc.http.get(row["file"]["uri"]).status_code == 404
    assert rpc.call("images.list", conditions={"original_id": original["id"]})["count"] == 0
    assert rpc.call("images.gallery", id=original["correlation_id"]) == []


def test_k10_galleries_in_the_order_asked_without_unknown_ones(rpc: RpcClient,
                                                               file_id: str) -> None:
    first = convert_again(rpc, file_id)[0]["correlation_id"]
    second = convert_again(rpc, file_id)[0]["correlation_id"]
    for asked in ([second, "00000000-0000-4000-8000-000000000000", first], [first, second]):
        found = rpc.call("images.gallery", id=asked)
        assert [g["id"] for g in found] == [g for g in asked if g in (first, second)]


def test_k11_a_correlation_id_adds_the_image_to_a_gallery_of_many(rpc: RpcClient,
                                                                  file_id: str) -> None:
    first, *_ = convert_again(rpc, file_id)
    gid = first["correlation_id"]
    second, *versions = rpc.call("images.convert_from_file", file_id=file_id,
                                 converter_id="kaiju", correlation_id=gid)
    assert second["id"] != gid and second["correlation_id"] == gid
    assert {v["correlation_id"] for v in versions} == {gid}
    (gallery,) = rpc.call("images.gallery", id=gid)
    # Decided on purpose: the gallery holds both images; `versions` is the newest one's.
    assert [i["original"]["id"] for i in gallery["images"]] == [first["id"], second["id"]]
    assert gallery["versions"]["original"]["id"] == second["id"]
    assert {r["original_id"] for n, r in gallery["versions"].items() if n != "original"} == {
        second["id"]}
    assert rpc.call("images.list", conditions={"correlation_id": gid, "version": None}
                    )["count"] == 2
