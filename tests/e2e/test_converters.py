"""Converters over HTTP: stored, validated, used by convert; version deletion."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import load, solid

DEFAULT = {"name": "default", "versions": [
    {"name": "detail", "width": 800, "height": 800, "fit": "cover", "gravity": "centre",
     "format": "same", "quality": 80, "upscale": False, "operations": [], "widths": [],
     "source": None},
    {"name": "thumbnail", "width": 100, "height": 100, "fit": "cover", "gravity": "centre",
     "format": "same", "quality": 80, "upscale": False, "operations": [], "widths": [],
     "source": None},
]}


def test_default_converter_exists_from_the_first_start(client: httpx.Client) -> None:
    assert client.get("/api/converters/default").json() == DEFAULT
    assert "default" in [c["name"] for c in client.get("/api/converters").json()["items"]]


def test_converter_crud(client: httpx.Client) -> None:
    spec = {"versions": [{"name": "square", "width": 300, "height": 300,
                          "operations": [{"op": "grayscale"}, {"op": "rotate", "angle": 90}]}]}
    assert client.put("/api/converters/crud", json=spec).status_code == 201
    got = client.get("/api/converters/crud").json()
    assert got["versions"][0]["operations"] == [{"op": "grayscale"}, {"op": "rotate", "angle": 90}]
    spec["versions"][0]["width"] = 200
    assert client.put("/api/converters/crud", json=spec).status_code == 200
    assert client.get("/api/converters/crud").json()["versions"][0]["width"] == 200
    assert client.delete("/api/converters/crud").status_code == 204
    assert client.get("/api/converters/crud").status_code == 404


@pytest.mark.parametrize(("version", "field"), [
    ({"name": "v", "width": 0, "height": 10}, "versions[0].width"),
    ({"name": "v", "width": 10}, "versions[0]"),
    ({"name": "v", "width": 10, "height": 10, "fit": "stretch"}, "versions[0].fit"),
    ({"name": "v", "width": 10, "height": 10, "format": "bmp"}, "versions[0].format"),
    ({"name": "v", "width": 10, "height": 10, "operations": [{"op": "rotate", "angle": 45}]},
     "versions[0].operations[0].angle"),
    ({"name": "v", "width": 10, "height": 10, "operations": [{"op": "get_size"}]},
     "versions[0].operations[0].op"),
    ({"name": "Bad Name", "width": 10, "height": 10}, "versions[0].name"),
])
def test_bad_converter_is_422_and_not_stored(client: httpx.Client, version: dict, field: str
                                            ) -> None:
    r = client.put("/api/converters/bad", json={"versions": [version]})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert client.get("/api/converters/bad").status_code == 404


def test_converter_in_use_by_a_pool_cannot_be_deleted(client: httpx.Client) -> None:
    assert client.delete("/api/converters/default").status_code == 409


def test_convert_with_another_converter_and_settings(client: httpx.Client) -> None:
    client.put("/api/converters/tiny", json={"versions": [
        {"name": "tiny", "width": 40, "height": 30, "fit": "fill", "format": "png"}]})
    body = upload(client, solid(800, 600)).json()
    r = client.post(f"{body['url']}/convert?wait=true", json={"converter": "tiny"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["converter"] == "tiny"
    assert set(out["versions"]) == {"detail", "thumbnail", "tiny"}
    assert out["updated_resources"]["modified"] == [body["url"]]
    img = load(client.get(out["versions"]["tiny"]["url"]).content)
    assert (img.width, img.height) == (40, 30)
    r = client.post(f"{body['url']}/convert?wait=true", json={
        "converter": "tiny", "settings": {"versions": {"tiny": {"width": 20}}}})
    img = load(client.get(r.json()["versions"]["tiny"]["url"]).content)
    assert (img.width, img.height) == (20, 30)
    # per-call settings are not stored
    assert client.get("/api/converters/tiny").json()["versions"][0]["width"] == 40


def test_convert_a_file_is_409(client: httpx.Client) -> None:
    body = upload(client, b"text", filename="a.txt").json()
    assert client.post(f"{body['url']}/convert", json={}).status_code == 409


def test_convert_with_bad_settings_is_422(client: httpx.Client) -> None:
    body = upload(client, solid(100, 100)).json()
    r = client.post(f"{body['url']}/convert", json={
        "settings": {"versions": {"thumbnail": {"fit": "nope"}}}})
    assert r.status_code == 422


def test_delete_version(client: httpx.Client) -> None:
    body = upload(client, solid(300, 300)).json()
    r = client.delete(f"{body['url']}/versions/thumbnail")
    assert r.status_code == 200
    assert set(r.json()["versions"]) == {"detail"}
    # updated_resources names resources by path; the byte URL adds `?v=` (its digest).
    thumb_path = body["versions"]["thumbnail"]["url"].split("?")[0]
    assert r.json()["updated_resources"]["removed"] == [thumb_path]
    assert client.get(body["versions"]["thumbnail"]["url"]).status_code == 404
    assert client.delete(f"{body['url']}/versions/thumbnail").status_code == 404
    assert client.delete(f"{body['url']}/versions/original").status_code == 404
    assert client.get(body["content_url"]).status_code == 200
