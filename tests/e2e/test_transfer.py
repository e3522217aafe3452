"""`assetry transfer` moves a populated embedded installation (SQLite and a local blob
directory) onto a real PostgreSQL and a real S3 server (SeaweedFS); a server started on
the new back-ends, with the old ones deleted, answers exactly as before: the same Asset
JSON, the same bytes, the same tokens. Reruns skip what is there and repair what is not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest
from obstore.store import S3Store

from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.postgres import create_database, drop_database, unique_name
from tests.support.seaweed import ACCESS_KEY, BUCKET, REGION, SECRET_KEY, SeaweedServer
from tests.support.server import live_server
from tests.support.tokens import bearer, make_tokens

pytestmark = pytest.mark.slow


def assetry(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200",
           **{f"ASSETRY_{k.upper()}": v for k, v in settings.items()}}
    return subprocess.run([sys.executable, "-m", "assetry", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=300, env=env)


def unsigned(value: Any) -> Any:
    """`value` with the signatures of signed URLs left out: they are made per window of
    ASSETRY_SIGNED_URL_TTL, which may turn between two snapshots."""
    if isinstance(value, dict):
        return {k: unsigned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsigned(v) for v in value]
    if isinstance(value, str) and "?exp=" in value:
        return value.split("?exp=")[0]
    return value


def populate(client: httpx.Client, editor: httpx.Client) -> list[str]:
    """Pools, a converter and assets of every kind; returns the asset URLs."""
    assert client.put("/api/converters/small", json={"versions": [
        {"name": "square", "width": 64, "height": 64, "format": "webp", "quality": 70,
         "operations": [{"op": "grayscale"}]}]}).status_code == 201
    assert client.put("/api/pools/closed", json={"public": False, "title": "Closed",
                                                 "converter": "small"}).status_code == 201
    assert client.put("/api/pools/papers", json={"asset_types": ["file"], "max_size": 10_000
                                                 }).status_code == 201
    urls = []
    photo = upload(editor, solid(900, 600), metadata='{"alt": "blue", "n": 1}',
                   gallery="trip").json()
    urls.append(photo["url"])
    urls.append(upload(editor, solid(300, 300, (200, 10, 10)), gallery="trip").json()["url"])
    closed = upload(client, solid(400, 200), pool="closed").json()
    urls.append(closed["url"])
    paper = upload(editor, b"minutes of the meeting\n", filename="minutes.txt", pool="papers"
                   ).json()
    urls.append(paper["url"])
    hidden = upload(editor, solid(120, 120)).json()
    assert client.patch(hidden["url"], json={"hidden": True}).status_code == 200
    urls.append(hidden["url"])
    converted = upload(editor, solid(500, 500)).json()
    assert client.post(f"{converted['url']}/convert?wait=true",
                       json={"converter": "small"}).status_code == 200
    assert client.delete(f"{converted['url']}/versions/detail").status_code == 200
    assert client.post(f"{converted['url']}/attachments",
                       json={"resource": "proposals/7"}).status_code == 200
    urls.append(converted["url"])
    return urls


def snapshot(client: httpx.Client, urls: list[str]) -> dict[str, Any]:
    """What a client sees: pools, converters, every asset's JSON and every byte."""
    seen: dict[str, Any] = {"pools": client.get("/api/pools").json(),
                            "converters": client.get("/api/converters").json()}
    for url in urls:
        asset = client.get(url).json()
        seen[url] = unsigned(asset)
        seen[f"{url}/content"] = client.get(asset["content_url"]).content
        for version in asset["versions"].values():
            r = client.get(version["url"])
            assert r.status_code == 200, r.text
            seen[unsigned(version["url"])] = r.content
    return seen


