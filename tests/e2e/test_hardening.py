"""Hostile input over real HTTP: corrupted images, decompression bombs, documents posing
as images, path tricks in file names, malformed requests. Nothing may answer 500 or take
the server down; every response carries the safe headers.

The fuzzing runs against `assetry serve` in its own process, so a crash inside libvips is
a connection error reported here rather than the end of the test run.
"""

from __future__ import annotations

import random
import re
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from tests.support.images import solid
from tests.support.server import ServedProcess, admin_client, server_process
from tests.support.tokens import bearer, make_tokens

VARIANTS = 40
FORMATS = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "tiff": ".tif",
           "avif": ".avif"}
HEADER_REGION = 64


# --------------------------------------------------------------------------- the server


@dataclass
class Target:
    served: ServedProcess
    data_dir: Path
    admin: httpx.Client
    anonymous: httpx.Client

    def healthy(self) -> None:
        try:
            r = self.anonymous.get("/health")
        except httpx.TransportError as exc:
            pytest.fail(f"the server is gone ({exc!r}); its log:\n{self.served.log_tail()}")
        assert r.status_code == 200, r.text
        assert self.served.proc.poll() is None


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir = tmp_path_factory.mktemp("hardening")
    log = tmp_path_factory.mktemp("hardening-log") / "serve.log"
    secret = make_tokens(data_dir, {"admin": "admin", "editor": "editor"})["admin"]
    with server_process(data_dir, log=log, render_workers="1", log_level="warning") as served, \
            httpx.Client(base_url=served.url, headers=bearer(secret), timeout=30) as admin, \
            httpx.Client(base_url=served.url, timeout=30) as anonymous:
        yield Target(served, data_dir, admin, anonymous)


def upload(client: httpx.Client, data: bytes, filename: str = "f.bin", pool: str = "default",
           **fields: str) -> httpx.Response:
    return client.post(f"/api/pools/{pool}/assets", files={"file": (filename, data)},
                       data=fields)


# --------------------------------------------------------------------------- corrupted images


def sample(suffix: str) -> bytes:
    """A small gradient (so the compressed stream is not trivial) in one format."""
    xyz = pyvips.Image.xyz(48, 32)
    x, y = xyz[0], xyz[1]
    image = (x * 5).bandjoin([y * 7, (x + y) * 3]).cast("uchar").copy(interpretation="srgb")
    return bytes(image.write_to_buffer(suffix))


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(1, len(data))]


def _flip(data: bytes, rng: random.Random, lo: int, hi: int) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(lo, hi)] ^= rng.randrange(1, 256)
    return bytes(out)


def _flip_header(data: bytes, rng: random.Random) -> bytes:
    return _flip(data, rng, 0, min(HEADER_REGION, len(data)))


def _flip_body(data: bytes, rng: random.Random) -> bytes:
    return _flip(data, rng, min(HEADER_REGION, len(data) - 1), len(data))


