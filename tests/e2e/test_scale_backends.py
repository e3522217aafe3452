"""The whole service on the scale-out back-ends: PostgreSQL for metadata and jobs, a real
S3 server (SeaweedFS) for blobs. The same flows as on the embedded default."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import obstore
import pytest
from obstore.store import S3Store

from tests.support.images import load, solid
from tests.support.postgres import create_database, drop_database, unique_name
from tests.support.seaweed import ACCESS_KEY, BUCKET, REGION, SECRET_KEY, SeaweedServer
from tests.support.server import admin_client


@pytest.fixture
def scaled(tmp_path: Path, postgres: str, seaweed: SeaweedServer
           ) -> Iterator[tuple[httpx.Client, S3Store, str]]:
    name = unique_name("assetry_e2e")
    database = create_database(postgres, name)
    prefix = unique_name("e2e")
    try:
        with admin_client(tmp_path, database_url=database, storage_url=seaweed.url(prefix),
                          render_workers=1) as client:
            store = S3Store(BUCKET, endpoint=seaweed.endpoint, region=REGION,
                            access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
                            client_options={"allow_http": True},
                            virtual_hosted_style_request=False)
            yield client, store, prefix
    finally:
        drop_database(postgres, name)


def keys(store: S3Store, prefix: str) -> set[str]:
    return {m["path"] for batch in obstore.list(store, prefix=prefix) for m in batch}


def test_upload_render_replace_delete_on_postgres_and_s3(
    scaled: tuple[httpx.Client, S3Store, str]
) -> None:
    client, store, prefix = scaled
    body = client.post("/api/pools/default/assets?wait=true",
                       files={"file": ("a.jpg", solid(1200, 900))}).json()
    assert {v["status"] for v in body["versions"].values()} == {"ready"}
    thumb = load(client.get(body["versions"]["thumbnail"]["url"]).content)
    assert (thumb.width, thumb.height) == (100, 100)
    first = keys(store, prefix)
    assert len(first) == 3  # the original and two versions, in the bucket
    r = client.put(f"{body['url']}?wait=true",
                   files={"file": ("b.png", solid(300, 200, fmt=".png"))})
    assert r.status_code == 200 and r.json()["mime_type"] == "image/png"
    second = keys(store, prefix)
    assert len(second) == 3 and not (first & second)  # old blobs gone from S3
    assert client.get(body["content_url"], headers={"Range": "bytes=0-7"}).content == (
        b"\x89PNG\r\n\x1a\n")
    # A background job on PostgreSQL's queue, not an on-demand render:
    later = client.post("/api/pools/default/assets",
                        files={"file": ("c.jpg", solid(500, 500))}).json()
    for _ in range(300):
        got = client.get(later["url"]).json()
        if all(v["status"] == "ready" for v in got["versions"].values()):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the PostgreSQL job queue never rendered the versions")
    assert client.delete(body["url"]).status_code == 200
    assert client.delete(later["url"]).status_code == 200
    assert keys(store, prefix) == set()
    assert client.get("/health").json() == {"status": "ok", "database": "ok", "storage": "ok"}
