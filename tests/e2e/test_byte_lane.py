"""The byte lane (web/byte_lane.py) over real HTTP.

Two servers share one set of services: the app as built, with the lane, and the same app
built without it (`create_app(byte_lane=False)`: every request routed, as before the
lane). Each request of the matrix goes to both; the answers must be the same to the
byte: status, every header but Date, in order, and body. Whether the lane took the
request, rather than letting it through to the router, is what
`assetry_byte_lane_requests_total` says: the plain byte requests are taken, anything
else (a malformed, repeated or unknown parameter, another spelling of the id, another
method or path) is not.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assetry.services.signing import UrlSigner
from tests.e2e.conftest import blob_files
from tests.e2e.test_rendering_flow import make_pending
from tests.e2e.test_upload import upload
from tests.e2e.test_web_formats import CHROME, converter
from tests.support.images import noise, solid
from tests.support.metrics import scrape
from tests.support.server import live_twins
from tests.support.tokens import bearer

TAKEN = "assetry_byte_lane_requests_total"
UNKNOWN = "0b2cb56e-8c2e-4b7a-9d3e-0d8f5f8f1a11"
FILE = bytes(range(256)) * 40


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class Twins:
    """Clients of the two servers (no default credentials), the tokens, and the world's
    named values (ids, URLs, ETags) that the cases' templates name."""

    lane: httpx.Client
    router: httpx.Client
    tokens: dict[str, str]
    world: dict[str, str]
    data_dir: Path

    def ask(self, client: httpx.Client, method: str, url: str, who: str = "anonymous",
            headers: dict[str, str | None] | None = None) -> Answer:
        request = client.build_request(method, url.format(**self.world))
        request.headers["host"] = "assets.example"  # one name for both (redirects say it)
        if who != "anonymous":
            request.headers.update(bearer(self.tokens[who]))
        for name, value in (headers or {}).items():
            if value is None:
                del request.headers[name]  # e.g. no Accept at all (httpx sends */*)
            else:
                request.headers[name] = value.format(**self.world)
        r = client.send(request)
        return Answer(r.status_code, [(k, v) for k, v in r.headers.raw if k.lower() != b"date"],
                      r.content)

    def taken(self) -> float:
        return scrape(self.lane, TAKEN)


@pytest.fixture(scope="module")
def twins(data_dir: Path, tokens: dict[str, str]) -> Iterator[Twins]:
    # No background renders: a version made pending stays so until a GET renders it.
    with live_twins(data_dir, {}, {"byte_lane": False}, render_workers=0) as (lane, router), \
            httpx.Client(base_url=lane, timeout=60) as lane_client, \
            httpx.Client(base_url=router, timeout=60) as router_client:
        admin = httpx.Client(base_url=lane, timeout=60, headers=bearer(tokens["admin"]))
        with admin:
            yield Twins(lane_client, router_client, tokens, _world(admin, data_dir), data_dir)


def _world(admin: httpx.Client, data_dir: Path) -> dict[str, str]:
    for pool, public in (("pub", True), ("priv", False)):
        r = admin.put(f"/api/pools/{pool}", json={"public": public})
        assert r.status_code == 201, r.text

    def made(data: bytes, pool: str = "pub", **fields: str) -> dict[str, Any]:
        r = upload(admin, data, pool=pool, **fields)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    img = made(solid(300, 200))
    priv = made(solid(300, 200, (200, 40, 40)), pool="priv")
    hidden = made(solid(120, 80))
    assert admin.patch(hidden["url"], json={"hidden": True}).status_code == 200
    gone = made(solid(90, 60))
    assert admin.delete(gone["url"]).status_code == 200
    file = made(FILE, filename="r.bin")
    converter(admin, "lane-auto", {"name": "hero", "width": 320, "height": 240,
                                   "format": "auto", "widths": [160, 320]})
    auto = made(noise(640, 480), converter="lane-auto")
    # A version whose overlay was deleted before the upload: stored as failed (422).
    spare = made(solid(40, 20, fmt=".png"), filename="spare.png")
    converter(admin, "lane-mark", {"name": "marked", "width": 100, "height": 100,
                                   "operations": [{"op": "overlay", "asset": spare["id"]}]})
    assert admin.delete(spare["url"]).status_code == 200
    failed = made(solid(300, 300), converter="lane-mark")
    assert failed["versions"]["marked"]["status"] == "failed"

    secret = (data_dir / "url-signing.key").read_bytes().strip()
    hour_ago = UrlSigner(secret, 60, clock=lambda: time.time() - 3600)
    priv_content = f"/api/assets/{priv['id']}/content"
    hero = auto["versions"]["hero"]
    world = {
        "img": img["id"], "priv": priv["id"], "hidden": hidden["id"], "gone": gone["id"],
        "file": file["id"], "auto": auto["id"], "failed": failed["id"], "unknown": UNKNOWN,
        "img_upper": img["id"].upper(), "img_hex": img["id"].replace("-", ""),
        "img_content_url": img["content_url"],
        "img_thumb_url": img["versions"]["thumbnail"]["url"],
        "priv_content_url": priv["content_url"],
        "priv_thumb_url": priv["versions"]["thumbnail"]["url"],
        "priv_expired": hour_ago.sign(priv_content),
        "hero_webp_url": hero["formats"]["webp"]["url"],
        "img_etag": f'"{img["sha256"]}"',
        "file_etag": f'"{hashlib.sha256(FILE).hexdigest()}"',
    }
    for name, url, accept in (("thumb_etag", world["img_thumb_url"], "*/*"),
                              ("hero_avif_etag", hero["url"], "image/avif")):
        r = admin.get(url, headers={"accept": accept})
        assert r.status_code == 200, r.text
        world[name] = r.headers["etag"]
    assert "sig=" in world["priv_content_url"] and "sig=" in world["priv_thumb_url"]
    return world


