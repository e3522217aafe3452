"""Versions for the web over real HTTP: format auto and Accept, srcset widths, animation,
chained versions and overlays (issue 7)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import blob_files
from tests.e2e.test_upload import upload
from tests.support.images import (
    MAGIC,
    animated,
    frames,
    load,
    noise,
    solid,
    with_alpha,
)
from tests.support.server import admin_client

CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
IMMUTABLE = "public, max-age=31536000, immutable"
RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


def converter(client: httpx.Client, name: str, *versions: dict) -> None:
    r = client.put(f"/api/converters/{name}", json={"versions": list(versions)})
    assert r.status_code in (200, 201), r.text


def get(client: httpx.Client, url: str, accept: str | None = None, **params: object
        ) -> httpx.Response:
    headers = {"accept": accept} if accept is not None else {}
    # httpx replaces the URL's own query with `params` when given, even an empty one
    r = client.get(url, headers=headers, **({"params": params} if params else {}))
    assert r.status_code == 200, r.text
    return r


def digest(data: bytes) -> str:
    """The `v` of URLs that serve exactly these bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def srcset_entries(srcset: str) -> list[tuple[str, str]]:
    """(URL, descriptor) pairs of a srcset."""
    return [(url, descriptor) for url, descriptor in
            (entry.split(" ") for entry in srcset.split(", "))]


