"""Upload: streaming, size limits, sniffing, decode checks, the Asset JSON."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import blob_files
from tests.support.images import solid

ASSET_KEYS = {
    "id", "pool", "type", "filename", "mime_type", "size", "sha256", "width", "height",
    "gallery", "converter", "metadata", "attached_to", "hidden", "creator", "modified_by",
    "created_at", "modified_at", "url", "content_url", "versions", "placeholder",
}
MiB16 = 16 * 1024 * 1024


def upload(client: httpx.Client, data: bytes, filename: str = "photo.jpg", pool: str = "default",
           **fields: str) -> httpx.Response:
    return client.post(f"/api/pools/{pool}/assets", files={"file": (filename, data)},
                       data=fields)


def test_upload_image_returns_asset_json(client: httpx.Client) -> None:
    data = solid(1200, 900)
    r = upload(client, data, metadata=json.dumps({"alt": "blue"}))
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == ASSET_KEYS | {"updated_resources", "duplicate_of"}
    assert r.headers["location"] == f"/api/assets/{body['id']}" == body["url"]
    assert body["type"] == "image" and body["mime_type"] == "image/jpeg"
    assert body["size"] == len(data) and isinstance(body["size"], int)
    assert (body["width"], body["height"]) == (1200, 900)
    assert body["gallery"] == body["id"]
    assert body["converter"] == "default"
    assert body["metadata"] == {"alt": "blue"}
    assert body["attached_to"] == [] and body["hidden"] is False
    assert body["content_url"] == f"/api/assets/{body['id']}/content?v={body['sha256'][:16]}"
    assert set(body["versions"]) == {"detail", "thumbnail"}
    for name, v in body["versions"].items():
        assert v["url"].split("?v=")[0] == f"/api/assets/{body['id']}/versions/{name}"
        assert v["status"] in ("pending", "ready")
    assert body["created_at"].endswith("Z")
    ur = body["updated_resources"]
    assert set(ur) == {"created", "modified", "removed", "changed_descendants"}
    assert body["url"] in ur["created"]
    assert ur["changed_descendants"] == ["/api/pools/default"]
    got = client.get(body["url"]).json()
    assert {k: got[k] for k in ASSET_KEYS - {"versions"}} == {
        k: body[k] for k in ASSET_KEYS - {"versions"}}


def test_upload_versions_are_fetchable_with_their_sizes(client: httpx.Client) -> None:
    body = upload(client, solid(1200, 900)).json()
    detail = client.get(body["versions"]["detail"]["url"])
    thumb = client.get(body["versions"]["thumbnail"]["url"])
    assert detail.status_code == thumb.status_code == 200
    assert detail.headers["content-type"] == "image/jpeg"
    from tests.support.images import load

    assert (load(detail.content).width, load(detail.content).height) == (800, 800)
    assert (load(thumb.content).width, load(thumb.content).height) == (100, 100)
    after = client.get(body["url"]).json()["versions"]
    assert after["thumbnail"]["status"] == "ready"
    assert (after["thumbnail"]["width"], after["thumbnail"]["height"]) == (100, 100)
    assert after["thumbnail"]["size"] == len(thumb.content)


def test_upload_exactly_the_limit_is_accepted(client: httpx.Client) -> None:
    data = os.urandom(MiB16)
    r = upload(client, data, filename="blob.bin")
    assert r.status_code == 201, r.text
    assert r.json()["size"] == MiB16 and r.json()["type"] == "file"


def test_upload_one_byte_over_the_limit_is_413_and_stores_nothing(
    client: httpx.Client, data_dir: Path
) -> None:
    before = blob_files(data_dir)
    listed = client.get("/api/pools/default/assets", params={"limit": 500}).json()["items"]
    r = upload(client, os.urandom(MiB16 + 1), filename="big.bin")
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 413 and r.json()["errors"][0]["field"] == "file"
    assert blob_files(data_dir) == before
    assert client.get("/api/pools/default/assets", params={"limit": 500}).json()["items"] == listed
    assert not any((data_dir / "spool").iterdir())


def test_upload_refused_from_content_length_before_the_body_is_read(
    base_url: str, tokens: dict[str, str]
) -> None:
    # Announce 100 MiB but send none of it: the answer must come without the body.
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    assert host is not None and port is not None
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"POST /api/pools/default/assets HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: multipart/form-data; boundary=b\r\n"
                  + f"Authorization: Bearer {tokens['editor']}\r\n".encode() +
                  b"Content-Length: 104857600\r\n\r\n")
        reply = s.recv(65536).decode("latin-1")
    assert reply.startswith("HTTP/1.1 413")


def test_upload_streamed_without_content_length_is_capped(client: httpx.Client) -> None:
    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"s.bin\"\r\n\r\n").encode()

    def body():  # chunked: no Content-Length
        yield head
        for _ in range(17):
            yield b"\0" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post("/api/pools/default/assets", content=body(),
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413


def test_upload_declared_type_mismatch_is_415(client: httpx.Client) -> None:
    r = upload(client, solid(50, 50, fmt=".png"), filename="x.png", mime_type="image/jpeg")
    assert r.status_code == 415
    assert r.json()["errors"][0]["field"] == "mime_type"


def test_upload_extension_is_not_trusted(client: httpx.Client) -> None:
    r = upload(client, b"<html><script>alert(1)</script></html>", filename="evil.jpg")
    assert r.status_code == 201
    assert r.json()["type"] == "file" and r.json()["mime_type"] == "text/html"


def test_upload_non_image_as_image_is_415(client: httpx.Client) -> None:
    r = upload(client, b"%PDF-1.4 not an image", filename="x.png", type="image")
    assert r.status_code == 415


def test_upload_truncated_jpeg_is_422_and_stores_nothing(client: httpx.Client, data_dir: Path
                                                         ) -> None:
    # The original goes to the blob store while the image renders: a render that fails
    # must take it away again.
    before = blob_files(data_dir)
    listed = client.get("/api/pools/default/assets", params={"limit": 500}).json()["items"]
    data = solid(400, 300, fmt=".jpg", Q=90)
    r = upload(client, data[: len(data) // 2], type="image")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert blob_files(data_dir) == before
    assert client.get("/api/pools/default/assets", params={"limit": 500}).json()["items"] == listed
    assert not any((data_dir / "spool").iterdir())


def test_upload_file_of_any_bytes_works(client: httpx.Client) -> None:
    r = upload(client, b"\x00\x01 hello", filename="data.bin")
    assert r.status_code == 201
    body = r.json()
    assert body["type"] == "file" and body["versions"] == {} and body["width"] is None
    assert client.get(body["content_url"]).content == b"\x00\x01 hello"


def test_upload_to_pool_that_refuses_the_type_is_415(client: httpx.Client) -> None:
    assert client.put("/api/pools/images-only", json={"asset_types": ["image"]}).status_code in (
        200, 201)
    r = upload(client, b"plain text", filename="a.txt", pool="images-only")
    assert r.status_code == 415


def test_upload_to_unknown_pool_is_404(client: httpx.Client) -> None:
    assert upload(client, b"x", pool="nope").status_code == 404


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
    ("..", "upload"),
])
def test_upload_filename_is_sanitised(client: httpx.Client, raw: str, clean: str) -> None:
    r = upload(client, b"bytes", filename=raw)
    assert r.status_code == 201
    assert r.json()["filename"] == clean


def test_upload_filename_control_characters_are_removed(client: httpx.Client) -> None:
    # httpx would percent-encode them; send the raw bytes as a hostile client would.
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; '
            b'filename="bad\x01na\x1fme\x7f.jpg"\r\n\r\nbytes\r\n--b--\r\n')
    r = client.post("/api/pools/default/assets", content=body,
                    headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "badname.jpg"


def test_upload_fields_after_the_file_keep_the_filename(client: httpx.Client) -> None:
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="first.bin"\r\n\r\n'
            b'data\r\n--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            b'{"k": 1}\r\n--b--\r\n')
    r = client.post("/api/pools/default/assets", content=body,
                    headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 201, r.text
    assert (r.json()["filename"], r.json()["metadata"]) == ("first.bin", {"k": 1})


def test_upload_without_file_is_400(client: httpx.Client) -> None:
    r = client.post("/api/pools/default/assets", data={"type": "file"},
                    files={"other": (None, "x")})
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "file"


def test_upload_not_multipart_is_400(client: httpx.Client) -> None:
    r = client.post("/api/pools/default/assets", json={"file": "x"})
    assert r.status_code == 400


def test_upload_bad_metadata_is_400_and_stores_nothing(client: httpx.Client, data_dir: Path
                                                      ) -> None:
    before = blob_files(data_dir)
    r = upload(client, solid(10, 10), metadata="[1, 2")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "metadata"
    assert blob_files(data_dir) == before


def test_upload_unknown_converter_is_422_and_stores_nothing(client: httpx.Client,
                                                           data_dir: Path) -> None:
    before = blob_files(data_dir)
    r = upload(client, solid(10, 10), converter="nope")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "converter"
    assert blob_files(data_dir) == before