C = "/api/assets/{img}/content"
V = "/api/assets/{img}/versions/thumbnail"
HERO = "/api/assets/{auto}/versions/hero"

#: (id, method, URL template, who, headers, taken by the lane)
CASES: list[tuple[str, str, str, str, dict[str, str | None], bool]] = [
    # the plain byte requests: the lane answers
    ("content", "GET", C, "anonymous", {}, True),
    ("content HEAD", "HEAD", C, "anonymous", {}, True),
    ("content viewer", "GET", C, "viewer", {}, True),
    ("content admin", "GET", C, "admin", {}, True),
    ("content v pinned (immutable)", "GET", "{img_content_url}", "anonymous", {}, True),
    ("content v of other bytes", "GET", C + "?v=0123456789abcdef", "anonymous", {}, True),
    ("content v empty", "GET", C + "?v=", "anonymous", {}, True),
    ("version", "GET", V, "anonymous", {}, True),
    ("version HEAD", "HEAD", V, "viewer", {}, True),
    ("version v pinned (immutable)", "GET", "{img_thumb_url}", "anonymous", {}, True),
    ("version detail", "GET", "/api/assets/{img}/versions/detail", "admin", {}, True),
    ("version name percent-encoded", "GET", "/api/assets/{img}/versions/thumb%6Eail",
     "anonymous", {}, True),
    ("private anonymous 401", "GET", "/api/assets/{priv}/content", "anonymous", {}, True),
    ("private viewer", "GET", "/api/assets/{priv}/content", "viewer", {}, True),
    ("private version admin", "GET", "/api/assets/{priv}/versions/thumbnail", "admin", {}, True),
    ("private signed content", "GET", "{priv_content_url}", "anonymous", {}, True),
    ("private signed version", "GET", "{priv_thumb_url}", "anonymous", {}, True),
    ("private signed, viewer", "GET", "{priv_thumb_url}", "viewer", {}, True),
    ("private signed expired 403", "GET", "{priv_expired}", "anonymous", {}, True),
    ("private bad signature 403", "GET", "/api/assets/{priv}/content?exp=99999999999&sig=AAAA",
     "anonymous", {}, True),
    ("private exp only 403", "GET", "/api/assets/{priv}/content?exp=99999999999", "anonymous",
     {}, True),
    ("private sig only 403", "GET", "/api/assets/{priv}/versions/thumbnail?sig=AAAA",
     "anonymous", {}, True),
    ("signature on a public asset, bad", "GET", C + "?exp=1&sig=x", "anonymous", {}, True),
    ("hidden anonymous 410", "GET", "/api/assets/{hidden}/content", "anonymous", {}, True),
    ("hidden viewer version 410", "GET", "/api/assets/{hidden}/versions/thumbnail", "viewer",
     {}, True),
    ("hidden admin", "GET", "/api/assets/{hidden}/content", "admin", {}, True),
    ("deleted content 404", "GET", "/api/assets/{gone}/content", "anonymous", {}, True),
    ("deleted version 404", "GET", "/api/assets/{gone}/versions/thumbnail", "admin", {}, True),
    ("unknown asset content 404", "GET", "/api/assets/{unknown}/content", "anonymous", {}, True),
    ("unknown asset version 404", "HEAD", "/api/assets/{unknown}/versions/thumbnail", "viewer",
     {}, True),
    ("unknown version 404", "GET", "/api/assets/{img}/versions/nope", "anonymous", {}, True),
    ("failed version 422", "GET", "/api/assets/{failed}/versions/marked", "anonymous", {}, True),
    ("file attachment", "GET", "/api/assets/{file}/content", "anonymous", {}, True),
    ("if-none-match 304", "GET", C, "anonymous", {"If-None-Match": "{img_etag}"}, True),
    ("if-none-match * 304", "HEAD", C, "anonymous", {"If-None-Match": "*"}, True),
    ("if-none-match other", "GET", C, "anonymous", {"If-None-Match": '"other"'}, True),
    ("if-none-match version 304", "GET", "{img_thumb_url}", "anonymous",
     {"If-None-Match": "{thumb_etag}"}, True),
    ("range 206", "GET", "/api/assets/{file}/content", "anonymous", {"Range": "bytes=10-19"},
     True),
    ("range suffix", "GET", "/api/assets/{file}/content", "anonymous", {"Range": "bytes=-5"},
     True),
    ("range open", "GET", "/api/assets/{file}/content", "anonymous",
     {"Range": "bytes=10000-"}, True),
    ("range unsatisfiable 416", "GET", "/api/assets/{file}/content", "anonymous",
     {"Range": "bytes=10240-"}, True),
    ("range several: whole", "GET", "/api/assets/{file}/content", "anonymous",
     {"Range": "bytes=0-1,5-6"}, True),
    ("range malformed: whole", "GET", "/api/assets/{file}/content", "anonymous",
     {"Range": "lines=1-2"}, True),
    ("if-range match 206", "GET", "/api/assets/{file}/content", "anonymous",
     {"Range": "bytes=0-1", "If-Range": "{file_etag}"}, True),
    ("if-range other: whole", "GET", "/api/assets/{file}/content", "anonymous",
     {"Range": "bytes=0-1", "If-Range": '"x"'}, True),
    ("range HEAD", "HEAD", "/api/assets/{file}/content", "anonymous", {"Range": "bytes=0-9"},
     True),
    ("range version", "GET", V, "anonymous", {"Range": "bytes=0-99"}, True),
    ("auto, Accept of Chrome", "GET", HERO, "anonymous", {"Accept": CHROME}, True),
    ("auto, Accept webp", "GET", HERO, "anonymous", {"Accept": "image/webp,*/*"}, True),
    ("auto, Accept */*", "GET", HERO, "anonymous", {"Accept": "*/*"}, True),
    ("auto, no Accept", "GET", HERO, "anonymous", {"Accept": None}, True),
    ("auto, Accept malformed", "GET", HERO, "anonymous", {"Accept": "nonsense;q=x"}, True),
    ("auto 304 varies", "GET", HERO, "anonymous",
     {"Accept": "image/avif", "If-None-Match": "{hero_avif_etag}"}, True),
    ("auto HEAD", "HEAD", HERO, "anonymous", {"Accept": "image/webp"}, True),
    ("w listed", "GET", HERO + "?w=160", "anonymous", {"Accept": CHROME}, True),
    ("w and format", "GET", HERO + "?w=160&format=webp", "anonymous", {}, True),
    ("w not listed 404", "GET", HERO + "?w=999", "anonymous", {}, True),
    ("w at the maximum 404", "GET", HERO + "?w=10000", "anonymous", {}, True),
    ("w of a version without widths 404", "GET", V + "?w=100", "anonymous", {}, True),
    ("format listed", "GET", HERO + "?format=webp", "anonymous", {"Accept": CHROME}, True),
    ("format pinned (immutable)", "GET", "{hero_webp_url}", "anonymous", {}, True),
    ("format not stored 404", "GET", HERO + "?format=png", "anonymous", {}, True),
    ("every parameter once", "GET", HERO + "?v=x&w=320&format=jpeg&exp=1&sig=y", "anonymous",
     {}, True),
    # anything else: the router answers, as it always did
    ("w zero 400", "GET", HERO + "?w=0", "anonymous", {}, False),
    ("w over the maximum 400", "GET", HERO + "?w=10001", "anonymous", {}, False),
    ("w not a number 400", "GET", HERO + "?w=abc", "anonymous", {}, False),
    ("w empty 400", "GET", HERO + "?w=", "anonymous", {}, False),
    ("w leading zero", "GET", HERO + "?w=0160", "anonymous", {}, False),
    ("w with a sign", "GET", HERO + "?w=%2B160", "anonymous", {}, False),
    ("w huge", "GET", HERO + "?w=" + "9" * 40, "anonymous", {}, False),
    ("format unknown 400", "GET", HERO + "?format=bmp", "anonymous", {}, False),
    ("format upper case 400", "GET", HERO + "?format=WEBP", "anonymous", {}, False),
    ("w repeated", "GET", HERO + "?w=160&w=320", "anonymous", {}, False),
    ("v repeated", "GET", C + "?v=a&v=b", "anonymous", {}, False),
    ("sig repeated", "GET", "{priv_content_url}&sig=AAAA", "anonymous", {}, False),
    ("unknown parameter", "GET", V + "?x=1", "anonymous", {}, False),
    ("bare parameter", "GET", C + "?download", "anonymous", {}, False),
    ("w on content (not its parameter)", "GET", C + "?w=160", "anonymous", {}, False),
    ("uuid upper case", "GET", "/api/assets/{img_upper}/content", "anonymous", {}, False),
    ("uuid without hyphens", "GET", "/api/assets/{img_hex}/versions/thumbnail", "anonymous",
     {}, False),
    ("not a uuid 400", "GET", "/api/assets/nope/content", "anonymous", {}, False),
    ("trailing slash", "GET", C + "/", "anonymous", {}, False),
    ("empty version name", "GET", "/api/assets/{img}/versions/", "anonymous", {}, False),
    ("name with a slash", "GET", "/api/assets/{img}/versions/thumbnail/x", "anonymous", {},
     False),
    ("the asset itself", "GET", "/api/assets/{img}", "anonymous", {}, False),
    ("POST anonymous 401", "POST", C, "anonymous", {}, False),
    ("POST admin 405", "POST", C, "admin", {}, False),
    ("DELETE version anonymous 401", "DELETE", V, "anonymous", {}, False),
    ("OPTIONS 405", "OPTIONS", V, "viewer", {}, False),
    ("bad token 401", "GET", C, "anonymous", {"Authorization": "Bearer bogus"}, False),
]


