"""URL imports over HTTP: the same ingest as uploads, through the SSRF-safe fetcher."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from assetry.fetch.fetcher import SafeFetcher
from assetry.fetch.policy import AddressPolicy
from tests.e2e.conftest import blob_files
from tests.support.images import load, solid
from tests.support.server import admin_client
from tests.support.upstream import upstream

PNG = solid(640, 480, fmt=".png")


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(3)


@pytest.fixture(scope="module")
def remote() -> Iterator[tuple[str, list[dict[str, str]]]]:
    routes = {
        "/photo.png": (200, {"Content-Type": "image/png"}, PNG),
        "/named": (200, {"Content-Disposition": 'attachment; filename="holiday.png"'}, PNG),
        "/hop1": (302, {"Location": "/hop2", "Set-Cookie": "session=secret"}, b""),
        "/hop2": (302, {"Location": "/photo.png"}, b""),
        "/missing": (404, {}, b"nope"),
        "/broken": (500, {}, b"oops"),
        "/text": (200, {"Content-Type": "image/png"}, b"not an image at all"),
        "/big": (200, {}, b"x" * 2048),
        "/slow": slow,
    }
    with upstream(routes) as (url, _, seen):
        yield url, seen


@pytest.fixture(scope="module")
def importer(tmp_path_factory: pytest.TempPathFactory, remote: tuple[str, list]
             ) -> Iterator[tuple[httpx.Client, Path]]:
    port = int(remote[0].rsplit(":", 1)[1])
    # The fetcher's address policy is injected: loopback allowed for this one port only.
    fetcher = SafeFetcher(AddressPolicy(allow_loopback=True, allowed_ports=frozenset({port})),
                          total_timeout=1.5)
    data = tmp_path_factory.mktemp("imports")
    with admin_client(data, fetcher=fetcher) as client:
        client.put("/api/pools/small", json={"max_size": 1024})
        client.put("/api/pools/images", json={"asset_types": ["image"]})
        yield client, data


def test_import_stores_the_image_like_an_upload(importer: tuple[httpx.Client, Path],
                                                remote: tuple[str, list]) -> None:
    client, _ = importer
    r = client.post("/api/pools/default/imports?wait=true", json={
        "url": f"{remote[0]}/photo.png", "gallery": "imported", "metadata": {"src": "web"},
        "attach_to": "proposals/7"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["location"] == body["url"]
    assert (body["type"], body["mime_type"], body["size"]) == ("image", "image/png", len(PNG))
    assert (body["width"], body["height"], body["filename"]) == (640, 480, "photo.png")
    assert body["attached_to"] == ["proposals/7"] and body["gallery"] == "imported"
    assert body["metadata"] == {"src": "web"} and body["creator"] == "admin"
    thumb = load(client.get(body["versions"]["thumbnail"]["url"]).content)
    assert (thumb.width, thumb.height) == (100, 100)
    assert client.get(body["content_url"]).content == PNG


def test_import_filename_from_content_disposition(importer: tuple[httpx.Client, Path],
                                                  remote: tuple[str, list]) -> None:
    r = importer[0].post("/api/pools/default/imports", json={"url": f"{remote[0]}/named"})
    assert r.status_code == 201 and r.json()["filename"] == "holiday.png"


def test_import_follows_redirects_without_forwarding_cookies(
    importer: tuple[httpx.Client, Path], remote: tuple[str, list]
) -> None:
    before = len(remote[1])
    r = importer[0].post("/api/pools/default/imports", json={"url": f"{remote[0]}/hop1"})
    assert r.status_code == 201
    hops = remote[1][before:]
    assert len(hops) == 3
    assert all("cookie" not in h and "authorization" not in h for h in hops)


@pytest.mark.parametrize(("path", "status"), [
    ("/missing", 502), ("/broken", 502), ("/slow", 504), ("/text", 415), ("/big", 413),
])
def test_import_failures_store_nothing(importer: tuple[httpx.Client, Path],
                                       remote: tuple[str, list], path: str, status: int
                                       ) -> None:
    client, data = importer

    def originals() -> set[Path]:  # versions of earlier imports may still be rendering
        return {p for p in blob_files(data) if "originals" in p.parts}

    before = originals()
    def ids() -> list[str]:
        items = client.get("/api/pools/default/assets", params={"limit": 500}).json()["items"]
        return [a["id"] for a in items]

    listed = ids()
    pool = {"/big": "small", "/text": "images"}.get(path, "default")
    r = client.post(f"/api/pools/{pool}/imports", json={"url": f"{remote[0]}{path}"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if status == 413:
        assert r.json()["errors"][0]["field"] == "url"
    assert originals() == before
    assert ids() == listed
    assert not list((data / "spool").glob("*"))


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/x.png", "file:///etc/passwd", "http://user:pw@127.0.0.1/x",
    "http://127.0.0.1:1/x", "http://10.0.0.1/x.png", "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:127.0.0.1]:80/", "http://0x7f000001/", "gopher://127.0.0.1/",
])
def test_unsafe_urls_are_422(importer: tuple[httpx.Client, Path], url: str) -> None:
    r = importer[0].post("/api/pools/default/imports", json={"url": url})
    assert r.status_code == 422, (url, r.text)
    assert r.json()["errors"][0]["field"] == "url"


def test_strict_default_policy_refuses_loopback(tmp_path: Path, remote: tuple[str, list]
                                                ) -> None:
    with admin_client(tmp_path) as client:  # the production fetcher
        r = client.post("/api/pools/default/imports", json={"url": f"{remote[0]}/photo.png"})
        assert r.status_code == 422
        assert client.get("/api/pools/default/assets").json()["items"] == []


def test_import_fields_are_checked_before_fetching(importer: tuple[httpx.Client, Path],
                                                  remote: tuple[str, list]) -> None:
    before = len(remote[1])
    for bad in ({"metadata": "[1"}, {"gallery": "has space"}, {"attach_to": ["x" * 600]},
                {"converter": 3}):
        r = importer[0].post("/api/pools/default/imports",
                             json={"url": f"{remote[0]}/photo.png", **bad})
        assert r.status_code == 400, (bad, r.text)
    assert len(remote[1]) == before  # the remote server was never asked


def test_import_request_checks(importer: tuple[httpx.Client, Path]) -> None:
    client, _ = importer
    assert client.post("/api/pools/default/imports", json={}).status_code == 400
    assert client.post("/api/pools/default/imports", json={"url": 5}).status_code == 400
    assert client.post("/api/pools/default/imports",
                       json={"url": "http://x/", "extra": 1}).status_code == 400
    assert client.post("/api/pools/nope/imports",
                       json={"url": "http://x/"}).status_code == 404
    anon = httpx.post(f"{client.base_url}/api/pools/default/imports", json={"url": "http://x/"})
    assert anon.status_code == 401