def _zero(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    n = rng.randrange(1, max(2, len(data) // 4))
    return data[:start] + bytes(len(data[start:start + n])) + data[start + n:]


def _duplicate(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    n = rng.randrange(1, max(2, len(data) // 4))
    chunk = data[start:start + n]
    return data[:start + n] + chunk + data[start + n:]


def _mixed(data: bytes, rng: random.Random) -> bytes:
    for _ in range(rng.randint(2, 3)):
        data = rng.choice(SIMPLE)(data, rng)
    return data


SIMPLE: list[Callable[[bytes, random.Random], bytes]] = [
    _truncate, _flip_header, _flip_body, _zero, _duplicate]
MUTATIONS = [*SIMPLE, _mixed]


def variants(fmt: str) -> Iterator[tuple[str, bytes]]:
    """VARIANTS corrupted copies of one sample, the same on every run."""
    original = sample(FORMATS[fmt])
    rng = random.Random(f"assetry-hardening-{fmt}")
    for i in range(VARIANTS):
        mutate = MUTATIONS[i % len(MUTATIONS)]
        yield f"{fmt}#{i}:{mutate.__name__.strip('_')}", mutate(original, rng)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_corrupted_images_are_refused_or_stored_never_500(target: Target, fmt: str) -> None:
    assert upload(target.admin, sample(FORMATS[fmt]), f"ok{FORMATS[fmt]}",
                  type="image").status_code == 201, "the uncorrupted sample must be accepted"
    problems: list[str] = []
    seen: dict[int, int] = {}
    for label, data in variants(fmt):
        try:
            r = upload(target.admin, data, f"fuzz{FORMATS[fmt]}", type="image")
        except httpx.TransportError as exc:
            problems.append(f"{label}: POST upload -> {exc!r}")
            break  # the server may be gone; the health check below says so
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        if r.status_code not in (201, 415, 422):
            problems.append(f"{label}: POST upload -> {r.status_code} {r.text[:300]}")
            continue
        if r.status_code != 201:
            assert r.headers["content-type"] == "application/problem+json"
            continue
        thumb = r.json()["versions"]["thumbnail"]["url"]
        try:
            t = target.admin.get(thumb)
        except httpx.TransportError as exc:
            problems.append(f"{label}: GET thumbnail -> {exc!r}")
            break
        if t.status_code not in (200, 422):
            problems.append(f"{label}: GET thumbnail -> {t.status_code} {t.text[:300]}")
    target.healthy()
    assert not problems, f"statuses {seen}; problems:\n" + "\n".join(problems) + \
        f"\nserver log tail:\n{target.served.log_tail(3000)}"


def test_server_is_healthy_after_the_fuzzing(target: Target) -> None:
    target.healthy()
    assert upload(target.admin, solid(64, 48), "fine.jpg", type="image").status_code == 201


# --------------------------------------------------------------------------- bombs


def png_claiming(width: int, height: int) -> bytes:
    """A valid small PNG whose IHDR (with a recomputed CRC) declares width x height."""
    data = bytearray(solid(64, 48, fmt=".png"))
    assert data[12:16] == b"IHDR"
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def test_png_header_bomb_is_422_quickly(target: Target) -> None:
    bomb = png_claiming(100_000, 100_000)
    for fields in ({"type": "image"}, {}):
        started = time.monotonic()
        r = upload(target.admin, bomb, "bomb.png", **fields)
        elapsed = time.monotonic() - started
        assert r.status_code == 422, (fields, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert elapsed < 5, f"the bomb took {elapsed:.1f} s to refuse"
    target.healthy()


def animated_gif(width: int, height: int, frames: int) -> bytes:
    # Each frame its own colour: identical frames would be merged by the encoder.
    pages = [(pyvips.Image.black(width, height, bands=3)
              + [(37 * i) % 256, (11 * i) % 256, (i * 101) % 256]).cast("uchar")
             for i in range(frames)]
    strip = pyvips.Image.arrayjoin(pages, across=1).copy(interpretation="srgb")
    strip.set_type(pyvips.GValue.gint_type, "page-height", height)
    return bytes(strip.gifsave_buffer())


def test_many_frames_count_towards_the_pixel_cap(tmp_path: Path) -> None:
    gif = animated_gif(100, 100, 200)  # 200 x 10 000 px = 2 MP in all
    loaded = pyvips.Image.new_from_buffer(gif, "", n=-1)
    assert loaded.get("n-pages") == 200
    with admin_client(tmp_path, max_pixels=1_000_000, render_workers=0) as client:
        r = upload(client, gif, "many.gif", type="image")
        assert r.status_code == 422, r.text
        assert upload(client, animated_gif(100, 100, 50), "fewer.gif",
                      type="image").status_code == 201
        assert client.get("/health").status_code == 200


# --------------------------------------------------------------------------- not images


SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
       b'<script>alert(document.domain)</script><rect width="64" height="64" fill="red"/></svg>')
HTML = (b"<!DOCTYPE html>\n<html><head><title>x</title></head>"
        b"<body><script>alert(document.domain)</script><p>hello</p></body></html>\n")
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 4 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 64 64]>>endobj\n"
       b"4 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
# A GIF header whose width bytes open a JS comment: valid-looking GIF, valid JS.
POLYGLOT = b"GIF89a/*\x01\x00\x80\x00\x00" + bytes(range(256)) * 4 + b"*/=alert(1);//\n"
DOCUMENTS = {"svg": ("x.svg", SVG), "html": ("x.html", HTML), "pdf": ("x.pdf", PDF)}


@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_documents_are_never_decoded_as_images(target: Target, kind: str) -> None:
    filename, data = DOCUMENTS[kind]
    r = upload(target.admin, data, filename.replace(kind, "png"), type="image")
    assert r.status_code == 415, r.text
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_documents_as_files_are_downloads(target: Target, kind: str) -> None:
    filename, data = DOCUMENTS[kind]
    r = upload(target.admin, data, filename, type="file")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["type"] == "file" and body["versions"] == {}
    got = target.admin.get(body["content_url"])
    assert got.status_code == 200 and got.content == data
    disposition = got.headers["content-disposition"]
    csp = got.headers["content-security-policy"]
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert got.headers["content-type"] not in ("text/html", "image/svg+xml") or \
        disposition.startswith("attachment")
    assert disposition.startswith("attachment"), (
        f"{kind} ({body['mime_type']}) is served {disposition!r}")


def test_gif_js_polyglot(target: Target) -> None:
    r = upload(target.admin, POLYGLOT, "poly.gif", type="image")
    assert r.status_code in (415, 422), r.text
    r = upload(target.admin, POLYGLOT, "poly.gif", type="file")
    assert r.status_code == 201, r.text
    body = r.json()
    got = target.admin.get(body["content_url"])
    assert got.status_code == 200 and got.content == POLYGLOT
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-type"] == body["mime_type"]
    assert "javascript" not in got.headers["content-type"]
    assert "html" not in got.headers["content-type"]
    csp = got.headers["content-security-policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    target.healthy()


# --------------------------------------------------------------------------- safe headers


def test_security_headers_on_every_response(target: Target) -> None:
    admin, anon = target.admin, target.anonymous
    image = upload(admin, solid(64, 48), "h.jpg", type="image").json()
    hidden = upload(admin, solid(64, 48), "hidden.jpg").json()
    assert admin.patch(hidden["url"], json={"hidden": True}).status_code == 200
    content, thumb = image["content_url"], image["versions"]["thumbnail"]["url"]
    tag = admin.get(content).headers["etag"]
    responses: dict[str, httpx.Response] = {
        "GET /health": anon.get("/health"),
        "GET /metrics": anon.get("/metrics"),
        "GET /api/docs": anon.get("/api/docs"),
        "GET /api/openapi.json": anon.get("/api/openapi.json"),
        "GET /api/pools (JSON)": admin.get("/api/pools"),
        "GET /api/pools (401)": anon.get("/api/pools"),
        "GET unknown asset (404)": anon.get("/api/assets/00000000-0000-4000-8000-000000000000"),
        "GET unknown route (404)": anon.get("/no/such/route"),
        "POST /health (405)": anon.post("/health"),
        "POST truncated image (422)": upload(admin, solid(64, 48)[:300], type="image"),
        "POST svg as image (415)": upload(admin, SVG, "x.svg", type="image"),
        "PUT pool not JSON (400)": admin.put("/api/pools/x", content=b"{",
                                             headers={"content-type": "application/json"}),
        "GET hidden (410)": anon.get(hidden["url"]),
        "POST upload (201)": upload(admin, solid(64, 48), "n.jpg"),
        "PATCH asset (200)": admin.patch(image["url"], json={"metadata": {"a": 1}}),
        "GET content": anon.get(content),
        "HEAD content": anon.head(content),
        "GET content range (206)": anon.get(content, headers={"Range": "bytes=0-9"}),
        "GET content (304)": anon.get(content, headers={"If-None-Match": tag}),
        "GET content range (416)": anon.get(content, headers={"Range": "bytes=99999-"}),
        "GET version": anon.get(thumb),
        "HEAD version": anon.head(thumb),
        "GET version (304)": anon.get(thumb, headers={
            "If-None-Match": anon.get(thumb).headers["etag"]}),
        "GET unknown version (404)": anon.get(f"{image['url']}/versions/nope"),
    }
    byte_responses = ("GET content", "HEAD content", "GET content range (206)",
                      "GET content (304)", "GET version", "HEAD version", "GET version (304)")
    wrong: dict[str, str] = {}
    for name, r in responses.items():
        if r.status_code >= 500:
            wrong[name] = f"status {r.status_code}"
        if r.headers.get("x-content-type-options") != "nosniff":
            wrong[name] = f"x-content-type-options {r.headers.get('x-content-type-options')!r}"
        if "set-cookie" in r.headers:
            wrong[name] = f"set-cookie {r.headers['set-cookie']!r}"
        if name in byte_responses:
            csp = r.headers.get("content-security-policy", "")
            if "sandbox" not in csp or "default-src 'none'" not in csp:
                wrong[name] = f"content-security-policy {csp!r}"
    assert not wrong, wrong
    assert responses["GET content range (206)"].status_code == 206
    assert responses["GET content (304)"].status_code == 304
    assert responses["GET hidden (410)"].status_code == 410


# --------------------------------------------------------------------------- blob keys


def _files(root: Path, skip: tuple[Path, ...]) -> set[Path]:
    return {p for p in root.rglob("*")
            if p.is_file() and not any(p == s or s in p.parents for s in skip)}


TRICKY_NAMES = ["../../../evil.txt", "/etc/passwd", "..\\..\\x", "a/../../b",
                "../../../../../../../../tmp/evil2.txt", "..", "evil\x00.txt"]


def test_blob_keys_are_made_by_the_server(target: Target,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    # Everything under pytest's temporary root (the data dir's parent and its siblings)
    # but the data dir itself; and the top level of the places a relative or absolute
    # path could land (the server's working directory, its parent, /tmp).
    base = tmp_path_factory.getbasetemp()
    assert target.data_dir.parent == base
    skip = (target.data_dir, target.served.log)
    before = _files(base, skip)
    tops = (Path.cwd(), Path.cwd().parent, Path("/tmp"))
    top_level = {p for root in tops for p in root.iterdir()}
    stored = []
    for name in TRICKY_NAMES:
        r = upload(target.admin, b"evil payload for " + name.encode() + b"\n", name)
        assert r.status_code == 201, (name, r.status_code, r.text)
        body = r.json()
        assert "/" not in body["filename"] and "\\" not in body["filename"], body["filename"]
        assert body["filename"] not in ("", ".", ".."), body["filename"]
        stored.append(body)
    r = upload(target.admin, solid(64, 48), "../../../evil.jpg", type="image",
               gallery="g1")
    assert r.status_code == 201 and r.json()["filename"] == "evil.jpg"
    stored.append(r.json())
    for body in stored:
        got = target.admin.get(body["content_url"])
        assert got.status_code == 200
        assert "/" not in got.headers["content-disposition"].split("filename", 1)[1]
    assert _files(base, skip) == before, "files appeared outside the data directory"
    after_top = {p for root in tops for p in root.iterdir()}
    assert not {p for p in after_top - top_level
                if "evil" in p.name or "passwd" in p.name or p.name in ("x", "b")}
    blobs = target.data_dir / "blobs"
    slots = target.data_dir / "run" / "render-slots"  # the server's own lock files
    homes = target.data_dir / "run" / "home-cores"  # ... and its processes' cores
    metrics = target.data_dir / "run" / "metrics"  # its processes' metrics and their locks
    for path in target.data_dir.rglob("*"):
        if path.is_file() and path.name not in ("assetry.db", "assetry.db-wal",
                                                "assetry.db-shm", "url-signing.key"):
            if path.parent == slots:
                assert (path.name.startswith("render-slot-")
                        or path.name == "render-waiting.lock"), path
                continue
            if path.parent == homes:
                assert re.fullmatch(r"home-core-\d+\.lock", path.name), path
                continue
            if metrics in path.parents:
                assert re.fullmatch(r"\.claim|\d+\.lock|(counter|histogram)_\d+\.db",
                                    path.name), path
                continue
            assert blobs in path.parents, f"a file outside the blob directory: {path}"
        rel = str(path.relative_to(target.data_dir))
        assert "evil" not in rel and "passwd" not in rel, rel


# --------------------------------------------------------------------------- malformed requests


def test_invalid_uuids_are_4xx_problems(target: Target) -> None:
    urls = [("GET", "/api/assets/not-a-uuid"), ("GET", "/api/assets/123/content"),
            ("GET", "/api/assets/zzz/versions/thumbnail"), ("PATCH", "/api/assets/not-a-uuid"),
            ("DELETE", "/api/assets/not-a-uuid"), ("PUT", "/api/assets/not-a-uuid"),
            ("POST", "/api/assets/not-a-uuid/convert"),
            ("GET", "/api/assets/" + "a" * 5000),
            ("GET", "/api/assets/%00"), ("GET", "/api/assets/..%2f..%2fetc%2fpasswd"),
            ("GET", "/api/assets/00000000-0000-0000-0000-00000000000g")]
    wrong = {}
    for method, url in urls:
        kwargs: dict[str, Any] = {"json": {}} if method in ("PATCH", "POST") else {}
        for client in (target.admin, target.anonymous):
            r = client.request(method, url, **kwargs)
            # Credentials are checked first: an anonymous write is 401 whatever the id.
            allowed = (401,) if client is target.anonymous and method != "GET" else (400, 404)
            ok = r.status_code in allowed and \
                r.headers["content-type"] == "application/problem+json"
            if not ok:
                wrong[f"{method} {url[:60]}"] = f"{r.status_code} {r.text[:200]}"
    assert not wrong, wrong


def test_body_that_is_not_json_is_400(target: Target) -> None:
    r = target.admin.put("/api/pools/x", content=b"{not json",
                         headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 400
    assert target.admin.get("/api/pools/x").status_code == 404


def malformed_cases() -> Iterator[Any]:
    """(method, path, request kwargs, allowed statuses): bad shapes of otherwise fine
    requests, each an admin's; `{asset}` is an image's url."""
    bad_json = {"content": b"{", "headers": {"content-type": "application/json"}}
    deep = "[" * 100_000
    yield from (
        pytest.param("PATCH", "{asset}", bad_json, {400}, id="PATCH body not JSON"),
        pytest.param("PATCH", "{asset}", {"json": [1, 2]}, {400}, id="PATCH body a list"),
        pytest.param("PATCH", "{asset}", {"json": {"gallery": 123}}, {400},
                     id="PATCH gallery a number"),
        pytest.param("PATCH", "{asset}", {"json": {"gallery": ["a"]}}, {400},
                     id="PATCH gallery a list"),
        pytest.param("PATCH", "{asset}", {"json": {"filename": 5}}, {400},
                     id="PATCH filename a number"),
        pytest.param("PATCH", "{asset}", {"json": {"metadata": "[1]"}}, {400},
                     id="PATCH metadata a JSON list"),
        pytest.param("PATCH", "{asset}", {"content": deep.encode(),
                                          "headers": {"content-type": "application/json"}},
                     {400}, id="PATCH deeply nested JSON"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"files": {"file": ("a.jpg", solid(8, 8))}, "data": {"metadata": deep}},
                     {400}, id="upload metadata deeply nested"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"files": {"file": ("a.jpg", solid(8, 8))}, "data": {"metadata": "{"}},
                     {400}, id="upload metadata not JSON"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"files": {"file": ("a.jpg", solid(8, 8))}, "data": {"gallery": "a b/c"}},
                     {400}, id="upload gallery with spaces"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"files": {"file": ("a.jpg", solid(8, 8))}, "data": {"type": "movie"}},
                     {400}, id="upload unknown type"),
        pytest.param("POST", "/api/pools/default/assets", {"data": {"type": "image"}}, {400},
                     id="upload without file"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"content": b"garbage", "headers": {"content-type": "multipart/form-data"}},
                     {400}, id="upload multipart without boundary"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"content": b"--b\r\nnonsense\r\n",
                      "headers": {"content-type": "multipart/form-data; boundary=b"}},
                     {400}, id="upload multipart truncated"),
        pytest.param("POST", "/api/pools/default/assets",
                     {"content": b"{}", "headers": {"content-type": "application/json"}},
                     {400, 415}, id="upload as JSON"),
        pytest.param("POST", "{asset}/convert", {"json": {"settings": [1]}}, {400, 422},
                     id="convert settings a list"),
        pytest.param("POST", "{asset}/convert",
                     {"json": {"settings": {"versions": {"thumbnail": {"width": "x"}}}}},
                     {400, 422}, id="convert width a string"),
        pytest.param("POST", "{asset}/convert", {"json": {"converter": ["a"]}}, {400},
                     id="convert converter a list"),
        pytest.param("POST", "{asset}/attachments", {"json": {"resource": "r" * 513}}, {400},
                     id="attach resource too long"),
        pytest.param("PUT", "/api/pools/x", {"json": {"asset_types": [["image"]]}}, {400},
                     id="pool asset_types nested list"),
        pytest.param("PUT", "/api/pools/x", {"json": {"max_size": 1e300}}, {400},
                     id="pool max_size a float"),
        pytest.param("PUT", "/api/converters/x",
                     {"json": {"versions": [{"name": "a", "width": 10, "height": 10,
                                             "operations": [{"op": ["rotate"]}]}]}},
                     {400, 422}, id="converter op a list"),
        pytest.param("PUT", "/api/converters/x",
                     {"json": {"versions": [{"name": "a", "width": 10, "height": 10,
                                             "fit": {"x": 1}}]}},
                     {400, 422}, id="converter fit an object"),
        pytest.param("GET", "/api/pools/default/assets", {"params": {"limit": "abc"}}, {400},
                     id="list limit not a number"),
        pytest.param("GET", "/api/pools/default/assets", {"params": {"cursor": "!!!"}}, {400},
                     id="list cursor garbage"),
        pytest.param("GET", "/api/pools/default/assets", {"params": {"attached": "maybe"}},
                     {400}, id="list attached not a bool"),
        pytest.param("GET", "/api/galleries", {}, {400}, id="galleries without id"),
        pytest.param("POST", "/api/pools/default/imports", {"json": {"url": "http://[::1"}},
                     {400, 422}, id="import URL unparsable"),
        pytest.param("POST", "/api/pools/default/imports", {"json": {"url": "file:///etc/passwd"}},
                     {422}, id="import file URL"),
    )


@pytest.mark.parametrize(("method", "path", "kwargs", "allowed"), list(malformed_cases()))
def test_malformed_requests_are_4xx_problems(target: Target, method: str, path: str,
                                             kwargs: dict[str, Any], allowed: set[int]) -> None:
    asset = upload(target.admin, solid(32, 32), "m.jpg").json()
    r = target.admin.request(method, path.format(asset=asset["url"]), **kwargs)
    assert r.status_code in allowed, f"{method} {path}: {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == r.status_code
    target.healthy()