@pytest.mark.parametrize(("method", "url", "who", "headers", "taken"),
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_the_lane_answers_as_the_router_does(twins: Twins, method: str, url: str, who: str,
                                             headers: dict[str, str | None], taken: bool) -> None:
    before = twins.taken()
    ours = twins.ask(twins.lane, method, url, who, headers)
    assert twins.taken() == before + taken
    routed = twins.ask(twins.router, method, url, who, headers)
    assert ours == routed


def test_the_common_deliveries_answer_200(twins: Twins) -> None:
    # The parity above would hold for a lane that answered nothing right: the bytes too.
    ours = twins.ask(twins.lane, "GET", "{img_thumb_url}")
    headers = dict(ours.headers)
    assert ours.status == 200 and headers[b"content-type"] == b"image/jpeg"
    assert headers[b"cache-control"] == b"public, max-age=31536000, immutable"
    assert headers[b"etag"] == f'"{hashlib.sha256(ours.body).hexdigest()}"'.encode()
    whole = twins.ask(twins.lane, "GET", "/api/assets/{file}/content")
    assert whole.status == 200 and whole.body == FILE


def test_metrics_label_the_lane_answers_by_route_template(twins: Twins) -> None:
    labels = {"method": "GET", "route": "/api/assets/{asset_id}/versions/{name}",
              "status": "200"}
    before = scrape(twins.lane, "assetry_http_requests_total", **labels)
    taken = twins.taken()
    assert twins.ask(twins.lane, "GET", V).status == 200
    assert twins.taken() == taken + 1
    assert scrape(twins.lane, "assetry_http_requests_total", **labels) == before + 1


@pytest.mark.parametrize("first", ["lane", "router"])
def test_a_pending_version_rendered_on_demand_answers_alike(twins: Twins, first: str) -> None:
    admin = httpx.Client(base_url=twins.lane.base_url, timeout=60,
                         headers=bearer(twins.tokens["admin"]))
    with admin:
        r = upload(admin, solid(800, 600, (20, 200, 20)))
        assert r.status_code == 201, r.text
        body = make_pending(admin, r.json())
        url = f"/api/assets/{body['id']}/versions/thumbnail"
        renders = scrape(admin, "assetry_renders_on_demand_total")
        taken = twins.taken()
        one, other = ((twins.lane, twins.router) if first == "lane"
                      else (twins.router, twins.lane))
        rendered = twins.ask(one, "GET", url)  # the cold GET renders it
        assert rendered.status == 200
        assert scrape(admin, "assetry_renders_on_demand_total") == renders + 1
        assert twins.ask(other, "GET", url) == rendered
        assert twins.taken() == taken + 1  # the lane's GET, cold or not


def test_a_blob_lost_behind_our_back_answers_alike(twins: Twins) -> None:
    admin = httpx.Client(base_url=twins.lane.base_url, timeout=60,
                         headers=bearer(twins.tokens["admin"]))
    with admin:
        before = blob_files(twins.data_dir)
        r = upload(admin, b"lost bytes " * 100, filename="lost.bin")
        assert r.status_code == 201, r.text
        (blob,) = blob_files(twins.data_dir) - before
    url = f"/api/assets/{r.json()['id']}/content"
    assert twins.ask(twins.lane, "GET", url).status == 200  # read once: a hot blob
    blob.unlink()
    taken = twins.taken()
    ours = twins.ask(twins.lane, "GET", url)
    assert twins.taken() == taken + 1
    assert ours.status == 404 and ours == twins.ask(twins.router, "GET", url)
