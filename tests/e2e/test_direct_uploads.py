"""Direct uploads to a real S3 server (SeaweedFS): announce, PUT the bytes to the
presigned URL, complete; the same checks as an upload, nothing kept on refusal, expiry
and `assetry gc`; 409 on a local blob directory."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import obstore
import pytest
from obstore.store import S3Store

from tests.support.images import load, solid
from tests.support.postgres import unique_name
from tests.support.seaweed import ACCESS_KEY, BUCKET, REGION, SECRET_KEY, SeaweedServer
from tests.support.server import live_server
from tests.support.tokens import bearer, make_tokens

MAX_PIXELS = 1_000_000


@dataclass
class Site:
    """A live server on S3 (and SQLite), its tokens, and the bucket underneath."""

    url: str
    data_dir: Path
    settings: dict[str, Any]
    tokens: dict[str, str]
    bucket: S3Store
    prefix: str

    def client(self, token: str | None = "editor") -> httpx.Client:
        headers = bearer(self.tokens[token]) if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def pending_objects(self) -> set[str]:
        """Every object under the direct-upload prefix of this server's store."""
        listing = obstore.list(self.bucket, prefix=f"{self.prefix}/direct-uploads")
        return {m["path"] for batch in listing for m in batch}

    def assetry(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `assetry` command with this server's settings."""
        env = {**os.environ, **{f"ASSETRY_{k.upper()}": str(v)
                                for k, v in self.settings.items()}}
        return subprocess.run([sys.executable, "-m", "assetry", *args, "--data-dir",
                               str(self.data_dir)], env=env, capture_output=True, text=True,
                              timeout=120)


@contextmanager
def open_site(data_dir: Path, seaweed: SeaweedServer, **extra: Any) -> Iterator[Site]:
    prefix = unique_name("direct")
    settings = {"storage_url": seaweed.url(prefix), "max_pixels": MAX_PIXELS,
                "render_workers": 0, **extra}
    tokens = make_tokens(data_dir, {"admin": "admin", "editor": "editor",
                                    "editor2": "editor", "viewer": "viewer"}, **settings)
    bucket = S3Store(BUCKET, endpoint=seaweed.endpoint, region=REGION,
                     access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
                     client_options={"allow_http": True}, virtual_hosted_style_request=False)
    with live_server(data_dir, **settings) as url:
        yield Site(url, data_dir, settings, tokens, bucket, prefix)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedServer) -> Iterator[Site]:
    with open_site(tmp_path_factory.mktemp("direct"), seaweed) as opened:
        yield opened


@pytest.fixture
def editor(site: Site) -> Iterator[httpx.Client]:
    with site.client("editor") as client:
        yield client


def start(client: httpx.Client, data: bytes, pool: str = "default", **fields: Any
          ) -> dict[str, Any]:
    r = client.post(f"/api/pools/{pool}/direct-uploads",
                    json={"filename": "photo.jpg", "size": len(data), **fields})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def put(ticket: dict[str, Any], data: bytes) -> httpx.Response:
    """Send the bytes the way a browser would: no credentials, just the presigned URL."""
    assert ticket["upload_method"] == "PUT"
    return httpx.put(ticket["upload_url"], content=data, headers=ticket["upload_headers"],
                     timeout=60)