def near(actual: list[float], expected: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


# -- format auto -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auto_asset(base_url: str, tokens: dict[str, str]) -> dict:
    with httpx.Client(base_url=base_url, timeout=60,
                      headers={"Authorization": f"Bearer {tokens['admin']}"}) as c:
        converter(c, "auto", {"name": "hero", "width": 320, "height": 240, "format": "auto",
                              "widths": [160, 320, 2000]})
        r = upload(c, noise(640, 480), converter="auto")
        assert r.status_code == 201, r.text
        return r.json()


@pytest.mark.parametrize(("accept", "mime"), [
    (CHROME, "image/avif"),
    ("image/webp,*/*", "image/webp"),
    ("image/avif;q=0.5,image/webp;q=0.9,*/*;q=0.8", "image/webp"),
    ("*/*", "image/jpeg"),  # wildcards never ask for AVIF or WebP
    (None, "image/jpeg"),
])
def test_auto_version_answers_the_format_accept_asks_for(
    client: httpx.Client, auto_asset: dict, accept: str | None, mime: str
) -> None:
    r = get(client, auto_asset["versions"]["hero"]["url"], accept)
    assert r.headers["content-type"] == mime
    assert MAGIC[mime](r.content)
    assert r.headers["vary"] == "Accept"
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    out = load(r.content)
    assert (out.width, out.height) == (320, 240)


def test_each_encoding_has_its_own_etag_and_revalidates_alone(client: httpx.Client,
                                                              auto_asset: dict) -> None:
    url = auto_asset["versions"]["hero"]["url"]
    tags = {mime: get(client, url, accept).headers["etag"] for accept, mime in [
        ("image/avif", "image/avif"), ("image/webp", "image/webp"), ("*/*", "image/jpeg")]}
    assert len(set(tags.values())) == 3
    fresh = client.get(url, headers={"accept": "image/avif",
                                     "if-none-match": tags["image/avif"]})
    assert fresh.status_code == 304 and fresh.headers["vary"] == "Accept"
    # the AVIF's tag does not revalidate what a client without AVIF gets
    other = client.get(url, headers={"accept": "*/*", "if-none-match": tags["image/avif"]})
    assert other.status_code == 200 and other.headers["content-type"] == "image/jpeg"
    head = client.head(url, headers={"accept": "image/webp"})
    assert (head.headers["content-type"], head.headers["etag"]) == (
        "image/webp", tags["image/webp"])


def test_format_parameter_asks_for_one_encoding(client: httpx.Client, auto_asset: dict) -> None:
    url = auto_asset["versions"]["hero"]["url"]
    r = get(client, url, CHROME, format="webp")
    assert r.headers["content-type"] == "image/webp" and "vary" not in r.headers
    assert 'filename="photo-hero.webp"' in r.headers["content-disposition"]
    missing = client.get(url, params={"format": "png"})  # the fallback is JPEG here
    assert missing.status_code == 404 and "not stored as png" in missing.json()["detail"]
    bad = client.get(url, params={"format": "bmp"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "format"


def test_asset_json_lists_every_format(client: httpx.Client, auto_asset: dict) -> None:
    hero = client.get(auto_asset["url"]).json()["versions"]["hero"]
    assert set(hero["formats"]) == {"avif", "webp", "jpeg"}
    assert (hero["mime_type"], hero["width"], hero["height"]) == ("image/jpeg", 320, 240)
    path = hero["url"].split("?")[0]
    for fmt, encoding in hero["formats"].items():
        r = get(client, encoding["url"])
        assert encoding["url"] == f"{path}?format={fmt}&v={digest(r.content)}"
        assert r.headers["content-type"] == encoding["mime_type"] == f"image/{fmt}"
        assert len(r.content) == encoding["size"]
        assert (encoding["width"], encoding["height"]) == (320, 240)
    assert hero["formats"]["jpeg"]["size"] == hero["size"]


def test_auto_falls_back_to_png_for_transparent_images(client: httpx.Client) -> None:
    converter(client, "auto-alpha", {"name": "icon", "width": 64, "height": 64,
                                     "format": "auto"})
    body = upload(client, with_alpha(128, 128), filename="a.png", converter="auto-alpha").json()
    icon = body["versions"]["icon"]
    assert icon["mime_type"] == "image/png" and set(icon["formats"]) == {"avif", "webp", "png"}
    r = get(client, icon["url"], "*/*")
    assert r.headers["content-type"] == "image/png" and load(r.content).getpoint(0, 0)[3] == 0
    webp = load(get(client, icon["url"], "image/webp").content)
    assert webp.bands == 4 and webp.getpoint(0, 0)[3] == 0 and webp.getpoint(32, 32)[3] == 255


# -- srcset widths ------------------------------------------------------------------------------


def test_srcset_lists_the_widths_the_source_allows(client: httpx.Client,
                                                  auto_asset: dict) -> None:
    hero = auto_asset["versions"]["hero"]
    url = hero["url"].split("?")[0]
    # 2000 would upscale the 640x480 source: dropped; 320 is the version itself
    assert [(u.split("&v=")[0], d) for u, d in srcset_entries(hero["srcset"])] == [
        (f"{url}?w=160", "160w"), (f"{url}?w=320", "320w")]
    for width in (160, 320):
        r = get(client, url, CHROME, w=width)
        assert r.headers["content-type"] == "image/avif" and r.headers["vary"] == "Accept"
        out = load(r.content)
        assert (out.width, out.height) == (width, width * 3 // 4)
        assert f"photo-hero-{width}w.avif" in r.headers["content-disposition"]
    jpeg = get(client, url, "*/*", w=160)
    assert jpeg.headers["content-type"] == "image/jpeg" and load(jpeg.content).width == 160
    webp = get(client, url, CHROME, w=160, format="webp")
    assert webp.headers["content-type"] == "image/webp" and load(webp.content).width == 160


def test_negotiated_urls_are_immutable_for_every_variant(anonymous: httpx.Client,
                                                         auto_asset: dict) -> None:
    # A negotiated URL may answer AVIF, WebP or JPEG: its v names all three, so every
    # client gets a year's caching (kept apart by Vary: Accept), and a re-render of any
    # of them gives the URL a new v.
    hero = anonymous.get(auto_asset["url"]).json()["versions"]["hero"]
    urls = [hero["url"], *(u for u, _ in srcset_entries(hero["srcset"]))]
    for url in urls:
        for accept in (CHROME, "image/webp", "*/*"):
            r = anonymous.get(url, headers={"accept": accept})
            assert r.status_code == 200, r.text
            assert (r.headers["cache-control"], r.headers["vary"]) == (IMMUTABLE, "Accept")
    own = {fmt: encoding["url"].rsplit("v=", 1)[1] for fmt, encoding in hero["formats"].items()}
    negotiated = hero["url"].rsplit("v=", 1)[1]
    assert negotiated not in own.values()  # not any one encoding's digest
    for fmt, encoding in hero["formats"].items():
        r = anonymous.get(encoding["url"], headers={"accept": CHROME})
        assert r.headers["content-type"] == f"image/{fmt}"
        assert r.headers["cache-control"] == IMMUTABLE and "vary" not in r.headers
    # one encoding's digest does not pin what the negotiated URL may answer
    path = hero["url"].split("?")[0]
    r = anonymous.get(f"{path}?v={own['avif']}", headers={"accept": CHROME})
    assert r.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.parametrize(("params", "status"), [
    ({"w": 2000}, 404), ({"w": 161}, 404), ({"w": "wide"}, 400), ({"w": 0}, 400),
])
def test_a_width_not_stored_is_404(client: httpx.Client, auto_asset: dict, params: dict,
                                   status: int) -> None:
    r = client.get(auto_asset["versions"]["hero"]["url"], params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_a_plain_version_with_widths(client: httpx.Client) -> None:
    converter(client, "plain-widths", {"name": "card", "width": 300, "height": 200,
                                       "format": "webp", "widths": [150, 600]})
    body = upload(client, solid(900, 600), converter="plain-widths").json()
    card = body["versions"]["card"]
    assert card["formats"] is None
    path = card["url"].split("?")[0]
    [(small, small_w), (large, large_w)] = srcset_entries(card["srcset"])
    r = get(client, large, CHROME)
    assert (small_w, large_w) == ("150w", "600w")
    # one format: each width's v is the digest of its own bytes
    assert large == f"{path}?w=600&v={digest(r.content)}"
    assert small == f"{path}?w=150&v={digest(get(client, small).content)}"
    assert r.headers["content-type"] == "image/webp" and "vary" not in r.headers
    assert (load(r.content).width, load(r.content).height) == (600, 400)


def test_versions_without_the_new_fields_say_null(client: httpx.Client) -> None:
    thumb = upload(client, solid(200, 200)).json()["versions"]["thumbnail"]
    assert (thumb["formats"], thumb["srcset"]) == (None, None)


# -- animation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [(".gif", "image/gif"), (".webp", "image/webp")])
def test_animations_stay_animated(client: httpx.Client, fmt: str, mime: str) -> None:
    converter(client, "anim", {"name": "small", "width": 60, "height": 60},
              {"name": "still", "width": 60, "height": 60, "format": "png"},
              {"name": "auto", "width": 60, "height": 60, "format": "auto"})
    data = animated([RED, GREEN, BLUE], 120, 90, delays=[100, 250, 400], loop=2, fmt=fmt)
    body = upload(client, data, filename=f"a{fmt}", converter="anim").json()
    assert (body["mime_type"], body["width"], body["height"]) == (mime, 120, 90)
    r = get(client, body["versions"]["small"]["url"])
    assert r.headers["content-type"] == mime and MAGIC[mime](r.content)
    image, count, delays, loop = frames(r.content)
    assert (count, delays, loop) == (3, [100, 250, 400], 2)
    assert (image.width, image.height) == (60, 180)  # every frame cropped to 60x60
    for i, colour in enumerate((RED, GREEN, BLUE)):
        assert near(image.getpoint(30, i * 60 + 30), colour, 40), i
    still = load(get(client, body["versions"]["still"]["url"]).content)
    assert (still.width, still.height) == (60, 60) and near(still.getpoint(30, 30), RED, 30)
    auto = body["versions"]["auto"]
    assert set(auto["formats"]) == {"webp", "gif"}  # AVIF would keep one frame
    for accept in (CHROME, "*/*"):
        assert frames(get(client, auto["url"], accept).content)[1] == 3


# -- chained versions ---------------------------------------------------------------------------


def test_a_version_made_from_another_versions_pixels(client: httpx.Client) -> None:
    converter(client, "chain",
              {"name": "thumb", "width": 50, "height": 50, "source": "grey"},
              {"name": "grey", "width": 200, "height": 200, "format": "png",
               "operations": [{"op": "grayscale"}]})
    body = upload(client, solid(400, 400, (200, 40, 40)), converter="chain").json()
    thumb = load(get(client, body["versions"]["thumb"]["url"]).content)
    assert (thumb.width, thumb.height) == (50, 50)
    r, g, b = thumb.getpoint(25, 25)
    assert abs(r - g) < 4 and abs(g - b) < 4  # grey: the source version's pixels
    # a cold render of the chained version alone still starts from its source
    client.post(f"{body['url']}/convert", json={"settings": {"versions": {
        "thumb": {"width": 20, "height": 20}}}})
    again = load(get(client, body["versions"]["thumb"]["url"]).content)
    assert again.width == 20 and abs(again.getpoint(10, 10)[0] - again.getpoint(10, 10)[2]) < 4


@pytest.mark.parametrize(("versions", "field", "detail"), [
    ([{"name": "a", "width": 9, "height": 9, "source": "nope"}], "versions[0].source",
     "no version of that name"),
    ([{"name": "a", "width": 9, "height": 9, "source": "b"},
      {"name": "b", "width": 9, "height": 9, "source": "a"}], "versions[0].source",
     "cycle: a -> b -> a"),
    ([{"name": "a", "width": 9, "height": 9, "source": "a"}], "versions[0].source",
     "cycle: a -> a"),
])
def test_unknown_or_cyclic_sources_are_refused(client: httpx.Client, versions: list,
                                               field: str, detail: str) -> None:
    r = client.put("/api/converters/chain-bad", json={"versions": versions})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field and detail in r.json()["detail"]
    assert client.get("/api/converters/chain-bad").status_code == 404


# -- overlays -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def logo(base_url: str, tokens: dict[str, str]) -> str:
    """An image asset: a blue 100x50 PNG, its left half fully transparent."""
    image = solid(100, 50, BLUE, fmt=".png")
    import pyvips
    rgb = pyvips.Image.new_from_buffer(image, "")
    alpha = (pyvips.Image.black(100, 50) + 255).cast("uchar").insert(
        pyvips.Image.black(50, 50).cast("uchar"), 0, 0)
    data = bytes(rgb.bandjoin(alpha).pngsave_buffer())
    with httpx.Client(base_url=base_url, timeout=60,
                      headers={"Authorization": f"Bearer {tokens['admin']}"}) as c:
        return str(upload(c, data, filename="logo.png").json()["id"])


@pytest.mark.parametrize(("opacity", "expected"), [(1.0, BLUE), (0.5, (120, 20, 120))])
def test_overlay_is_drawn_from_the_overlay_assets_pixels(
    client: httpx.Client, logo: str, opacity: float, expected: tuple[int, ...]
) -> None:
    name = f"mark-{int(opacity * 100)}"
    converter(client, name, {"name": "marked", "width": 400, "height": 300, "format": "png",
                             "operations": [{"op": "overlay", "asset": logo,
                                             "gravity": "south-east", "opacity": opacity,
                                             "scale": 0.25, "margin": 16}]})
    body = upload(client, solid(800, 600, RED, fmt=".png"), filename="r.png",
                  converter=name).json()
    out = load(get(client, body["versions"]["marked"]["url"]).content)
    # 0.25 x 400 = 100x50, 16 px in from the bottom right: at (284, 234)
    assert near(out.getpoint(360, 259), expected, 6)  # the logo's opaque half
    assert near(out.getpoint(300, 259), RED, 6)  # its transparent half
    assert near(out.getpoint(392, 292), RED, 6)  # the margin
    assert near(out.getpoint(100, 100), RED, 6)


@pytest.mark.parametrize("target", ["missing", "file"])
def test_overlay_must_name_an_existing_image(client: httpx.Client, target: str) -> None:
    if target == "missing":
        asset_id = "0b2cb56e-8c2e-4b7a-9d3e-0d8f5f8f1a11"
    else:
        asset_id = upload(client, b"hello", filename="a.txt").json()["id"]
    r = client.put("/api/converters/mark-bad", json={"versions": [
        {"name": "v", "width": 10, "height": 10,
         "operations": [{"op": "grayscale"}, {"op": "overlay", "asset": asset_id}]}]})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "versions[0].operations[1].asset"
    assert ("no asset has id" if target == "missing" else "is a file, not an image") in \
        r.json()["detail"]
    assert client.get("/api/converters/mark-bad").status_code == 404


def test_convert_settings_cannot_slip_in_a_missing_overlay(client: httpx.Client) -> None:
    body = upload(client, solid(100, 100)).json()
    r = client.post(f"{body['url']}/convert", json={"settings": {"versions": {"thumbnail": {
        "operations": [{"op": "overlay", "asset": "0b2cb56e-8c2e-4b7a-9d3e-0d8f5f8f1a11"}]}}}})
    assert r.status_code == 422 and "no asset has id" in r.json()["detail"]


def test_an_overlay_deleted_later_fails_only_the_versions_it_marks(
    client: httpx.Client, logo: str
) -> None:
    spare = upload(client, solid(40, 20, GREEN, fmt=".png"), filename="spare.png").json()
    converter(client, "mark-gone",
              {"name": "marked", "width": 100, "height": 100,
               "operations": [{"op": "overlay", "asset": spare["id"]}]},
              {"name": "plain", "width": 100, "height": 100})
    assert client.delete(spare["url"]).status_code == 200
    body = upload(client, solid(300, 300), converter="mark-gone").json()
    assert body["versions"]["plain"]["status"] == "ready"
    assert body["versions"]["marked"]["status"] == "failed"
    assert "no longer exists" in body["versions"]["marked"]["error"]
    assert client.get(body["versions"]["marked"]["url"]).status_code == 422


# -- blobs ---------------------------------------------------------------------------------------


def test_every_rendition_blob_goes_with_its_version(client: httpx.Client, data_dir: Path
                                                    ) -> None:
    converter(client, "many", {"name": "hero", "width": 200, "height": 150, "format": "auto",
                               "widths": [100, 200]})
    before = blob_files(data_dir)
    body = upload(client, noise(400, 300), converter="many").json()
    made = blob_files(data_dir) - before
    # the original; AVIF, WebP and JPEG at 200 (shared by w=200) and at 100
    assert len(made) == 1 + 3 + 3
    converted = client.post(f"{body['url']}/convert", json={"converter": "many", "settings": {
        "versions": {"hero": {"widths": [100]}}}}, params={"wait": "true"}).json()
    assert converted["versions"]["hero"]["status"] == "ready"
    assert len(blob_files(data_dir) - before) == 1 + 3 + 3  # the old renditions are gone
    assert client.delete(f"{body['url']}/versions/hero").status_code == 200
    assert len(blob_files(data_dir) - before) == 1
    client.delete(body["url"])
    assert blob_files(data_dir) - before == set()


def test_a_cold_get_renders_every_rendition_then_negotiates(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        converter(c, "auto", {"name": "hero", "width": 80, "height": 60, "format": "auto",
                              "widths": [40]})
        body = upload(c, solid(160, 120)).json()
        assert c.post(f"{body['url']}/convert", json={"converter": "auto"}).json()[
            "versions"]["hero"]["status"] == "pending"
        r = get(c, f"{body['url']}/versions/hero", "image/webp", w=40)
        assert r.headers["content-type"] == "image/webp" and load(r.content).width == 40
        hero = c.get(body["url"]).json()["versions"]["hero"]
        assert set(hero["formats"]) == {"avif", "webp", "jpeg"} and "40w" in hero["srcset"]


def test_signed_urls_of_a_private_pool_carry_the_parameters(client: httpx.Client,
                                                            anonymous: httpx.Client) -> None:
    client.put("/api/pools/hidden-web", json={"public": False, "converter": "auto"})
    body = upload(client, noise(640, 480), pool="hidden-web").json()
    hero = body["versions"]["hero"]
    assert "?exp=" in hero["url"] and "&format=webp" in hero["formats"]["webp"]["url"]
    webp = anonymous.get(hero["formats"]["webp"]["url"])
    assert webp.status_code == 200 and webp.headers["content-type"] == "image/webp"
    assert "cache-control" in webp.headers and "private" in webp.headers["cache-control"]
    first = hero["srcset"].split(", ")[0].split(" ")[0]
    assert "&w=160" in first and anonymous.get(first).status_code == 200
