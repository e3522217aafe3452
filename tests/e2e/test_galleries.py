"""Galleries: many images per gallery, oldest first; several galleries in the asked order."""

from __future__ import annotations

import httpx

from tests.e2e.test_upload import upload
from tests.support.images import solid


def test_default_gallery_is_the_asset_id(client: httpx.Client) -> None:
    body = upload(client, solid(64, 64)).json()
    g = client.get(f"/api/galleries/{body['id']}")
    assert g.status_code == 200
    assert g.json()["id"] == body["id"]
    assert [i["id"] for i in g.json()["images"]] == [body["id"]]
    assert set(g.json()["images"][0]["versions"]) == {"detail", "thumbnail"}


def test_gallery_keeps_every_image_oldest_first(client: httpx.Client) -> None:
    ids = [upload(client, solid(64 + i, 64), gallery="trip-2026").json()["id"] for i in range(3)]
    g = client.get("/api/galleries/trip-2026").json()
    assert [i["id"] for i in g["images"]] == ids


def test_gallery_leaves_out_files_and_unknown_is_404(client: httpx.Client) -> None:
    upload(client, b"not an image", filename="x.txt", gallery="mixed")
    assert client.get("/api/galleries/mixed").status_code == 404
    r = client.get("/api/galleries/no-such-gallery")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_many_galleries_in_the_asked_order_without_unknown(client: httpx.Client) -> None:
    a = upload(client, solid(32, 32), gallery="ga").json()
    b = upload(client, solid(32, 32), gallery="gb").json()
    r = client.get("/api/galleries", params=[("id", "gb"), ("id", "unknown"), ("id", "ga")])
    assert r.status_code == 200
    items = r.json()["items"]
    assert [g["id"] for g in items] == ["gb", "ga"]
    assert items[0]["images"][0]["id"] == b["id"] and items[1]["images"][0]["id"] == a["id"]


def test_gallery_shows_the_most_recent_version_after_convert(client: httpx.Client) -> None:
    body = upload(client, solid(400, 400), gallery="conv").json()
    old = body["versions"]["thumbnail"]["id"]
    r = client.post(f"{body['url']}/convert?wait=true", json={
        "settings": {"versions": {"thumbnail": {"width": 50, "height": 50}}}})
    assert r.status_code == 200, r.text
    image = client.get("/api/galleries/conv").json()["images"][0]
    assert image["versions"]["thumbnail"]["id"] != old
    assert image["versions"]["thumbnail"]["width"] == 50


def test_bad_gallery_id_is_400(client: httpx.Client) -> None:
    r = upload(client, solid(8, 8), gallery="has space")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "gallery"