def test_a_direct_upload_becomes_an_asset_exactly_as_an_upload(site: Site,
                                                              editor: httpx.Client) -> None:
    data = solid(900, 600)
    ticket = start(editor, data, mime_type="image/jpeg", gallery="trip",
                   metadata={"alt": "blue"})
    assert ticket["upload_headers"] == {"Content-Length": str(len(data))}
    assert ticket["size"] == len(data) and ticket["pool"] == "default"
    assert ticket["complete_url"] == f"/api/direct-uploads/{ticket['id']}/complete"
    assert ticket["upload_expires_at"] < ticket["expires_at"]
    assert put(ticket, data).status_code == 200
    assert len(site.pending_objects()) >= 1
    done = editor.post(f"{ticket['complete_url']}?wait=true")
    assert done.status_code == 201, done.text
    asset = done.json()
    assert done.headers["location"] == asset["url"]
    assert asset["size"] == len(data) and asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert (asset["width"], asset["height"], asset["mime_type"]) == (900, 600, "image/jpeg")
    assert (asset["filename"], asset["gallery"], asset["metadata"]) == (
        "photo.jpg", "trip", {"alt": "blue"})
    assert asset["creator"] == "editor" and asset["type"] == "image"
    assert {v["status"] for v in asset["versions"].values()} == {"ready"}
    assert editor.get(asset["content_url"]).content == data
    thumb = load(editor.get(asset["versions"]["thumbnail"]["url"]).content)
    assert (thumb.width, thumb.height) == (100, 100)
    assert site.pending_objects() == set()  # the temporary object is gone
    assert editor.post(ticket["complete_url"]).status_code == 404  # and so is the upload


def test_files_come_in_as_files(editor: httpx.Client) -> None:
    data = b"%PDF-1.4 not really, but not an image either\n"
    ticket = start(editor, data, filename="notes.txt")
    assert put(ticket, data).status_code == 200
    asset = editor.post(ticket["complete_url"]).json()
    assert asset["type"] == "file" and asset["filename"] == "notes.txt"
    assert editor.get(asset["content_url"]).content == data


def test_the_upload_url_takes_exactly_the_announced_size(editor: httpx.Client) -> None:
    data = solid(200, 200)
    ticket = start(editor, data)
    for wrong in (data + b"more bytes", data[:-10]):
        refused = httpx.put(ticket["upload_url"], content=wrong, timeout=60)
        assert refused.status_code == 403, refused.text  # the signature covers the length
    assert put(ticket, data).status_code == 200
    assert editor.post(ticket["complete_url"]).status_code == 201


def test_complete_before_the_put_is_409_and_can_be_retried(editor: httpx.Client) -> None:
    data = solid(120, 80)
    ticket = start(editor, data)
    early = editor.post(ticket["complete_url"])
    assert early.status_code == 409 and "nothing has been PUT" in early.json()["detail"]
    assert put(ticket, data).status_code == 200
    assert editor.post(ticket["complete_url"]).status_code == 201


@pytest.mark.parametrize(("data", "fields", "status", "field"), [
    (solid(400, 300)[:-200], {}, 422, None),  # truncated: does not decode
    (solid(1200, 900), {}, 422, None),  # 1.08 MP > ASSETRY_MAX_PIXELS
    (solid(64, 64), {"mime_type": "image/png"}, 415, "mime_type"),  # declared != sniffed
    (b"plain text", {"type": "image"}, 415, "file"),  # an image that is not one
    (solid(64, 64), {"converter": "no-such-converter"}, 422, "converter"),
])
def test_bad_bytes_are_refused_and_nothing_is_kept(
        site: Site, editor: httpx.Client, data: bytes, fields: dict[str, str], status: int,
        field: str | None) -> None:
    ticket = start(editor, data, **fields)
    assert put(ticket, data).status_code == 200
    refused = editor.post(ticket["complete_url"])
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    if field:
        assert refused.json()["errors"][0]["field"] == field
    sha = hashlib.sha256(data).hexdigest()
    assert editor.get(f"/api/pools/default/assets?sha256={sha}").json()["items"] == []
    assert not any(ticket["id"] in key for key in site.pending_objects())
    assert editor.post(ticket["complete_url"]).status_code == 404


