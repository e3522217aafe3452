"""/metrics as Prometheus scrapes it: requests by route template and status, latency
histograms, bytes in and out, renders by version, failures, the job gauge; and, under
`assetry serve` with several worker processes, the sum over all of them."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.metrics import samples, value
from tests.support.server import admin_client, server_process

VERSION = "/api/assets/{asset_id}/versions/{name}"
ASSET = "/api/assets/{asset_id}"
UPLOAD = "/api/pools/{pool}/assets"


def requests(text: str, method: str, route: str, status: int) -> float | None:
    return value(text, "assetry_http_requests_total", method=method, route=route,
                 status=str(status))


def test_requests_renders_and_bytes_are_counted_by_route_and_version(tmp_path: Path) -> None:
    with admin_client(tmp_path, render_workers=0) as c:
        image = solid(1200, 900)
        asset = upload(c, image).json()
        thumbnail = c.get(asset["versions"]["thumbnail"]["url"])
        for _ in range(2):
            assert c.get(asset["versions"]["thumbnail"]["url"]).content == thumbnail.content
        assert c.get(asset["url"]).status_code == 200
        assert c.get(f"/api/assets/{uuid4()}").status_code == 404
        assert c.get(f"/no/such/{uuid4()}").status_code == 404
        anonymous = httpx.post(f"{c.base_url}{UPLOAD.format(pool='default')}",
                               files={"file": ("a.jpg", image)})
        assert anonymous.status_code == 401  # answered before routing, by the token check
        broken = upload(c, image[: len(image) // 2])
        assert broken.status_code == 422, broken.text

        text = c.get("/metrics").text

    assert requests(text, "POST", UPLOAD, 201) == 1
    assert requests(text, "POST", UPLOAD, 401) == 1
    assert requests(text, "POST", UPLOAD, 422) == 1
    assert requests(text, "GET", VERSION, 200) == 3
    assert requests(text, "GET", ASSET, 200) == 1
    assert requests(text, "GET", ASSET, 404) == 1
    assert requests(text, "GET", "unmatched", 404) == 1
    # Route templates only: no raw path, so no id, ever becomes a label.
    routes = {dict(labels).get("route") for _, labels in samples(text)} - {None}
    assert not any(asset["id"] in r or "/no/such" in r for r in routes), routes

    histogram = {"method": "GET", "route": VERSION, "status": "200"}
    assert value(text, "assetry_http_request_duration_seconds_count", **histogram) == 3
    assert value(text, "assetry_http_request_duration_seconds_bucket", le="+Inf",
                 **histogram) == 3
    assert (value(text, "assetry_http_request_duration_seconds_sum", **histogram) or 0) > 0

    # Bytes out: exactly the version bytes of the three deliveries. Bytes in: the two
    # uploads that were read (the 401 was refused before its body was), with their
    # multipart framing.
    sent = value(text, "assetry_http_sent_bytes_total", method="GET", route=VERSION)
    assert sent == 3 * len(thumbnail.content)
    received = value(text, "assetry_http_received_bytes_total", method="POST", route=UPLOAD)
    assert received is not None
    assert len(image) * 1.5 < received < len(image) * 1.5 + 2048

    # One decode made both versions; the half image did not decode.
    assert value(text, "assetry_renders_total") == 1
    assert value(text, "assetry_assets_created_total") == 1
    assert value(text, "assetry_versions_rendered_total") == 2
    for name in ("detail", "thumbnail"):
        assert value(text, "assetry_render_duration_seconds_count", version=name) == 1
    assert value(text, "assetry_render_failures_total", reason="undecodable") == 1
    assert (value(text, "assetry_render_seconds_total") or 0) > 0
    assert value(text, "assetry_jobs", state="queued") == 0


@pytest.mark.slow
def test_every_worker_process_counts_into_one_total(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with server_process(data, processes="2", render_workers="0") as served:
        # The supervisor's directory, named by its pid (beside it: its lock file).
        directory = data / "run" / "metrics" / str(served.proc.pid)
        assert directory.is_dir()
        labels = {"method": "GET", "route": "/health/live", "status": "200"}

        def shares() -> list[float]:
            """What each worker process counted itself, from its own file."""
            found = []
            for path in sorted(directory.glob("counter_*.db")):
                merged = MultiProcessCollector.merge([str(path)], accumulate=False)
                found.append(sum(s.value for m in merged for s in m.samples
                                 if s.name == "assetry_http_requests_total"
                                 and s.labels == labels))
            return found

        # Fresh connections, so the kernel hands them to either process, until both
        # have answered some (bounded in count and time).
        made, deadline = 0, time.monotonic() + 60
        while made < 20 or min(shares(), default=0) == 0:
            assert made < 400 and time.monotonic() < deadline, shares()
            assert httpx.get(f"{served.url}/health/live", timeout=10).status_code == 200
            made += 1
        assert len(shares()) == 2 and sum(shares()) == made

        # Every scrape, whichever process answers it, reports all of them.
        for _ in range(10):
            text = httpx.get(f"{served.url}/metrics", timeout=10).text
            assert value(text, "assetry_http_requests_total", **labels) == made
