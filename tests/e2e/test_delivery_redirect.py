"""ASSETRY_DELIVERY=redirect: after the access checks, a 302 to a presigned URL of the
object on a real S3 server (SeaweedFS), which answers with Assetry's headers; and the
fall-back to streaming where the store cannot presign."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import load, solid
from tests.support.postgres import unique_name
from tests.support.seaweed import SeaweedServer
from tests.support.server import live_server
from tests.support.tokens import bearer, make_tokens

TTL = 3


@pytest.fixture(scope="module")
def redirecting(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer
                ) -> Iterator[tuple[str, dict[str, str]]]:
    """A server on S3 that redirects, with 3-second windows so URLs expire quickly."""
    data_dir = tmp_path_factory.mktemp("redirect")
    settings = {"storage_url": seaweed.url(unique_name("redirect")), "delivery": "redirect",
                "redirect_ttl": TTL, "render_workers": 0}
    tokens = make_tokens(data_dir, {"admin": "admin", "viewer": "viewer"}, **settings)
    with live_server(data_dir, **settings) as url:
        yield url, tokens


@pytest.fixture
def admin(redirecting: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    url, tokens = redirecting
    with httpx.Client(base_url=url, headers=bearer(tokens["admin"]), timeout=60) as c:
        yield c


def follow(client: httpx.Client, url: str, **headers: str) -> tuple[httpx.Response, str]:
    """GET `url` without following, check it is a redirect to S3, then GET the S3 URL
    with a fresh client (no Authorization header goes to the store)."""
    first = client.get(url, headers=headers)
    assert first.status_code == 302, first.text
    location = first.headers["location"]
    assert urlsplit(location).path.startswith("/assetry-test/")
    assert "X-Amz-Signature" in parse_qs(urlsplit(location).query)
    return httpx.get(location, headers=headers, timeout=30), location


def test_redirect_serves_the_right_bytes_with_assetrys_headers(admin: httpx.Client) -> None:
    data = solid(640, 480)
    body = upload(admin, data).json()
    got, _ = follow(admin, body["content_url"])
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-disposition"] == (
        "inline; filename=\"photo.jpg\"; filename*=UTF-8''photo.jpg")
    # What Assetry itself would send (a `v` pinning the bytes makes it immutable).
    assert got.headers["cache-control"] == admin.head(body["content_url"]).headers[
        "cache-control"]
    thumb, _ = follow(admin, body["versions"]["thumbnail"]["url"])
    assert thumb.status_code == 200 and (load(thumb.content).width, load(thumb.content).height
                                         ) == (100, 100)
    etag = admin.head(body["versions"]["thumbnail"]["url"]).headers["etag"]
    assert etag == f'"{hashlib.sha256(thumb.content).hexdigest()}"'
    part, _ = follow(admin, body["content_url"], Range="bytes=0-9")
    assert part.status_code == 206 and part.content == data[:10]


def test_redirect_keeps_files_attachments(admin: httpx.Client) -> None:
    html = b"<!doctype html><script>alert(1)</script>"
    body = upload(admin, html, filename="page.html").json()
    got, _ = follow(admin, body["content_url"])
    assert got.content == html
    assert got.headers["content-disposition"].startswith("attachment; filename=\"page.html\"")


def test_redirect_comes_only_after_the_access_checks(
        redirecting: tuple[str, dict[str, str]], admin: httpx.Client) -> None:
    url, tokens = redirecting
    assert admin.put("/api/pools/closed", json={"public": False}).status_code in (200, 201)
    data = solid(64, 64)
    body = upload(admin, data, pool="closed").json()
    plain = body["content_url"].split("?")[0]
    with httpx.Client(base_url=url, timeout=30) as anonymous:
        assert anonymous.get(plain).status_code == 401  # no redirect without the checks
        got, _ = follow(anonymous, body["content_url"])  # the signed Assetry URL
        assert got.content == data and got.headers["cache-control"].startswith("private")
        assert anonymous.get(body["content_url"]).headers["cache-control"].startswith("private")
        hidden = upload(admin, solid(32, 32)).json()
        assert admin.patch(hidden["url"], json={"hidden": True}).status_code == 200
        assert anonymous.get(hidden["content_url"]).status_code == 410
    with httpx.Client(base_url=url, headers=bearer(tokens["viewer"]), timeout=30) as viewer:
        got, _ = follow(viewer, plain)
        assert got.content == data


def test_conditional_and_head_requests_are_answered_by_assetry(admin: httpx.Client) -> None:
    data = solid(80, 60)
    body = upload(admin, data).json()
    tag = f'"{hashlib.sha256(data).hexdigest()}"'
    r = admin.get(body["content_url"], headers={"If-None-Match": tag})
    assert r.status_code == 304 and r.headers["etag"] == tag
    r = admin.head(body["content_url"])
    assert r.status_code == 200 and r.headers["content-length"] == str(len(data))
    assert r.headers["etag"] == tag


@pytest.mark.slow
def test_the_redirect_is_cacheable_and_the_presigned_url_expires(admin: httpx.Client) -> None:
    data = solid(50, 50)
    body = upload(admin, data).json()
    first = admin.get(body["content_url"])
    assert first.status_code == 302
    assert first.headers["cache-control"] == f"public, max-age={TTL}"  # ASSETRY_REDIRECT_TTL
    expires = int(parse_qs(urlsplit(first.headers["location"]).query)["X-Amz-Expires"][0])
    assert expires == 2 * TTL
    assert httpx.get(first.headers["location"], timeout=30).content == data
    time.sleep(2 * TTL + 0.5)  # two windows on: the URL handed out above has expired
    expired = httpx.get(first.headers["location"], timeout=30)
    assert expired.status_code == 403 and b"expired" in expired.content
    got, again = follow(admin, body["content_url"])  # a new GET gets a new, valid URL
    assert again != first.headers["location"] and got.content == data


def test_redirect_falls_back_to_streaming_on_a_local_directory(tmp_path: Path) -> None:
    secret = make_tokens(tmp_path, {"admin": "admin"})["admin"]
    with live_server(tmp_path, delivery="redirect") as url, \
            httpx.Client(base_url=url, headers=bearer(secret), timeout=60) as client:
        data = solid(70, 70)
        body = upload(client, data).json()
        r = client.get(body["content_url"])
        assert r.status_code == 200 and r.content == data


def test_a_negotiated_version_redirects_to_the_rendition_accept_chose(
        admin: httpx.Client) -> None:
    r = admin.put("/api/converters/auto-redirect", json={"versions": [
        {"name": "hero", "width": 160, "height": 120, "format": "auto"}]})
    assert r.status_code in (200, 201), r.text
    body = upload(admin, solid(320, 240), converter="auto-redirect").json()
    url = body["versions"]["hero"]["url"]
    avif = admin.get(url, headers={"Accept": "image/avif,image/webp,*/*;q=0.8"})
    plain = admin.get(url, headers={"Accept": "*/*"})
    for r in (avif, plain):
        assert r.status_code == 302 and r.headers["vary"] == "Accept"  # a cache keys on Accept
    assert avif.headers["location"] != plain.headers["location"]
    assert httpx.get(avif.headers["location"], timeout=30).content[4:12] == b"ftypavif"
    assert httpx.get(plain.headers["location"], timeout=30).content[:3] == b"\xff\xd8\xff"