def test_announcements_are_checked_before_any_url_is_handed_out(
        site: Site, editor: httpx.Client) -> None:
    with site.client("admin") as admin:
        assert admin.put("/api/pools/tiny", json={"max_size": 1000}).status_code in (200, 201)
    too_big = editor.post("/api/pools/tiny/direct-uploads",
                          json={"filename": "a.jpg", "size": 1001})
    assert too_big.status_code == 413 and too_big.json()["limit"] == 1000
    assert too_big.json()["errors"][0]["field"] == "size"
    assert editor.post("/api/pools/tiny/direct-uploads",
                       json={"filename": "a.jpg", "size": 1000}).status_code == 201
    for body, field in (({"size": 10}, "filename"), ({"filename": "a"}, "size"),
                        ({"filename": "a", "size": -1}, "size"),
                        ({"filename": "a", "size": True}, "size"),
                        ({"filename": "a", "size": 1, "metadata": [1]}, "metadata"),
                        ({"filename": "a", "size": 1, "url": "x"}, "url")):
        r = editor.post("/api/pools/default/direct-uploads", json=body)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, (body, r.text)
    assert editor.post("/api/pools/nope/direct-uploads",
                       json={"filename": "a", "size": 1}).status_code == 404


def test_only_editors_start_and_only_the_starter_completes(site: Site,
                                                          editor: httpx.Client) -> None:
    body = {"filename": "a.jpg", "size": 10}
    with site.client(None) as anonymous, site.client("viewer") as viewer:
        assert anonymous.post("/api/pools/default/direct-uploads", json=body
                              ).status_code == 401
        assert viewer.post("/api/pools/default/direct-uploads", json=body).status_code == 403
    data = solid(90, 90)
    ticket = start(editor, data)
    assert put(ticket, data).status_code == 200
    with site.client("editor2") as other:
        assert other.post(ticket["complete_url"]).status_code == 403
    with site.client("admin") as admin:
        done = admin.post(ticket["complete_url"])
        assert done.status_code == 201 and done.json()["creator"] == "admin"
    assert editor.post(f"/api/direct-uploads/{'0' * 8}-0000-4000-8000-{'0' * 12}/complete"
                       ).status_code == 404


@pytest.mark.slow
def test_expired_uploads_are_gone_and_gc_removes_them(tmp_path: Path,
                                                      seaweed: SeaweedServer) -> None:
    with open_site(tmp_path, seaweed, direct_upload_ttl=3) as short, \
            short.client("editor") as editor:
        data = solid(100, 100)
        late = start(editor, data)
        assert put(late, data).status_code == 200
        url_expires = datetime.fromisoformat(late["upload_expires_at"])
        expires = datetime.fromisoformat(late["expires_at"])
        assert expires - url_expires == timedelta(seconds=3)
        # An object no upload points at (a crash between deleting an upload and its
        # object, or a second PUT to a URL still valid after its upload was completed).
        stray = f"{short.prefix}/direct-uploads/ab/{uuid4()}/leftover"
        obstore.put(short.bucket, stray, b"left behind")
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)
        assert put(late, data).status_code == 403  # the URL has expired
        assert editor.post(late["complete_url"]).status_code == 404  # so has the upload
        expected = 2
        assert len(short.pending_objects()) == expected
        dry = short.assetry("gc", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "1 expired direct upload(s) found" in dry.stdout
        assert f"{expected} orphaned blob(s) found" in dry.stdout
        assert stray.removeprefix(f"{short.prefix}/") in dry.stdout
        assert len(short.pending_objects()) == expected
        gc = short.assetry("gc")
        assert gc.returncode == 0, gc.stderr
        assert "1 expired direct upload(s) deleted" in gc.stdout
        assert short.pending_objects() == set()
        again = short.assetry("gc", "--dry-run")
        assert "0 orphaned blob(s) found" in again.stdout
        assert "0 expired direct upload(s) found" in again.stdout
        verify = short.assetry("verify")
        assert verify.returncode == 0, verify.stdout


def test_a_local_blob_directory_answers_409(client: httpx.Client) -> None:
    r = client.post("/api/pools/default/direct-uploads", json={"filename": "a", "size": 1})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert "S3" in r.json()["detail"] and "/api/pools/default/assets" in r.json()["detail"]
    assert json.loads(r.text)["title"] == "Conflict"
