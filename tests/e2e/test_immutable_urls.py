"""Immutable URLs: content and version URLs carry `?v=<digest of their bytes>`, and a public
pool answers them with a year's immutable caching while `v` matches."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import solid

IMMUTABLE = "public, max-age=31536000, immutable"


def v_of(url: str) -> str:
    query = url.split("?", 1)[1]
    return dict(part.split("=", 1) for part in query.split("&"))["v"]


@pytest.fixture(scope="module")
def private_pool(base_url: str, tokens: dict[str, str]) -> str:
    with httpx.Client(base_url=base_url, headers={
            "Authorization": f"Bearer {tokens['admin']}"}) as admin:
        assert admin.put("/api/pools/hushed", json={"public": False}).status_code in (200, 201)
    return "hushed"


def test_urls_carry_the_digest_of_their_bytes(client: httpx.Client) -> None:
    data = solid(400, 300, (10, 90, 160))
    body = upload(client, data).json()
    assert body["content_url"] == f"{body['url']}/content?v={hashlib.sha256(data).hexdigest()[:16]}"
    for name, version in body["versions"].items():
        assert version["url"].startswith(f"{body['url']}/versions/{name}?v=")
        served = client.get(version["url"]).content
        assert v_of(version["url"]) == hashlib.sha256(served).hexdigest()[:16]


def test_a_matching_v_of_a_public_pool_is_cached_for_a_year(anonymous: httpx.Client,
                                                            client: httpx.Client) -> None:
    body = upload(client, solid(300, 200)).json()
    for url in (body["content_url"], body["versions"]["thumbnail"]["url"]):
        r = anonymous.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE
        assert r.headers["etag"]  # still there, for clients that revalidate anyway
        assert anonymous.head(url).headers["cache-control"] == IMMUTABLE
        not_modified = anonymous.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert not_modified.status_code == 304
        assert not_modified.headers["cache-control"] == IMMUTABLE
        plain = url.split("?")[0]
        assert anonymous.get(plain).headers["cache-control"] == "public, max-age=3600"
        for wrong in ("0" * 16, v_of(url)[:15], v_of(url).upper(), ""):
            r = anonymous.get(f"{plain}?v={wrong}")
            assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=3600"


def test_replace_gives_new_urls_and_the_old_ones_stop_being_immutable(
    client: httpx.Client,
) -> None:
    body = upload(client, solid(300, 200, (200, 0, 0))).json()
    replaced = client.put(body["url"], files={"file": ("b.jpg", solid(300, 200, (0, 0, 200)))}
                          ).json()
    assert replaced["content_url"] != body["content_url"]
    for name in ("detail", "thumbnail"):
        old, new = body["versions"][name]["url"], replaced["versions"][name]["url"]
        assert old != new and old.split("?")[0] == new.split("?")[0]
        stale = client.get(old)  # the path now serves the new bytes: not for a year
        assert stale.headers["cache-control"] == "public, max-age=3600"
        fresh = client.get(new)
        assert fresh.headers["cache-control"] == IMMUTABLE and fresh.content == stale.content
    assert client.get(body["content_url"]).headers["cache-control"] == "public, max-age=3600"
    assert client.get(replaced["content_url"]).headers["cache-control"] == IMMUTABLE


def test_a_pending_version_has_no_digest_yet(client: httpx.Client) -> None:
    body = upload(client, solid(300, 200)).json()
    converted = client.post(f"{body['url']}/convert", json={
        "settings": {"versions": {"thumbnail": {"width": 50, "height": 50}}}}).json()
    pending = converted["versions"]["thumbnail"]
    assert pending["status"] == "pending"  # a convert without ?wait answers at once
    assert pending["url"] == f"{body['url']}/versions/thumbnail"
    client.get(pending["url"])  # renders it if the background job has not yet
    ready = client.get(body["url"]).json()["versions"]["thumbnail"]
    assert ready["status"] == "ready" and v_of(ready["url"]) == hashlib.sha256(
        client.get(ready["url"]).content).hexdigest()[:16]


def test_signed_urls_of_a_private_pool_carry_v_and_stay_private(
    client: httpx.Client, anonymous: httpx.Client, private_pool: str,
) -> None:
    body = upload(client, solid(200, 200), pool=private_pool).json()
    for url in (body["content_url"], body["versions"]["detail"]["url"]):
        path, query = url.split("?")
        assert [p.split("=")[0] for p in query.split("&")] == ["exp", "sig", "v"]
        r = anonymous.get(url)  # the signature still covers the path, with v beside it
        assert r.status_code == 200
        assert r.headers["cache-control"] == "private, max-age=3600"
        assert anonymous.get(path).status_code == 401
