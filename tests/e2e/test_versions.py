"""Versions over HTTP: geometry, formats, colour, orientation, converters, failures."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.test_upload import upload
from tests.support.images import banded, corpus, load, solid, with_alpha
from tests.support.server import admin_client


def version(client: httpx.Client, body: dict, name: str) -> httpx.Response:
    r = client.get(body["versions"][name]["url"])
    assert r.status_code == 200, r.text
    return r


@pytest.fixture
def crop_converter(client: httpx.Client) -> str:
    r = client.put("/api/converters/wide", json={"versions": [
        {"name": "wide", "width": 200, "height": 100, "fit": "cover", "upscale": True}]})
    assert r.status_code in (200, 201), r.text
    return "wide"


@pytest.mark.parametrize(("size", "box"), [
    ((840, 700), (0, 140, 840, 420)),
    ((1000, 400), (100, 0, 800, 400)),
    ((800, 400), (0, 0, 800, 400)),
    ((999, 500), (0, 0, 999, 500)),
])
def test_cover_crops_like_the_original_system(client: httpx.Client, crop_converter: str,
                                              size: tuple[int, int],
                                              box: tuple[int, int, int, int]) -> None:
    # Blue inside the expected crop box, red outside: the version must be (nearly) all blue
    # at the resampled edges, and a one-pixel-wider crop would bring red in.
    data = banded(*size, box=(box[0] + 1, box[1] + 1, box[2] - 2, box[3] - 2))
    body = upload(client, data, filename="b.png", converter=crop_converter).json()
    out = load(version(client, body, "wide").content)
    assert (out.width, out.height) == (200, 100)
    inner = out.crop(4, 4, 192, 92)
    assert inner.extract_band(2).min() > 200 and inner.extract_band(0).max() < 60


def test_small_images_are_not_upscaled(client: httpx.Client) -> None:
    body = upload(client, solid(36, 38, fmt=".png"), filename="tiny.png").json()
    thumb = load(version(client, body, "thumbnail").content)
    assert (thumb.width, thumb.height) == (36, 36)
    detail = load(version(client, body, "detail").content)
    assert (detail.width, detail.height) == (36, 36)


def test_png_keeps_alpha_and_jpeg_flattens_it_on_white(client: httpx.Client) -> None:
    client.put("/api/converters/both", json={"versions": [
        {"name": "png", "width": 64, "height": 64},
        {"name": "jpg", "width": 64, "height": 64, "format": "jpeg"}]})
    body = upload(client, with_alpha(128, 128), filename="a.png", converter="both").json()
    png = load(version(client, body, "png").content)
    assert png.bands == 4 and png.getpoint(0, 0)[3] == 0 and png.getpoint(32, 32)[3] == 255
    r = version(client, body, "jpg")
    assert r.headers["content-type"] == "image/jpeg"
    jpg = load(r.content)
    assert jpg.bands == 3 and min(jpg.getpoint(1, 1)) > 245


def test_jpeg_versions_are_progressive_and_without_metadata(client: httpx.Client) -> None:
    source = solid(900, 900, fmt=".jpg", keep="all")
    body = upload(client, source).json()
    out = load(version(client, body, "detail").content)
    assert out.get("interlaced") == 1
    fields = set(out.get_fields())
    assert not fields & {"exif-data", "icc-profile-data", "xmp-data", "iptc-data"}


@pytest.mark.parametrize(("fmt", "mime"), [("webp", "image/webp"), ("avif", "image/avif"),
                                           ("png", "image/png")])
def test_output_formats(client: httpx.Client, fmt: str, mime: str) -> None:
    client.put(f"/api/converters/as-{fmt}", json={"versions": [
        {"name": "small", "width": 120, "height": 90, "fit": "inside", "format": fmt,
         "quality": 60}]})
    body = upload(client, solid(400, 300), converter=f"as-{fmt}").json()
    r = version(client, body, "small")
    assert r.headers["content-type"] == mime
    out = load(r.content)
    assert (out.width, out.height) == (120, 90)


@pytest.mark.parametrize(("fit", "expected"), [
    ("contain", (200, 200)), ("inside", (200, 100)), ("fill", (200, 200)), ("cover", (200, 200)),
])
def test_fit_modes(client: httpx.Client, fit: str, expected: tuple[int, int]) -> None:
    client.put(f"/api/converters/fit-{fit}", json={"versions": [
        {"name": "v", "width": 200, "height": 200, "fit": fit}]})
    body = upload(client, solid(800, 400), converter=f"fit-{fit}").json()
    out = load(version(client, body, "v").content)
    assert (out.width, out.height) == expected


@pytest.mark.slow
def test_exif_orientation_is_applied(client: httpx.Client) -> None:
    upright = upload(client, corpus("photo_12mp.jpg").read_bytes()).json()
    rotated = upload(client, corpus("photo_12mp_orient6.jpg").read_bytes()).json()
    assert (rotated["width"], rotated["height"]) == (4000, 3000)
    a = load(version(client, upright, "thumbnail").content)
    b = load(version(client, rotated, "thumbnail").content)
    assert (a.width, a.height) == (b.width, b.height) == (100, 100)
    assert (a - b).abs().avg() < 4
    assert "exif-data" not in b.get_fields()


@pytest.mark.slow
@pytest.mark.parametrize(("name", "mime"), [("photo_12mp.heic", "image/heic"),
                                            ("photo_12mp.webp", "image/webp")])
def test_heic_and_webp_photos_get_versions(client: httpx.Client, name: str, mime: str) -> None:
    body = upload(client, corpus(name).read_bytes(), filename=name).json()
    assert (body["type"], body["mime_type"]) == ("image", mime)
    assert (body["width"], body["height"]) == (4000, 3000)
    r = version(client, body, "detail")
    # No HEIC encoder here: `format: same` writes HEIC's versions as JPEG.
    assert r.headers["content-type"] == ("image/jpeg" if mime == "image/heic" else mime)
    out = load(r.content)
    assert (out.width, out.height) == (800, 800)


@pytest.mark.slow
def test_cmyk_with_icc_profile_becomes_srgb_without_the_profile(client: httpx.Client) -> None:
    cmyk = upload(client, corpus("photo_3mp_cmyk.jpg").read_bytes()).json()
    rgb = upload(client, corpus("photo_12mp.jpg").read_bytes()).json()
    out_data = version(client, cmyk, "thumbnail").content
    out = load(out_data)
    ref = load(version(client, rgb, "thumbnail").content)
    assert out.bands == 3 and out.interpretation == "srgb"
    assert "icc-profile-data" not in out.get_fields()
    assert len(out_data) < 30_000  # the 0.96 MB profile is not copied
    assert (out - ref).abs().avg() < 12  # colours as the RGB original, not shifted


def test_failed_render_is_marked_and_answers_422(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = upload(c, solid(300, 300)).json()
        for blob in (tmp_path / "blobs" / "originals").rglob("*"):
            if blob.is_file():
                blob.unlink()  # storage lost the original behind our back
        assert c.post(f"{body['url']}/convert", json={}).status_code == 200  # pending again
        r = c.get(body["versions"]["thumbnail"]["url"])
        assert r.status_code == 422
        assert "missing" in r.json()["detail"]
        v = c.get(body["url"]).json()["versions"]["thumbnail"]
        assert v["status"] == "failed" and "missing" in v["error"]