def test_transfer_moves_everything_onto_postgres_and_s3(
        tmp_path: Path, postgres: str, seaweed: SeaweedServer) -> None:
    data_dir = tmp_path / "data"
    tokens = make_tokens(data_dir, {"admin": "admin", "editor": "editor", "viewer": "viewer",
                                    "gone": "editor"})
    assert assetry(data_dir, "tokens", "revoke", "gone").returncode == 0
    with live_server(data_dir, render_workers=0) as url, \
            httpx.Client(base_url=url, headers=bearer(tokens["admin"]), timeout=60) as admin, \
            httpx.Client(base_url=url, headers=bearer(tokens["editor"]), timeout=60) as editor:
        urls = populate(admin, editor)
        before = snapshot(admin, urls)
        signed_before = admin.get(urls[2]).json()["content_url"]
        assert "sig=" in signed_before
    blobs_before = {p for p in (data_dir / "blobs").rglob("*") if p.is_file()}

    database_name, prefix = unique_name("assetry_moved"), unique_name("moved")
    database = create_database(postgres, database_name)
    storage = seaweed.url(prefix)
    bucket = S3Store(BUCKET, endpoint=seaweed.endpoint, region=REGION, prefix=prefix,
                     access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
                     client_options={"allow_http": True}, virtual_hosted_style_request=False)
    try:
        moved = assetry(data_dir, "transfer", "--to-database", database, "--to-storage", storage)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert f"blobs: copied {len(blobs_before)} " in moved.stdout
        assert "rows: converters 2, pools 3, tokens 4, assets 6," in moved.stdout
        assert "every row's blob is in the target store, verified by SHA-256" in moved.stdout
        stored = {m["path"] for batch in obstore.list(bucket) for m in batch}
        assert len(stored) == len(blobs_before)

        # A rerun finds everything there; a damaged and a lost copy are made again.
        again = assetry(data_dir, "transfer", "--to-database", database, "--to-storage", storage)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"copied 0 (0 bytes), skipped {len(blobs_before)} " in again.stdout
        damaged, lost = sorted(stored)[:2]
        obstore.put(bucket, damaged, b"not the bytes")
        obstore.delete(bucket, lost)
        repaired = assetry(data_dir, "transfer", "--to-database", database,
                           "--to-storage", storage)
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "copied 2 " in repaired.stdout
        assert f"skipped {len(blobs_before) - 2} " in repaired.stdout

        # The old back-ends go away; only the data directory's signing key stays.
        for name in ("assetry.db", "assetry.db-wal", "assetry.db-shm"):
            (data_dir / name).unlink(missing_ok=True)
        shutil.rmtree(data_dir / "blobs")
        with live_server(data_dir, database_url=database, storage_url=storage,
                         render_workers=0) as url:
            assert not (data_dir / "assetry.db").exists()
            with httpx.Client(base_url=url, headers=bearer(tokens["admin"]), timeout=60
                              ) as admin:
                after = snapshot(admin, urls)
                assert after.keys() == before.keys()
                for key, value in before.items():
                    assert after[key] == value, key
            # Tokens keep working: their hashes moved, roles and revocations with them.
            with httpx.Client(base_url=url, timeout=60) as anonymous:
                assert anonymous.get(f"{urls[2]}/content").status_code == 401
                # A signed URL handed out before the move still works (same key).
                assert anonymous.get(signed_before).content == before[f"{urls[2]}/content"]
                viewer = bearer(tokens["viewer"])
                assert anonymous.get(urls[2], headers=viewer).status_code == 200
                assert anonymous.post("/api/pools/default/assets", headers=viewer,
                                      files={"file": ("a.jpg", solid(8, 8))}).status_code == 403
                assert anonymous.get(urls[0], headers=bearer(tokens["gone"])).status_code == 401
                editor_token = bearer(tokens["editor"])
                assert anonymous.patch(urls[0], headers=editor_token,
                                       json={"filename": "renamed.jpg"}).status_code == 200
                fresh = anonymous.post("/api/pools/default/assets?wait=true",
                                       headers=editor_token,
                                       files={"file": ("new.jpg", solid(64, 48))})
                assert fresh.status_code == 201 and fresh.json()["creator"] == "editor"
        verify = assetry(data_dir, "verify", database_url=database, storage_url=storage)
        assert verify.returncode == 0 and "0 missing blob(s)" in verify.stdout, verify.stdout
        gc = assetry(data_dir, "gc", "--dry-run", database_url=database, storage_url=storage)
        assert "0 orphaned blob(s) found" in gc.stdout, gc.stdout + gc.stderr
    finally:
        drop_database(postgres, database_name)
