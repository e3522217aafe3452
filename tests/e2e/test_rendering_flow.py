"""How versions get made: by the upload's own decode, by background jobs, by cold GETs
(one render however many wait, 503 beyond capacity), durable jobs across a restart."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.e2e.test_upload import upload
from tests.support.images import load, noise, solid
from tests.support.metrics import scrape, value
from tests.support.server import admin_client, server_process
from tests.support.tokens import bearer, make_tokens


def counter(client: httpx.Client, name: str) -> int:
    return int(scrape(client, f"assetry_{name}_total"))


def wait_ready(client: httpx.Client, url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if all(v["status"] != "pending" for v in body["versions"].values()):
            return body
        time.sleep(0.1)
    raise AssertionError(f"versions of {url} still pending after {timeout} s")


def make_pending(client: httpx.Client, asset: dict) -> dict:
    """Fresh pending versions of an uploaded image (a convert), as they are before any
    render: the state a GET or a job then finds."""
    r = client.post(f"{asset['url']}/convert", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {v["status"] for v in body["versions"].values()} == {"pending"}
    return body


def test_upload_answers_with_versions_made_from_its_one_decode(tmp_path: Path) -> None:
    # No background workers: whatever is ready when the upload answers, the upload made.
    with admin_client(tmp_path, render_workers=0) as c:
        body = upload(c, solid(2000, 1500)).json()
        versions = body["versions"]
        assert {v["status"] for v in versions.values()} == {"ready"}
        assert (versions["detail"]["width"], versions["detail"]["height"]) == (800, 800)
        assert (versions["thumbnail"]["width"], versions["thumbnail"]["height"]) == (100, 100)
        assert counter(c, "renders") == 1  # one decode proved the image and made both
        jobs = value(c.get("/metrics").text, "assetry_jobs", state="queued")
        assert jobs == 0  # no job left (and the gauge is there: None would be absent)
        for name in ("detail", "thumbnail"):
            assert c.get(versions[name]["url"]).status_code == 200
        assert counter(c, "renders") == 1


def test_background_worker_renders_every_pending_version(client: httpx.Client) -> None:
    body = make_pending(client, upload(client, solid(1600, 1200)).json())
    done = wait_ready(client, body["url"])
    assert {v["status"] for v in done["versions"].values()} == {"ready"}
    assert (done["versions"]["detail"]["width"], done["versions"]["detail"]["height"]) == (
        800, 800)


def test_one_decode_renders_all_pending_versions(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = upload(c, solid(1600, 1200)).json()
        before = counter(c, "renders")
        r = c.post(f"{body['url']}/convert?wait=true", json={})
        assert {v["status"] for v in r.json()["versions"].values()} == {"ready"}
        assert counter(c, "renders") == before + 1


def test_cold_get_renders_only_the_version_asked_for(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = make_pending(c, upload(c, solid(1600, 1200)).json())
        before = counter(c, "renders")
        thumb = c.get(body["versions"]["thumbnail"]["url"])
        assert thumb.status_code == 200 and load(thumb.content).width == 100
        after = c.get(body["url"]).json()["versions"]
        assert (after["thumbnail"]["status"], after["detail"]["status"]) == ("ready", "pending")
        assert counter(c, "renders") == before + 1
        detail = c.get(body["versions"]["detail"]["url"])
        assert detail.status_code == 200 and load(detail.content).width == 800
        assert counter(c, "renders") == before + 2


def test_concurrent_gets_of_a_pending_version_cause_one_render(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        body = make_pending(c, upload(c, solid(3000, 2000)).json())
        before = counter(c, "renders")
        target = body["versions"]["detail"]["url"]
        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(lambda _: c.get(target), range(8)))
        assert [r.status_code for r in replies] == [200] * 8
        assert len({r.content for r in replies}) == 1
        assert counter(c, "renders") == before + 1


def test_cold_gets_beyond_capacity_answer_503_and_uploads_still_pass(tmp_path: Path) -> None:
    # One render slot and room for one waiting cold GET: of six cold GETs of different
    # images at once, at most two are taken; the rest are refused at once, not queued.
    with admin_client(tmp_path, render_workers=0, render_threads=1, render_queue=1) as c:
        assets = [make_pending(c, upload(c, noise(3000, 2000, seed=i)).json())
                  for i in range(6)]
        with ThreadPoolExecutor(7) as pool:
            gets = [pool.submit(c.get, a["versions"]["detail"]["url"]) for a in assets]
            late_upload = pool.submit(upload, c, solid(1200, 900))
            replies = [g.result() for g in gets]
            uploaded = late_upload.result()
        statuses = sorted(r.status_code for r in replies)
        assert set(statuses) <= {200, 503} and statuses.count(200) >= 1
        refused = [r for r in replies if r.status_code == 503]
        assert refused, statuses
        for r in refused:
            assert r.headers["content-type"] == "application/problem+json"
            assert int(r.headers["retry-after"]) >= 1
            assert "capacity" in r.json()["detail"]
        assert uploaded.status_code == 201  # uploads are never refused for capacity
        assert {v["status"] for v in uploaded.json()["versions"].values()} == {"ready"}
        for a in assets:  # retried once capacity is back, every version is served
            assert c.get(a["versions"]["detail"]["url"]).status_code == 200


def test_jobs_survive_a_restart(tmp_path: Path) -> None:
    # First life: no workers, so the render job is only in the database when we stop.
    auth = bearer(make_tokens(tmp_path, {"admin": "admin"})["admin"])
    with server_process(tmp_path, render_workers="0") as first, \
            httpx.Client(base_url=first.url, headers=auth) as c:
        body = make_pending(c, upload(c, solid(1200, 900)).json())
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
