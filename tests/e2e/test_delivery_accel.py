"""ASSETRY_DELIVERY=accel: a real nginx (nginx-light), configured with the server block
docs/deployment.md ships, in front of a live Assetry: nginx sends the file after
Assetry's checks, with Assetry's headers, and handles Range; refusals stay Assetry's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.nginx import documented_block, running_nginx
from tests.support.server import free_port, live_server
from tests.support.tokens import bearer, make_tokens

#: what Assetry sends with every byte answer, which nginx must pass on unchanged
ASSETRY_HEADERS = ("etag", "cache-control", "content-type", "content-disposition",
                   "content-security-policy", "x-content-type-options",
                   "cross-origin-resource-policy", "last-modified", "referrer-policy")


@dataclass
class Fronted:
    assetry: str  #: Assetry's own URL (behind nginx)
    nginx: str  #: what clients use
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def fronted(tmp_path_factory: pytest.TempPathFactory, nginx: Path) -> Iterator[Fronted]:
    data_dir = tmp_path_factory.mktemp("accel")
    tokens = make_tokens(data_dir, {"admin": "admin", "viewer": "viewer"})
    with live_server(data_dir, delivery="accel", render_workers=0) as assetry:
        port = free_port()
        block = documented_block()
        for documented, ours in (
                ("listen 80;", f"listen 127.0.0.1:{port};"),
                ("server 127.0.0.1:8000;", f"server {assetry.removeprefix('http://')};"),
                ("alias /srv/assetry/data/blobs/;", f"alias {data_dir / 'blobs'}/;")):
            assert documented in block, documented
            block = block.replace(documented, ours)
        with running_nginx(nginx, block, port=port) as server:
            yield Fronted(assetry, server.url, tokens)


@pytest.fixture
def admin(fronted: Fronted) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fronted.nginx, headers=bearer(fronted.tokens["admin"]),
                      timeout=60) as client:
        yield client


def test_nginx_sends_the_bytes_with_assetrys_headers(fronted: Fronted,
                                                     admin: httpx.Client) -> None:
    data = solid(640, 480)
    body = upload(admin, data).json()
    for url in (body["content_url"], body["versions"]["thumbnail"]["url"]):
        direct = httpx.get(fronted.assetry + url, timeout=30)
        # Assetry itself answers with the headers and the internal location, no bytes.
        assert direct.status_code == 200 and direct.content == b""
        assert direct.headers["x-accel-redirect"].startswith("/_assetry_blobs/")
        via = admin.get(url)
        assert via.status_code == 200
        assert "x-accel-redirect" not in via.headers
        assert via.headers["etag"] == f'"{hashlib.sha256(via.content).hexdigest()}"'
        assert via.headers["content-length"] == str(len(via.content))
        for name in ASSETRY_HEADERS:
            assert via.headers.get_list(name) == direct.headers.get_list(name), name
    assert admin.get(body["content_url"]).content == data
    assert admin.get(body["content_url"]).headers["content-disposition"] == (
        "inline; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg")


def test_files_stay_attachments_behind_nginx(admin: httpx.Client) -> None:
    html = b"<!doctype html><script>alert(1)</script>"
    body = upload(admin, html, filename="page.html").json()
    got = admin.get(body["content_url"])
    assert got.content == html
    assert got.headers["content-type"] == "text/html"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]


def test_304_and_ranges_behind_nginx(admin: httpx.Client) -> None:
    data = bytes(range(256)) * 40
    body = upload(admin, data, filename="r.bin").json()
    url = body["content_url"]
    tag = admin.get(url).headers["etag"]
    not_modified = admin.get(url, headers={"If-None-Match": tag})
    assert not_modified.status_code == 304 and not_modified.headers["etag"] == tag
    assert admin.get(url, headers={"If-None-Match": '"other"'}).content == data
    part = admin.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert part.headers["etag"] == tag
    assert admin.get(url, headers={"Range": "bytes=-5"}).content == data[-5:]
    assert admin.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    matching = admin.get(url, headers={"Range": "bytes=0-1", "If-Range": tag})
    assert matching.status_code == 206 and matching.content == data[:2]
    stale = admin.get(url, headers={"Range": "bytes=0-1", "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.content == data
    head = admin.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))


def test_private_and_hidden_assets_are_still_refused(fronted: Fronted,
                                                     admin: httpx.Client) -> None:
    assert admin.put("/api/pools/accel-closed", json={"public": False}).status_code in (200, 201)
    secret = solid(90, 60)
    closed = upload(admin, secret, pool="accel-closed").json()
    hidden = upload(admin, solid(40, 40)).json()
    assert admin.patch(hidden["url"], json={"hidden": True}).status_code == 200
    internal = httpx.get(fronted.assetry + closed["content_url"].split("?")[0], timeout=30,
                         headers=bearer(fronted.tokens["viewer"])).headers["x-accel-redirect"]
    with httpx.Client(base_url=fronted.nginx, timeout=30) as anonymous:
        refused = anonymous.get(closed["content_url"].split("?")[0])
        assert refused.status_code == 401 and refused.content != secret
        assert refused.headers["content-type"] == "application/problem+json"
        gone = anonymous.get(hidden["content_url"])
        assert gone.status_code == 410 and gone.json()["reason"] == "hidden"
        # The internal location itself is not reachable from outside.
        assert anonymous.get(internal).status_code == 404
        # A signed URL is a valid reader: nginx then sends the bytes.
        signed = anonymous.get(closed["content_url"])
        assert signed.status_code == 200 and signed.content == secret
        assert signed.headers["cache-control"].startswith("private")
    with httpx.Client(base_url=fronted.nginx, timeout=30,
                      headers=bearer(fronted.tokens["viewer"])) as viewer:
        assert viewer.get(closed["content_url"].split("?")[0]).content == secret
        assert viewer.get(hidden["content_url"]).status_code == 410
