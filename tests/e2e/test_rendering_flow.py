"""Versions without waiting: background jobs, on-demand renders, one render per asset,
durable jobs across a restart."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.e2e.test_upload import upload
from tests.support.images import load, solid
from tests.support.server import admin_client, server_process
from tests.support.tokens import bearer, make_tokens


def counter(client: httpx.Client, name: str) -> int:
    text = client.get("/metrics").text
    m = re.search(rf"^assetry_{name}_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else 0


def wait_ready(client: httpx.Client, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if all(v["status"] != "pending" for v in body["versions"].values()):
            return body
        time.sleep(0.1)
    raise AssertionError(f"versions of {url} still pending after {timeout} s")


def test_upload_answers_before_versions_are_rendered(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = upload(c, solid(2000, 1500)).json()
        assert {v["status"] for v in body["versions"].values()} == {"pending"}
        assert body["versions"]["detail"]["width"] is None


def test_background_worker_renders_every_version(client: httpx.Client) -> None:
    body = upload(client, solid(1600, 1200)).json()
    done = wait_ready(client, body["url"])
    assert {v["status"] for v in done["versions"].values()} == {"ready"}
    assert (done["versions"]["detail"]["width"], done["versions"]["detail"]["height"]) == (
        800, 800)


def test_one_decode_renders_all_versions_of_an_asset(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = upload(c, solid(1600, 1200)).json()
        assert c.get(body["versions"]["thumbnail"]["url"]).status_code == 200
        assert counter(c, "renders") == 1
        after = c.get(body["url"]).json()
        assert after["versions"]["detail"]["status"] == "ready"  # made by the same render
        assert c.get(body["versions"]["detail"]["url"]).status_code == 200
        assert counter(c, "renders") == 1


def test_concurrent_gets_of_a_pending_version_cause_one_render(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = upload(c, solid(3000, 2000)).json()
        target = body["versions"]["detail"]["url"]
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _: c.get(target), range(8)))
        assert [r.status_code for r in replies] == [200] * 8
        assert len({r.content for r in replies}) == 1
        assert counter(c, "renders") == 1


def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    # First life: no workers, so the render job is only in the database when we stop.
    auth = bearer(make_tokens(tmp_path, {"admin": "admin"})["admin"])
    with server_process(tmp_path, render_workers="0") as first, \
            httpx.Client(base_url=first.url, headers=auth) as c:
        body = upload(c, solid(1200, 900)).json()
        assert {v["status"] for v in body["versions"].values()} == {"pending"}
        first.proc.kill()  # no graceful shutdown
        first.proc.wait()
    with server_process(tmp_path, render_workers="1") as second, \
            httpx.Client(base_url=second.url, headers=auth) as c:
        done = wait_ready(c, body["url"])  # never GETs a version: the job does the work
        assert {v["status"] for v in done["versions"].values()} == {"ready"}
        thumb = load(c.get(body["versions"]["thumbnail"]["url"]).content)
        assert (thumb.width, thumb.height) == (100, 100)


def test_upload_with_wait_returns_ready_versions(client: httpx.Client) -> None:
    r = client.post("/api/pools/default/assets?wait=true",
                    files={"file": ("w.jpg", solid(500, 400))})
    assert r.status_code == 201
    assert {v["status"] for v in r.json()["versions"].values()} == {"ready"}
