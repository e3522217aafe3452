"""Replace, patch, hide, delete and attachments."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.conftest import blob_files
from tests.e2e.test_upload import upload
from tests.support.images import load, solid
from tests.support.tokens import bearer


def files_of(data_dir: Path, asset_id: str) -> set[Path]:
    return {p for p in blob_files(data_dir) if asset_id in str(p)}


def test_replace_regenerates_versions_and_deletes_old_blobs(client: httpx.Client,
                                                            data_dir: Path) -> None:
    body = client.post("/api/pools/default/assets?wait=true",
                       files={"file": ("one.jpg", solid(1000, 800, (200, 0, 0)))}).json()
    old_thumb = client.get(body["versions"]["thumbnail"]["url"])
    old_files = files_of(data_dir, body["id"])
    assert len(old_files) == 3  # original + two versions
    new = solid(640, 480, (0, 200, 0), fmt=".png")
    r = client.put(f"{body['url']}?wait=true", files={"file": ("two.png", new)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["updated_resources"]["modified"] == [body["url"]]
    assert out["updated_resources"]["changed_descendants"] == ["/api/pools/default"]
    assert (out["size"], out["filename"], out["mime_type"]) == (len(new), "two.png", "image/png")
    assert (out["width"], out["height"]) == (640, 480)
    assert out["sha256"] != body["sha256"]
    thumb = client.get(body["versions"]["thumbnail"]["url"])
    assert thumb.headers["etag"] != old_thumb.headers["etag"]
    assert thumb.headers["content-type"] == "image/png"
    assert load(thumb.content).getpoint(50, 50)[1] > 150  # green now
    assert client.get(body["content_url"]).content == new
    now = files_of(data_dir, body["id"])
    assert len(now) == 3 and not (now & old_files)


def test_replace_checks(client: httpx.Client) -> None:
    body = upload(client, solid(100, 100)).json()
    assert client.put(body["url"], files={"file": ("f.jpg", solid(50, 50))},
                      data={"type": "file"}).status_code == 409
    r = client.put(body["url"], data={"type": "image"}, files={"x": (None, "y")})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file"
    assert client.put(body["url"], files={"file": ("t.txt", b"text")}).status_code == 415
    assert client.put("/api/assets/00000000-0000-4000-8000-000000000000",
                      files={"file": ("a.jpg", solid(5, 5))}).status_code == 404
    assert client.get(body["url"]).json()["sha256"] == body["sha256"]


def test_patch_fields(client: httpx.Client) -> None:
    body = upload(client, solid(50, 50)).json()
    r = client.patch(body["url"], json={"filename": "../new.jpg", "metadata": {"a": 1},
                                        "gallery": "g-patch"})
    assert r.status_code == 200
    out = r.json()
    assert (out["filename"], out["metadata"], out["gallery"]) == ("new.jpg", {"a": 1}, "g-patch")
    assert out["updated_resources"]["modified"] == [body["url"]]
    assert client.patch(body["url"], json={"size": 3}).status_code == 400
    assert client.patch(body["url"], json={"metadata": [1]}).status_code == 400


def test_hidden_asset_is_410_below_moderator_until_unhidden(
    client: httpx.Client, anonymous: httpx.Client, tokens: dict[str, str]
) -> None:
    body = client.post("/api/pools/default/assets?wait=true",
                       files={"file": ("h.jpg", solid(300, 300))}).json()
    r = client.patch(body["url"], json={"hidden": True})
    assert r.status_code == 200 and r.json()["hidden"] is True
    urls = (body["url"], body["content_url"], body["versions"]["detail"]["url"])
    for headers in ({}, bearer(tokens["viewer"]), bearer(tokens["editor"])):
        for url in urls:
            g = anonymous.get(url, headers=headers)
            assert g.status_code == 410, (url, headers)
            problem = g.json()
            assert problem["reason"] == "hidden"
            assert problem["modified_by"] == "admin"
            assert problem["modification_date"].endswith("Z")
    for role in ("moderator", "admin"):
        for url in urls:
            r = anonymous.get(url, headers=bearer(tokens[role]))
            assert r.status_code == 200
            if url != body["url"]:  # bytes of a hidden asset: never in a shared cache
                assert r.headers["cache-control"].startswith("private")
        assert anonymous.get(body["url"], headers=bearer(tokens[role])).json()["hidden"] is True
    listed = anonymous.get("/api/pools/default/assets", params={"limit": 500}).json()["items"]
    assert body["id"] not in [a["id"] for a in listed]
    listed = client.get("/api/pools/default/assets", params={"limit": 500}).json()["items"]
    assert body["id"] in [a["id"] for a in listed]
    assert client.patch(body["url"], json={"hidden": False}).status_code == 200
    assert anonymous.get(body["url"]).status_code == 200
    assert anonymous.get(body["versions"]["detail"]["url"]).status_code == 200


def test_delete_removes_every_url_and_blob(client: httpx.Client, data_dir: Path) -> None:
    body = client.post("/api/pools/default/assets?wait=true",
                       files={"file": ("d.jpg", solid(300, 300))}).json()
    assert len(files_of(data_dir, body["id"])) == 3
    r = client.delete(body["url"])
    assert r.status_code == 200
    removed = r.json()["updated_resources"]["removed"]
    # updated_resources names resources by path; byte URLs add `?v=` (their digest).
    assert set(removed) == {body["url"],
                            *(v["url"].split("?")[0] for v in body["versions"].values())}
    for url in (body["url"], body["content_url"], *(v["url"] for v in body["versions"].values())):
        assert client.get(url).status_code == 404, url
    assert files_of(data_dir, body["id"]) == set()
    assert client.delete(body["url"]).status_code == 404


def test_attachments(client: httpx.Client) -> None:
    body = upload(client, solid(40, 40), pool="default").json()
    other = upload(client, solid(40, 40)).json()
    for res in ("proposals/42/VERSION_1", "users/7", "proposals/42/VERSION_1"):
        r = client.post(f"{body['url']}/attachments", json={"resource": res})
        assert r.status_code == 200
    assert r.json()["attached_to"] == ["proposals/42/VERSION_1", "users/7"]
    listed = client.get("/api/pools/default/assets",
                        params={"attached_to": "users/7"}).json()["items"]
    assert [a["id"] for a in listed] == [body["id"]]
    unattached = client.get("/api/pools/default/assets",
                            params={"attached": "false", "limit": 500}).json()["items"]
    ids = [a["id"] for a in unattached]
    assert other["id"] in ids and body["id"] not in ids
    r = client.delete(f"{body['url']}/attachments", params={"resource": "users/7"})
    assert r.json()["attached_to"] == ["proposals/42/VERSION_1"]
    assert client.post(f"{body['url']}/attachments", json={"resource": ""}).status_code == 400
    assert client.post(f"{body['url']}/attachments",
                       json={"resource": "x" * 513}).status_code == 400


def test_listing_is_newest_first_with_cursor_and_filters(client: httpx.Client) -> None:
    client.put("/api/pools/listing", json={"title": "Listing"})
    ids = [upload(client, solid(20, 20), pool="listing").json()["id"] for _ in range(5)]
    upload(client, b"file", filename="f.txt", pool="listing")
    page1 = client.get("/api/pools/listing/assets", params={"limit": 2, "type": "image"}).json()
    page2 = client.get("/api/pools/listing/assets",
                       params={"limit": 2, "type": "image", "cursor": page1["next_cursor"]}).json()
    page3 = client.get("/api/pools/listing/assets",
                       params={"limit": 2, "type": "image", "cursor": page2["next_cursor"]}).json()
    got = [a["id"] for p in (page1, page2, page3) for a in p["items"]]
    assert got == ids[::-1] and page3["next_cursor"] is None
    assert client.get("/api/pools/listing/assets", params={"cursor": "garbage"}).status_code == 400
    assert client.get("/api/pools/listing/assets", params={"limit": 0}).status_code == 400


def test_listing_by_sha256_finds_the_same_bytes(client: httpx.Client,
                                               anonymous: httpx.Client) -> None:
    client.put("/api/pools/digests", json={"title": "Digests"})
    image = solid(30, 20, (1, 2, 3))
    first = upload(client, image, pool="digests").json()
    second = upload(client, image, filename="copy.jpg", pool="digests").json()
    other = upload(client, b"other bytes", filename="o.txt", pool="digests").json()
    upload(client, image, pool="default")  # the same bytes in another pool

    def listed(digest: str, who: httpx.Client = client, **params: str) -> list[str]:
        r = who.get("/api/pools/digests/assets", params={"sha256": digest, **params})
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["items"]]

    assert first["sha256"] == second["sha256"]
    assert listed(first["sha256"]) == [second["id"], first["id"]]
    assert listed(first["sha256"].upper()) == [second["id"], first["id"]]
    assert listed(first["sha256"], limit="1") == [second["id"]]
    assert listed(first["sha256"], type="file") == []
    assert listed(other["sha256"]) == [other["id"]]
    assert listed("0" * 64) == []
    client.patch(second["url"], json={"hidden": True})
    assert listed(first["sha256"], anonymous) == [first["id"]]  # hidden stays hidden
    for bad in ("abc", "g" * 64, "0" * 65, ""):
        r = client.get("/api/pools/digests/assets", params={"sha256": bad})
        assert r.status_code == 400, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"] == [
            {"field": "sha256", "message": "must be a SHA-256: 64 hexadecimal digits"}]


def test_pools_crud(client: httpx.Client) -> None:
    r = client.put("/api/pools/process", json={"title": "Process 1", "asset_types": ["image"],
                                               "public": True})
    assert r.status_code == 201
    assert r.json() == {"name": "process", "title": "Process 1", "asset_types": ["image"],
                        "max_size": 16777216, "converter": "default", "public": True,
                        "transforms": "off",
                        "url": "/api/pools/process", "assets_url": "/api/pools/process/assets"}
    assert client.put("/api/pools/process", json={"max_size": 1000}).status_code == 200
    assert client.get("/api/pools/process").json()["max_size"] == 1000
    assert client.put("/api/pools/process", json={"max_size": 2**40}).status_code == 400
    assert client.put("/api/pools/Bad!", json={}).status_code == 400
    assert client.put("/api/pools/p2", json={"asset_types": ["video"]}).status_code == 400
    assert "process" in [p["name"] for p in client.get("/api/pools").json()["items"]]
    upload(client, solid(8, 8), pool="process")
    assert client.delete("/api/pools/process").status_code == 409
    client.put("/api/pools/empty", json={})
    assert client.delete("/api/pools/empty").status_code == 204
    assert client.get("/api/pools/empty").status_code == 404


def test_pool_size_limit_applies(client: httpx.Client) -> None:
    client.put("/api/pools/small", json={"max_size": 100})
    assert upload(client, b"x" * 100, filename="a", pool="small").status_code == 201
    assert upload(client, b"x" * 101, filename="a", pool="small").status_code == 413
