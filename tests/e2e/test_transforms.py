"""Signed on-the-fly transforms: GET /api/assets/{id}/render, for pools that enable them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from assetry.bootstrap import url_signer
from assetry.config import Settings
from assetry.domain.transforms import canonical_query, signature_base
from assetry.services.transforms import TransformService
from tests.e2e.test_upload import upload
from tests.support.images import banded, load
from tests.support.metrics import samples


@pytest.fixture(scope="module")
def sign(data_dir: Path, base_url: str) -> Any:
    """Signs as the server does: with the key it generated into its data directory."""
    signer = url_signer(Settings(data_dir=data_dir))

    def make(asset_id: str, **params: str | int | None) -> str:
        return TransformService.sign(signer, UUID(asset_id), params)

    return make


@pytest.fixture(scope="module")
def image(base_url: str, tokens: dict[str, str]) -> dict[str, Any]:
    """An 800x400 image in pool "tx" (transforms on): red, with a blue box at the centre."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {tokens['admin']}"}
                      ) as admin:
        assert admin.put("/api/pools/tx", json={"transforms": "signed"}).status_code == 201
        body: dict[str, Any] = upload(admin, banded(800, 400, (300, 100, 200, 200)), "b.png",
                                      pool="tx").json()
        return body


def counter(client: httpx.Client, name: str) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f"assetry_{name}_total "):
            return int(float(line.split()[1]))
    return 0


def test_transform_renders_are_timed_under_one_label_not_one_per_url(
    anonymous: httpx.Client, client: httpx.Client, image: dict[str, Any], sign: Any,
) -> None:
    def timed() -> dict[str, float]:
        text = client.get("/metrics").text
        return {dict(labels)["version"]: v for (name, labels), v in samples(text).items()
                if name == "assetry_render_duration_seconds_count"}

    before = timed()
    for width in (61, 62):  # two URLs, two stored results, two names
        assert anonymous.get(sign(image["id"], w=width, format="png")).status_code == 200
    after = timed()
    assert after["transform"] == before.get("transform", 0) + 2
    assert set(after) - set(before) <= {"transform"}  # no label per transform name


