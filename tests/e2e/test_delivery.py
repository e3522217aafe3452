"""Delivery: ETag, 304, HEAD, Range, safe headers, attachments."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.server import admin_client


def test_original_bytes_and_headers(client: httpx.Client) -> None:
    data = solid(300, 200)
    body = upload(client, data).json()
    r = client.get(body["content_url"])
    assert r.status_code == 200 and r.content == data
    assert r.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "max-age" in r.headers["cache-control"]
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-disposition"].startswith("inline")
    assert "sandbox" in r.headers["content-security-policy"]
    assert "set-cookie" not in r.headers


def test_if_none_match_gives_304(client: httpx.Client) -> None:
    body = upload(client, solid(64, 64)).json()
    for url in (body["content_url"], body["versions"]["thumbnail"]["url"]):
        tag = client.get(url).headers["etag"]
        r = client.get(url, headers={"If-None-Match": tag})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == tag
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_head(client: httpx.Client) -> None:
    data = solid(64, 64)
    body = upload(client, data).json()
    r = client.head(body["content_url"])
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == str(len(data))
    assert client.head(body["versions"]["detail"]["url"]).status_code == 200


def test_ranges(client: httpx.Client) -> None:
    data = bytes(range(256)) * 40
    body = upload(client, data, filename="r.bin").json()
    url = body["content_url"]
    r = client.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert client.get(url, headers={"Range": "bytes=-5"}).content == data[-5:]
    assert client.get(url, headers={"Range": "bytes=10000-"}).content == data[10000:]
    r = client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200
    tag = client.get(url).headers["etag"]
    assert client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"x"'}).status_code == 200
    assert client.get(url, headers={"Range": "bytes=0-1", "If-Range": tag}).status_code == 206


def test_files_are_attachments_and_never_inline_html(client: httpx.Client) -> None:
    body = upload(client, b"<!doctype html><script>alert(1)</script>", filename="x.html").json()
    r = client.get(body["content_url"])
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["x-content-type-options"] == "nosniff"
    svg = upload(client, b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
                 filename="x.svg").json()
    assert svg["type"] == "file"
    assert client.get(svg["content_url"]).headers["content-disposition"].startswith("attachment")
    txt = upload(client, b"plain words", filename="n.txt").json()
    r = client.get(txt["content_url"])
    assert r.headers["content-disposition"].startswith("inline")
    assert r.headers["content-type"] == "text/plain"  # no charset claimed for raw bytes


def test_unknown_ids_are_404_problems(client: httpx.Client) -> None:
    missing = "/api/assets/00000000-0000-4000-8000-000000000000"
    for url in (missing, f"{missing}/content", f"{missing}/versions/detail"):
        r = client.get(url)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/assets/not-a-uuid").status_code in (400, 404)


@pytest.mark.parametrize("size", [1_000, 300_000], ids=["whole", "streamed"])
def test_a_blob_lost_behind_our_back_is_a_404_not_a_short_200(tmp_path: Path,
                                                              size: int) -> None:
    # Small bodies are read whole, larger ones streamed after a prefetch: either way the
    # missing blob is found before the status line is sent.
    data = os.urandom(size)
    with admin_client(tmp_path) as c:
        body = upload(c, data, filename="data.bin").json()
        assert c.get(body["content_url"]).content == data
        for blob in (tmp_path / "blobs" / "originals").rglob("*"):
            if blob.is_file():
                blob.unlink()
        r = c.get(body["content_url"].split("?")[0], headers={"Cache-Control": "no-cache"})
        assert r.status_code == 404, r.status_code
        assert r.headers["content-type"] == "application/problem+json"
