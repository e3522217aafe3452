"""Resumable uploads (tus 1.0) over real HTTP: a real tus client (tuspy) interrupted and
resumed, a dropped connection, and every protocol rule with raw requests."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
import pytest
from tusclient.client import TusClient
from tusclient.storage.filestorage import FileStorage

from tests.e2e.conftest import blob_files
from tests.support.images import corpus
from tests.support.server import admin_client
from tests.support.tokens import bearer

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = {**TUS, "Content-Type": "application/offset+octet-stream"}
MiB = 1024 * 1024


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def metadata(**fields: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in fields.items())


def create(client: httpx.Client, length: int, pool: str = "default", **fields: str
           ) -> httpx.Response:
    headers = {**TUS, "Upload-Length": str(length)}
    if fields:
        headers["Upload-Metadata"] = metadata(**fields)
    return client.post(f"/api/pools/{pool}/uploads", headers=headers)


def created(client: httpx.Client, length: int, pool: str = "default", **fields: str) -> str:
    r = create(client, length, pool, **fields)
    assert r.status_code == 201, r.text
    return r.headers["location"]


def patch(client: httpx.Client, url: str, offset: int, data: bytes, **headers: str
          ) -> httpx.Response:
    return client.patch(url, content=data,
                        headers={**OCTETS, "Upload-Offset": str(offset), **headers})


def offset_of(client: httpx.Client, url: str) -> int:
    r = client.head(url, headers=TUS)
    assert r.status_code == 200, r.status_code
    return int(r.headers["upload-offset"])


def parts_of(data_dir: Path, upload_url: str) -> set[Path]:
    """The stored part files of one upload (its blobs under uploads/)."""
    upload_id = UUID(upload_url.rsplit("/", 1)[1])
    return {p for p in blob_files(data_dir)
            if p.is_relative_to(data_dir / "blobs" / "uploads") and str(upload_id) in p.parts}


def upload_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "assetry.db") as db:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])


def put_pool(client: httpx.Client, name: str, **fields: object) -> None:
    r = client.put(f"/api/pools/{name}", json=fields)
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def editor(base_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(tokens["editor"])) as c:
        yield c


# -- a real tus client -------------------------------------------------------------------


@pytest.mark.slow
def test_tuspy_interrupted_then_resumed_by_a_new_client_stores_the_24mp_photo(
    base_url: str, tokens: dict[str, str], client: httpx.Client, data_dir: Path,
    tmp_path: Path,
) -> None:
    photo = corpus("photo_24mp.jpg")
    data = photo.read_bytes()
    endpoint = f"{base_url}/api/pools/default/uploads"
    urls = tmp_path / "tus-urls.json"
    first = TusClient(endpoint, headers=bearer(tokens["editor"])).uploader(
        file_path=str(photo), chunk_size=MiB, store_url=True, url_storage=FileStorage(str(urls)),
        upload_checksum=True,
        metadata={"filename": "photo_24mp.jpg", "gallery": "tus-trip",
                  "metadata": '{"alt": "elephants"}'})
    stop = 3 * MiB + 12345
    first.upload(stop_at=stop)
    assert first.offset == stop
    upload_url = first.url
    assert upload_url is not None and upload_url.startswith(endpoint + "/")
    del first  # the first client is gone; only the stored URL is left

    second = TusClient(endpoint, headers=bearer(tokens["editor"])).uploader(
        file_path=str(photo), chunk_size=2 * MiB, store_url=True,
        url_storage=FileStorage(str(urls)), upload_checksum=True)
    assert (second.url, second.offset) == (upload_url, stop)  # from HEAD's Upload-Offset
    second.upload()
    assert second.offset == len(data)
    answer = second.request.response_headers
    assert answer["upload-offset"] == str(len(data))
    asset_url = answer["asset-location"]
    assert asset_url == f"/api/assets/{answer['asset-id']}"

    asset = client.get(asset_url).json()
    assert (asset["width"], asset["height"]) == (6000, 4000)
    assert asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert (asset["size"], asset["type"], asset["mime_type"]) == (len(data), "image", "image/jpeg")
    assert (asset["filename"], asset["gallery"]) == ("photo_24mp.jpg", "tus-trip")
    assert asset["metadata"] == {"alt": "elephants"}
    assert asset["creator"] == "editor" and set(asset["versions"]) == {"detail", "thumbnail"}
    content = client.get(asset["content_url"])
    assert hashlib.sha256(content.content).hexdigest() == asset["sha256"]
    # The finished upload still answers HEAD, naming its asset; its parts are gone.
    head = client.head(upload_url, headers={**TUS, **bearer(tokens["editor"])})
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(len(data))
    assert head.headers["asset-location"] == asset_url
    assert "upload-expires" not in head.headers
    assert parts_of(data_dir, upload_url) == set()


@pytest.mark.slow
def test_a_dropped_connection_keeps_the_bytes_that_arrived_and_tuspy_resumes(
    base_url: str, tokens: dict[str, str], editor: httpx.Client, client: httpx.Client,
) -> None:
    data = corpus("photo_24mp.jpg").read_bytes()
    upload_url = created(editor, len(data), filename="dropped.jpg")
    sent = 2 * MiB + 777
    split = urlsplit(base_url)
    assert split.hostname is not None and split.port is not None
    head = (f"PATCH {upload_url} HTTP/1.1\r\nHost: {split.hostname}:{split.port}\r\n"
            f"Authorization: Bearer {tokens['editor']}\r\nTus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {len(data)}\r\n\r\n").encode()
    with socket.create_connection((split.hostname, split.port), timeout=30) as s:
        s.sendall(head + data[:sent])
        time.sleep(0.5)  # let the server read what was sent before the line goes dead
    deadline = time.monotonic() + 10
    while (offset := offset_of(editor, upload_url)) != sent and time.monotonic() < deadline:
        time.sleep(0.1)
    assert offset == sent

    resumed = TusClient(f"{base_url}/api/pools/default/uploads",
                        headers=bearer(tokens["editor"])).uploader(
        file_path=str(corpus("photo_24mp.jpg")), url=f"{base_url}{upload_url}",
        chunk_size=4 * MiB)
    assert resumed.offset == sent
    resumed.upload()
    asset = client.get(resumed.request.response_headers["asset-location"]).json()
    assert asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert (asset["width"], asset["height"], asset["filename"]) == (6000, 4000, "dropped.jpg")


# -- the protocol, rule by rule ----------------------------------------------------------


def test_options_answers_the_servers_capabilities_without_credentials(
    client: httpx.Client, anonymous: httpx.Client,
) -> None:
    put_pool(client, "tus-tiny", max_size=1000)
    for who, path, max_size in ((client, "/api/pools/default/uploads", 16 * MiB),
                                (client, "/api/pools/tus-tiny/uploads", 1000),
                                (client, f"/api/pools/tus-tiny/uploads/{uuid4()}", 1000),
                                (anonymous, "/api/pools/tus-tiny/uploads", 16 * MiB),
                                (anonymous, "/api/pools/nope/uploads", 16 * MiB)):
        r = who.options(path)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["tus-resumable"] == r.headers["tus-version"] == "1.0.0"
        assert r.headers["tus-extension"] == "creation,termination,expiration,checksum"
        assert r.headers["tus-checksum-algorithm"] == "sha1,sha256"
        assert r.headers["tus-max-size"] == str(max_size), path


def test_create_then_head_reports_offset_length_metadata_and_expiry(
    editor: httpx.Client,
) -> None:
    sent = metadata(filename="a b.jpg", gallery="g-1") + ",flag"
    r = editor.post("/api/pools/default/uploads",
                    headers={**TUS, "Upload-Length": "1234", "Upload-Metadata": sent})
    assert r.status_code == 201, r.text
    assert r.content == b""
    location = r.headers["location"]
    assert location.startswith("/api/pools/default/uploads/")
    UUID(location.rsplit("/", 1)[1])
    assert r.headers["tus-resumable"] == "1.0.0" and r.headers["upload-offset"] == "0"
    expires = parsedate_to_datetime(r.headers["upload-expires"])
    assert r.headers["upload-expires"].endswith(" GMT")
    assert abs(expires - (datetime.now(UTC) + timedelta(days=1))) < timedelta(minutes=1)

    head = editor.head(location, headers=TUS)
    assert head.status_code == 200
    assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("0", "1234")
    assert head.headers["upload-metadata"] == sent
    assert head.headers["cache-control"] == "no-store"
    assert head.headers["tus-resumable"] == "1.0.0"
    assert head.headers["upload-expires"] == r.headers["upload-expires"]


def test_requests_without_tus_resumable_1_0_0_are_412_and_change_nothing(
    editor: httpx.Client, data_dir: Path,
) -> None:
    upload_url = created(editor, 10)
    rows = upload_rows(data_dir)
    for version in (None, "0.2.2", "1.0"):
        headers = {"Upload-Length": "10"} | ({"Tus-Resumable": version} if version else {})
        r = editor.post("/api/pools/default/uploads", headers=headers)
        assert r.status_code == 412, version
        assert r.headers["tus-version"] == "1.0.0" and r.headers["tus-resumable"] == "1.0.0"
        assert r.headers["content-type"] == "application/problem+json"
        r = editor.patch(upload_url, content=b"abc", headers={
            "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0",
            **({"Tus-Resumable": version} if version else {})})
        assert r.status_code == 412
        assert editor.delete(upload_url).status_code == 412
    assert upload_rows(data_dir) == rows
    assert offset_of(editor, upload_url) == 0
    # Credentials come first, as everywhere under /api/.
    anonymous = httpx.post(f"{editor.base_url}/api/pools/default/uploads",
                           headers={"Upload-Length": "10"})
    assert anonymous.status_code == 401 and anonymous.headers["tus-resumable"] == "1.0.0"


def test_creation_refusals_keep_nothing(
    client: httpx.Client, editor: httpx.Client, base_url: str, tokens: dict[str, str],
    data_dir: Path,
) -> None:
    put_pool(client, "tus-small", max_size=1000)
    rows = upload_rows(data_dir)
    cases: list[tuple[dict[str, str], str, int, str | None]] = [
        ({}, "default", 400, "upload-length"),
        ({"Upload-Length": "-1"}, "default", 400, "Upload-Length"),
        ({"Upload-Length": "ten"}, "default", 400, "Upload-Length"),
        ({"Upload-Length": "1001"}, "tus-small", 413, "Upload-Length"),
        ({"Upload-Length": str(16 * MiB + 1)}, "default", 413, "Upload-Length"),
        ({"Upload-Length": "10", "Upload-Defer-Length": "1"}, "default", 400,
         "Upload-Defer-Length"),
        ({"Upload-Length": "10", "Upload-Metadata": "filename not-base64!"}, "default", 400,
         "Upload-Metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": metadata(type="image/jpeg")}, "default",
         400, "type"),
        ({"Upload-Length": "10", "Upload-Metadata": metadata(gallery="bad gallery")},
         "default", 400, "gallery"),
        ({"Upload-Length": "10", "Upload-Metadata": metadata(metadata="[1]")}, "default",
         400, "metadata"),
        ({"Upload-Length": "10", "Upload-Metadata": metadata(converter="nope")}, "default",
         422, "converter"),
        ({"Upload-Length": "10"}, "nope", 404, None),
    ]
    for headers, pool, status, field in cases:
        r = editor.post(f"/api/pools/{pool}/uploads", headers={**TUS, **headers})
        assert r.status_code == status, (headers, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["tus-resumable"] == "1.0.0"
        assert r.json().get("errors", [{}])[0].get("field") == field, (headers, r.text)
    with_body = editor.post("/api/pools/default/uploads", content=b"hello",
                            headers={**OCTETS, "Upload-Length": "5"})
    assert with_body.status_code == 400 and "creation-with-upload" in with_body.text
    viewer = httpx.post(f"{base_url}/api/pools/default/uploads",
                        headers={**TUS, "Upload-Length": "5", **bearer(tokens["viewer"])})
    assert viewer.status_code == 403
    anonymous = httpx.post(f"{base_url}/api/pools/default/uploads",
                           headers={**TUS, "Upload-Length": "5"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="assetry"'
    assert anonymous.headers["tus-resumable"] == "1.0.0"
    assert upload_rows(data_dir) == rows


def test_patch_at_the_wrong_offset_is_409_and_changes_nothing(editor: httpx.Client) -> None:
    upload_url = created(editor, 100)
    assert patch(editor, upload_url, 0, b"x" * 10).status_code == 204
    for wrong in (0, 5, 11, 100):
        r = patch(editor, upload_url, wrong, b"y" * 10)
        assert r.status_code == 409, wrong
        assert r.json()["errors"][0]["field"] == "Upload-Offset"
        assert "upload is at 10" in r.json()["detail"]
    assert offset_of(editor, upload_url) == 10
    r = patch(editor, upload_url, 10, b"z" * 5)
    assert (r.status_code, r.headers["upload-offset"]) == (204, "15")
    assert "upload-expires" in r.headers


def test_patch_needs_the_offset_octet_stream_type_and_an_offset(editor: httpx.Client) -> None:
    upload_url = created(editor, 10)
    r = editor.patch(upload_url, content=b"abc", headers={
        **TUS, "Content-Type": "application/octet-stream", "Upload-Offset": "0"})
    assert r.status_code == 415 and r.json()["errors"][0]["field"] == "Content-Type"
    r = editor.patch(upload_url, content=b"abc", headers=OCTETS)
    assert r.status_code == 400
    r = patch(editor, upload_url, -1, b"abc")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Upload-Offset"
    assert offset_of(editor, upload_url) == 0


def test_patch_beyond_upload_length_is_413_and_keeps_nothing(
    editor: httpx.Client, data_dir: Path,
) -> None:
    upload_url = created(editor, 100)
    assert patch(editor, upload_url, 0, b"a" * 60).status_code == 204
    stored = parts_of(data_dir, upload_url)
    r = patch(editor, upload_url, 60, b"b" * 41)  # Content-Length says so: before reading
    assert r.status_code == 413, r.text
    assert "lacks 40 bytes" in r.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: caught while streaming
        yield b"c" * 30
        yield b"d" * 30

    r = editor.patch(upload_url, content=chunked(), headers={**OCTETS, "Upload-Offset": "60"})
    assert r.status_code == 413, r.text
    assert offset_of(editor, upload_url) == 60
    assert parts_of(data_dir, upload_url) == stored


def test_checksums_are_verified_and_a_mismatch_is_460_with_the_chunk_discarded(
    editor: httpx.Client, client: httpx.Client, data_dir: Path,
) -> None:
    data = os.urandom(3000)
    upload_url = created(editor, len(data), filename="sums.bin")

    def checksum(algorithm: str, chunk: bytes) -> str:
        digest = hashlib.new(algorithm, chunk).digest()
        return f"{algorithm} {base64.b64encode(digest).decode()}"

    r = patch(editor, upload_url, 0, data[:1000],
              **{"Upload-Checksum": checksum("sha1", data[:1000])})
    assert r.status_code == 204, r.text
    stored = parts_of(data_dir, upload_url)
    bad = patch(editor, upload_url, 1000, data[1000:2000],
                **{"Upload-Checksum": checksum("sha1", data[1000:1999] + b"!")})
    assert bad.status_code == 460
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["title"] == "Checksum Mismatch"
    assert bad.json()["errors"][0]["field"] == "Upload-Checksum"
    unsupported = patch(editor, upload_url, 1000, data[1000:2000],
                        **{"Upload-Checksum": "md5 " + base64.b64encode(
                            hashlib.md5(data[1000:2000]).digest()).decode()})
    assert unsupported.status_code == 400
    assert offset_of(editor, upload_url) == 1000
    assert parts_of(data_dir, upload_url) == stored
    r = patch(editor, upload_url, 1000, data[1000:],
              **{"Upload-Checksum": checksum("sha256", data[1000:])})
    assert r.status_code == 204, r.text
    asset = client.get(r.headers["asset-location"]).json()
    assert asset["sha256"] == hashlib.sha256(data).hexdigest()
    assert (asset["type"], asset["filename"]) == ("file", "sums.bin")


def test_unknown_uploads_are_404(editor: httpx.Client) -> None:
    for path in (f"/api/pools/default/uploads/{uuid4()}", "/api/pools/default/uploads/nope"):
        head = editor.head(path, headers=TUS)
        assert head.status_code == 404 and "upload-offset" not in head.headers
        assert head.headers["tus-resumable"] == "1.0.0"
        assert patch(editor, path, 0, b"abc").status_code == 404
        r = editor.delete(path, headers=TUS)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_an_upload_belongs_to_the_token_and_pool_that_created_it(
    editor: httpx.Client, client: httpx.Client, base_url: str, tokens: dict[str, str],
) -> None:
    put_pool(client, "tus-other")
    upload_url = created(editor, 10)
    upload_id = upload_url.rsplit("/", 1)[1]
    for token in ("editor2", "admin"):
        r = httpx.head(base_url + upload_url, headers={**TUS, **bearer(tokens[token])})
        assert r.status_code == 404, token
        r = httpx.patch(base_url + upload_url, content=b"abc", headers={
            **OCTETS, "Upload-Offset": "0", **bearer(tokens[token])})
        assert r.status_code == 404, token
    assert editor.head(f"/api/pools/tus-other/uploads/{upload_id}", headers=TUS
                       ).status_code == 404
    viewer = httpx.head(base_url + upload_url, headers={**TUS, **bearer(tokens["viewer"])})
    assert viewer.status_code == 403
    assert httpx.head(base_url + upload_url, headers=TUS).status_code == 401
    assert offset_of(editor, upload_url) == 0


def test_termination_removes_the_upload_and_its_bytes(
    editor: httpx.Client, data_dir: Path,
) -> None:
    upload_url = created(editor, 100)
    assert patch(editor, upload_url, 0, b"q" * 50).status_code == 204
    assert len(parts_of(data_dir, upload_url)) == 1
    r = editor.delete(upload_url, headers=TUS)
    assert r.status_code == 204 and r.headers["tus-resumable"] == "1.0.0"
    assert editor.head(upload_url, headers=TUS).status_code == 404
    assert patch(editor, upload_url, 50, b"q" * 50).status_code == 404
    assert editor.delete(upload_url, headers=TUS).status_code == 404
    assert parts_of(data_dir, upload_url) == set()


def test_a_finished_upload_the_ingest_refuses_keeps_nothing(
    client: httpx.Client, editor: httpx.Client, data_dir: Path,
) -> None:
    put_pool(client, "tus-images", asset_types=["image"])
    before = blob_files(data_dir)
    text = b"plain text, not an image\n" * 40
    upload_url = created(editor, len(text), pool="tus-images", filename="notes.txt")
    assert patch(editor, upload_url, 0, text[:500]).status_code == 204
    r = patch(editor, upload_url, 500, text[500:])
    assert r.status_code == 415, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "pool 'tus-images' does not accept file assets"
    assert "asset-location" not in r.headers
    assert editor.head(upload_url, headers=TUS).status_code == 404
    assert client.get("/api/pools/tus-images/assets").json()["items"] == []

    jpeg = corpus("photo_24mp.jpg").read_bytes()[:200_000]  # cut short: does not decode
    broken_url = created(editor, len(jpeg), type="image")
    r = patch(editor, broken_url, 0, jpeg)
    assert r.status_code == 422, r.text
    assert "not a decodable image/jpeg" in r.json()["detail"]
    assert editor.head(broken_url, headers=TUS).status_code == 404
    assert blob_files(data_dir) == before


def test_concurrent_patches_from_one_offset_cannot_both_count(
    editor: httpx.Client, client: httpx.Client, base_url: str, tokens: dict[str, str],
) -> None:
    first, second, rest = os.urandom(4096), os.urandom(4096), os.urandom(1000)
    upload_url = created(editor, 4096 + len(rest))
    answers: dict[bytes, int] = {}

    def slow_patch(chunk: bytes) -> None:
        def body() -> Iterator[bytes]:
            for i in range(0, len(chunk), 1024):
                time.sleep(0.2)  # both requests are past the offset check before either ends
                yield chunk[i:i + 1024]

        with httpx.Client(base_url=base_url, headers=bearer(tokens["editor"]),
                          timeout=30) as c:
            answers[chunk] = c.patch(upload_url, content=body(),
                                     headers={**OCTETS, "Upload-Offset": "0"}).status_code

    threads = [threading.Thread(target=slow_patch, args=(chunk,)) for chunk in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == [204, 409]
    winner = first if answers[first] == 204 else second
    assert offset_of(editor, upload_url) == 4096
    r = patch(editor, upload_url, 4096, rest)
    assert r.status_code == 204
    asset = client.get(r.headers["asset-location"]).json()
    assert asset["sha256"] == hashlib.sha256(winner + rest).hexdigest()


def test_an_empty_upload_is_stored_at_creation(editor: httpx.Client) -> None:
    r = create(editor, 0, filename="empty.txt")
    assert r.status_code == 201, r.text
    asset = editor.get(r.headers["asset-location"]).json()
    assert (asset["size"], asset["type"], asset["filename"]) == (0, "file", "empty.txt")
    assert asset["id"] == r.headers["asset-id"]
    head = editor.head(r.headers["location"], headers=TUS)
    assert (head.headers["upload-offset"], head.headers["upload-length"]) == ("0", "0")


def test_x_http_method_override_stands_in_for_patch_and_delete(
    editor: httpx.Client, anonymous: httpx.Client,
) -> None:
    upload_url = created(editor, 6)
    r = editor.post(upload_url, content=b"abc", headers={
        **OCTETS, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"})
    assert (r.status_code, r.headers["upload-offset"]) == (204, "3")
    # The overridden method is the one credentials are checked for.
    r = anonymous.get(upload_url, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 401
    r = editor.post(upload_url, headers={**TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 204
    assert editor.head(upload_url, headers=TUS).status_code == 404


# -- expiry and gc -----------------------------------------------------------------------


@pytest.mark.slow
def test_unfinished_uploads_expire_410_and_gc_removes_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with admin_client(data_dir, resumable_upload_expiry=1, render_workers=0) as client:
        unfinished = created(client, 100)
        assert patch(client, unfinished, 0, b"u" * 40).status_code == 204
        finished = created(client, 3, filename="done.txt")
        done = patch(client, finished, 0, b"abc")
        asset_url = done.headers["asset-location"]
        stray = data_dir / "blobs" / "uploads" / "ab" / str(uuid4()) / "00000000000000000000-x"
        stray.parent.mkdir(parents=True)
        stray.write_bytes(b"left by a crash")
        deadline = time.monotonic() + 10
        while client.head(unfinished, headers=TUS).status_code != 410:
            assert time.monotonic() < deadline, "the upload did not expire"
            time.sleep(0.2)
        r = patch(client, unfinished, 40, b"u" * 60)
        assert r.status_code == 410 and r.json()["title"] == "Gone"

        gc = [sys.executable, "-m", "assetry", "gc", "--data-dir", str(data_dir)]
        dry = subprocess.run([*gc, "--dry-run"], capture_output=True, text=True, timeout=120)
        assert dry.returncode == 0, dry.stderr
        assert "2 expired upload(s) found" in dry.stdout
        assert "1 orphaned blob(s) found" in dry.stdout
        assert client.head(unfinished, headers=TUS).status_code == 410
        run = subprocess.run(gc, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "2 expired upload(s) deleted" in run.stdout
        assert f"upload {unfinished.rsplit('/', 1)[1]}" in run.stdout

        assert client.head(unfinished, headers=TUS).status_code == 404
        assert client.head(finished, headers=TUS).status_code == 404
        assert client.get(asset_url).status_code == 200  # the asset stays
        assert not any(p.is_relative_to(data_dir / "blobs" / "uploads")
                       for p in blob_files(data_dir))
        assert upload_rows(data_dir) == 0