def test_pools_say_whether_they_serve_transforms(client: httpx.Client) -> None:
    assert client.get("/api/pools/default").json()["transforms"] == "off"
    r = client.put("/api/pools/tx2", json={"transforms": "maybe"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "transforms"
    assert client.put("/api/pools/tx2", json={"transforms": "signed"}).json()["transforms"] == (
        "signed")


def test_a_signed_transform_renders_once_then_serves_stored_bytes(
    anonymous: httpx.Client, client: httpx.Client, image: dict[str, Any], sign: Any,
) -> None:
    url = sign(image["id"], w=200, h=100, fit="cover", format="webp", q=70)
    rendered, renders = counter(client, "transforms_rendered"), counter(client, "renders")
    first = anonymous.get(url)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/webp"
    assert first.content[:4] == b"RIFF" and first.content[8:12] == b"WEBP"
    out = load(first.content)
    assert (out.width, out.height) == (200, 100)
    assert out.getpoint(100, 50)[2] > 200 and out.getpoint(100, 50)[0] < 60  # blue centre
    assert out.getpoint(5, 50)[0] > 200  # red edge
    assert counter(client, "transforms_rendered") == rendered + 1
    assert counter(client, "renders") == renders + 1
    stored = counter(client, "transforms_stored_served")
    second = anonymous.get(url)
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert counter(client, "transforms_stored_served") == stored + 1
    assert counter(client, "renders") == renders + 1  # read, not rendered again
    assert second.headers["cache-control"] == "public, max-age=3600"
    # the stored result is not one of the asset's versions
    assert set(client.get(image["url"]).json()["versions"]) == {"detail", "thumbnail"}


def test_defaults_and_the_original_format(anonymous: httpx.Client, image: dict[str, Any],
                                          sign: Any) -> None:
    r = anonymous.get(sign(image["id"], w=100))  # fit inside, format same (PNG), never up
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (load(r.content).width, load(r.content).height) == (100, 50)
    big = anonymous.get(sign(image["id"], w=4000, format="jpeg"))
    assert big.content[:3] == b"\xff\xd8\xff" and load(big.content).width == 800


def test_format_auto_is_negotiated_by_accept(anonymous: httpx.Client, client: httpx.Client,
                                            image: dict[str, Any], sign: Any) -> None:
    url = sign(image["id"], w=160, h=80, format="auto")
    renders = counter(client, "renders")
    answers = {}
    for accept, mime in (("image/avif,image/webp,*/*", "image/avif"),
                         ("image/webp,*/*", "image/webp"), ("*/*", "image/jpeg")):
        r = anonymous.get(url, headers={"accept": accept})
        assert r.status_code == 200, r.text
        assert (r.headers["content-type"], r.headers["vary"]) == (mime, "Accept")
        assert (load(r.content).width, load(r.content).height) == (160, 80)
        answers[mime] = r.headers["etag"]
    assert len(set(answers.values())) == 3
    assert counter(client, "renders") == renders + 1  # one render stored all three


def test_the_query_order_does_not_matter(anonymous: httpx.Client, image: dict[str, Any],
                                         sign: Any) -> None:
    url = sign(image["id"], w=64, h=64, format="png")
    path, query = url.split("?")
    reordered = "&".join(reversed(query.split("&")))
    assert anonymous.get(f"{path}?{reordered}").status_code == 200


def test_signature_cases(anonymous: httpx.Client, image: dict[str, Any],
                         client: httpx.Client, sign: Any) -> None:
    url = sign(image["id"], w=120, h=60)
    path, query = url.split("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    other = upload(client, banded(100, 100, (0, 0, 50, 50)), pool="tx").json()
    flipped = ("A" if params["sig"][0] != "A" else "B") + params["sig"][1:]
    cases = {
        "no sig": f"{path}?h=60&w=120",
        "empty sig": f"{path}?h=60&w=120&sig=",
        "a changed sig": f"{path}?h=60&w=120&sig={flipped}",
        "a changed parameter": f"{path}?h=60&w=121&sig={params['sig']}",
        "an added parameter": f"{path}?h=60&w=120&q=90&sig={params['sig']}",
        "another asset's sig": f"/api/assets/{other['id']}/render?h=60&w=120&sig={params['sig']}",
        "two sigs": f"{url}&sig={params['sig']}",
        "expired": sign(image["id"], w=120, h=60, exp=int(time.time()) - 1),
    }
    for case, bad in cases.items():
        r = anonymous.get(bad)
        assert r.status_code == 403, case
        assert r.headers["content-type"] == "application/problem+json"
    assert anonymous.get(sign(image["id"], w=120, h=60, exp=int(time.time()) + 600)
                         ).status_code == 200
    with httpx.Client(base_url=str(anonymous.base_url),
                      headers={"Authorization": "Bearer ast_bogus"}) as bogus:
        assert bogus.get(url).status_code == 401  # a bad token is never anonymous


def test_limits_are_422(anonymous: httpx.Client, image: dict[str, Any], data_dir: Path
                        ) -> None:
    # The service refuses to sign specs it would not render: these are signed by hand.
    signer = url_signer(Settings(data_dir=data_dir))

    def signed(params: dict[str, str]) -> str:
        sig = signer.mac(signature_base(UUID(image["id"]), params.items()))
        return f"/api/assets/{image['id']}/render?{canonical_query(params.items())}&sig={sig}"

    cases = {"w": {"w": "4097"}, "h": {"h": "0", "w": "10"}, "fit": {"w": "9", "h": "9",
             "fit": "stretch"}, "format": {"w": "9", "format": "bmp"}, "q": {"w": "9",
             "q": "101"}, "gravity": {"w": "9", "h": "9", "gravity": "north"},
             "size": {"w": "9", "size": "big"}}
    for field, params in cases.items():
        r = anonymous.get(signed(params))
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["field"] == field
    r = anonymous.get(signed({"w": "9", "fit": "cover"}))
    assert r.status_code == 422 and "needs both" in r.json()["detail"]


def test_off_pools_files_and_hidden_assets(
    anonymous: httpx.Client, client: httpx.Client, image: dict[str, Any], sign: Any,
) -> None:
    plain = upload(client, banded(100, 100, (0, 0, 50, 50))).json()  # pool default: off
    r = anonymous.get(sign(plain["id"], w=50))
    assert r.status_code == 404 and "does not serve transforms" in r.json()["detail"]
    assert anonymous.get(sign("00000000-0000-4000-8000-000000000000", w=50)).status_code == 404
    text = upload(client, b"words", "a.txt", pool="tx").json()
    assert anonymous.get(sign(text["id"], w=50)).status_code == 409
    hidden = upload(client, banded(90, 90, (0, 0, 10, 10)), pool="tx").json()
    client.patch(hidden["url"], json={"hidden": True})
    assert anonymous.get(sign(hidden["id"], w=50)).status_code == 410
    assert client.get(sign(hidden["id"], w=50)).status_code == 200  # an admin sees it


def test_concurrent_requests_share_one_render(client: httpx.Client, image: dict[str, Any],
                                              sign: Any) -> None:
    url = sign(image["id"], w=333, h=222, format="jpeg")
    renders = counter(client, "renders")
    base = str(client.base_url)

    def fetch(_: int) -> bytes:
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.get(url)
            assert r.status_code == 200
            return r.content

    with ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(fetch, range(6)))
    assert len(set(bodies)) == 1 and load(bodies[0]).width == 333
    assert counter(client, "renders") == renders + 1


def test_replace_drops_stored_results(client: httpx.Client, sign: Any) -> None:
    body = upload(client, banded(200, 100, (0, 0, 100, 100)), pool="tx").json()
    url = sign(body["id"], w=20, h=10, format="png")
    before = load(client.get(url).content)
    assert before.getpoint(2, 5)[2] > 200  # blue left half
    client.put(body["url"], files={"file": ("r.png", banded(200, 100, (100, 0, 100, 100)))})
    after = load(client.get(url).content)
    assert after.getpoint(2, 5)[0] > 200  # red now: rendered from the new bytes


def transform_count(gc_output: str) -> int:
    """How many stored transform results `assetry gc` reported trimming (or would)."""
    [line] = [x for x in gc_output.splitlines() if " stored transform result(s) " in x]
    return int(line.split()[0])


def test_sign_url_command_and_gc_trims_least_recently_used(
    client: httpx.Client, data_dir: Path, image: dict[str, Any],
) -> None:
    def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        environ = {**os.environ, **{f"ASSETRY_{k.upper()}": v for k, v in env.items()}}
        return subprocess.run([sys.executable, "-m", "assetry", *args, "--data-dir",
                               str(data_dir)], capture_output=True, text=True, env=environ,
                              timeout=120)

    made = cli("sign-url", image["id"], "--w", "77", "--format", "png",
               "--base-url", str(client.base_url))
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    assert url.startswith(f"{client.base_url}/api/assets/{image['id']}/render?")
    first = httpx.get(url)
    assert first.status_code == 200 and load(first.content).width == 77
    assert cli("sign-url", image["id"], "--w", "5000").returncode == 1
    # Every pool keeps its most recently used result; the others go, with their blobs.
    dry = cli("gc", "--dry-run", transforms_per_pool="1")
    assert dry.returncode == 0 and " stored transform result(s) over " in dry.stdout
    trimmed = cli("gc", transforms_per_pool="1")
    assert trimmed.returncode == 0, trimmed.stderr
    count = transform_count(trimmed.stdout)
    assert count >= 5  # the earlier tests stored several in pool "tx"
    assert transform_count(dry.stdout) == count
    time.sleep(2.2)  # the server's delivery cache (ASSETRY_DELIVERY_CACHE_TTL) forgets
    rendered = counter(client, "transforms_rendered")
    assert httpx.get(url).content == first.content  # the newest: kept, not rendered
    assert counter(client, "transforms_rendered") == rendered
    assert transform_count(cli("gc", transforms_per_pool="1").stdout) == 0
