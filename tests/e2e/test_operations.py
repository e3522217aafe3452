"""Health, metrics, OpenAPI and the interactive docs."""

from __future__ import annotations

import httpx


def test_health(client: httpx.Client) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_openapi_lists_the_api(client: httpx.Client) -> None:
    doc = client.get("/api/openapi.json").json()
    paths = set(doc["paths"])
    assert {"/api/pools", "/api/pools/{name}", "/api/pools/{pool}/assets",
            "/api/assets/{asset_id}", "/api/assets/{asset_id}/content",
            "/api/assets/{asset_id}/versions/{name}", "/api/assets/{asset_id}/convert",
            "/api/assets/{asset_id}/attachments", "/api/galleries",
            "/api/galleries/{gallery_id}", "/api/converters", "/api/converters/{name}",
            "/health", "/metrics"} <= paths


def test_docs_page(client: httpx.Client) -> None:
    r = client.get("/api/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()


def test_metrics_is_prometheus_text(client: httpx.Client) -> None:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "assetry_render_seconds_total" in r.text


def test_unknown_route_is_a_problem(client: httpx.Client) -> None:
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/api/galleries")
    assert r.status_code == 405
