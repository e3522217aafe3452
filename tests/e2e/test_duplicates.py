"""Duplicates: an upload of bytes already in the pool names the asset holding them
(`duplicate_of`); with `?dedupe=true` it answers with that asset and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assetry.fetch.fetcher import SafeFetcher
from assetry.fetch.policy import AddressPolicy
from tests.e2e.conftest import blob_files
from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.server import admin_client
from tests.support.tokens import bearer
from tests.support.upstream import upstream


def test_first_upload_has_no_duplicate_and_the_second_names_the_first(
    client: httpx.Client,
) -> None:
    data = solid(120, 80, (1, 2, 3))
    first = upload(client, data)
    assert first.status_code == 201 and first.json()["duplicate_of"] is None
    second = upload(client, data, filename="again.jpg")
    assert second.status_code == 201
    body = second.json()
    assert body["duplicate_of"] == first.json()["id"] != body["id"]  # stored all the same
    third = upload(client, data, filename="third.jpg").json()
    assert third["duplicate_of"] == first.json()["id"]  # always the oldest copy
    assert client.get(body["url"]).status_code == 200
    assert "duplicate_of" not in client.get(body["url"]).json()  # an upload's answer only


def test_dedupe_answers_with_the_stored_asset_and_keeps_nothing(
    client: httpx.Client, data_dir: Path,
) -> None:
    data = solid(130, 90, (4, 5, 6))
    first = upload(client, data).json()
    files_before = blob_files(data_dir)
    r = client.post("/api/pools/default/assets?dedupe=true",
                    files={"file": ("copy.jpg", data)}, data={"metadata": '{"x": 1}'})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == first["id"] == body["duplicate_of"]
    assert body["filename"] == first["filename"] and body["metadata"] == {}  # not changed
    assert body["updated_resources"] == {"created": [], "modified": [], "removed": [],
                                         "changed_descendants": []}
    assert r.headers["content-location"] == first["url"] and "location" not in r.headers
    assert blob_files(data_dir) == files_before
    listed = client.get(f"/api/pools/default/assets?sha256={first['sha256']}").json()["items"]
    assert [a["id"] for a in listed] == [first["id"]]


def test_dedupe_without_a_copy_stores_as_usual(client: httpx.Client) -> None:
    r = client.post("/api/pools/default/assets?dedupe=true",
                    files={"file": ("new.jpg", solid(150, 90, (7, 8, 9)))})
    assert r.status_code == 201 and r.json()["duplicate_of"] is None
    assert r.headers["location"] == r.json()["url"]


def test_copies_in_other_pools_do_not_count(client: httpx.Client) -> None:
    assert client.put("/api/pools/elsewhere", json={}).status_code in (200, 201)
    data = solid(160, 90, (10, 11, 12))
    upload(client, data, pool="elsewhere")
    assert upload(client, data).json()["duplicate_of"] is None
    r = client.post("/api/pools/default/assets?dedupe=true", files={"file": ("a.jpg", data)})
    assert r.status_code == 200 and r.json()["pool"] == "default"


def test_hidden_copies_count_only_for_those_who_see_them(
    client: httpx.Client, base_url: str, tokens: dict[str, str],
) -> None:
    data = solid(170, 90, (13, 14, 15))
    hidden = upload(client, data).json()
    assert client.patch(hidden["url"], json={"hidden": True}).status_code == 200
    with httpx.Client(base_url=base_url, headers=bearer(tokens["editor"])) as editor:
        assert upload(editor, data).json()["duplicate_of"] is None
        r = editor.post("/api/pools/default/assets?dedupe=true", files={"file": ("a.jpg", data)})
        assert r.status_code == 200 and r.json()["id"] != hidden["id"]  # the editor's copy
    assert upload(client, data).json()["duplicate_of"] == hidden["id"]  # an admin sees it


def test_dedupe_checks_credentials_before_anything(anonymous: httpx.Client,
                                                   client: httpx.Client) -> None:
    data = solid(180, 90, (16, 17, 18))
    upload(client, data)
    r = anonymous.post("/api/pools/default/assets?dedupe=true", files={"file": ("a.jpg", data)})
    assert r.status_code == 401
    r = client.post("/api/pools/nope/assets?dedupe=true", files={"file": ("a.jpg", data)})
    assert r.status_code == 404
    r = client.post("/api/pools/default/assets?dedupe=maybe", files={"file": ("a.jpg", data)})
    assert r.status_code == 400


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    png = solid(64, 48, (90, 10, 10), fmt=".png")
    with upstream({"/dup.png": (200, {"Content-Type": "image/png"}, png)}) as (url, _, _seen):
        yield url


def test_an_import_names_the_copy_it_duplicates(
    tmp_path_factory: pytest.TempPathFactory, remote: str,
) -> None:
    port = int(remote.rsplit(":", 1)[1])
    fetcher = SafeFetcher(AddressPolicy(allow_loopback=True, allowed_ports=frozenset({port})))
    with admin_client(tmp_path_factory.mktemp("dup-imports"), fetcher=fetcher) as admin:
        first = admin.post("/api/pools/default/imports", json={"url": f"{remote}/dup.png"})
        assert first.status_code == 201 and first.json()["duplicate_of"] is None
        second = admin.post("/api/pools/default/imports", json={"url": f"{remote}/dup.png"})
        assert second.status_code == 201
        assert second.json()["duplicate_of"] == first.json()["id"] != second.json()["id"]
