"""The pure rules of bulk import and export: what is sent, what is skipped, how exported
files are named, what a manifest says."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from assetry.domain.bulk import (
    Claims,
    LocalFile,
    Outcome,
    PoolInfo,
    Report,
    Result,
    StoredAsset,
    export_paths,
    manifest,
    manifest_row,
    oversize,
    plan_import,
    visible,
)

ID = "0b0f9c7e-6a7b-4c1d-9e8f-0123456789ab"


def asset_json(**overrides: Any) -> dict[str, Any]:
    """An Asset as the API writes it (fields the bulk runs ignore included)."""
    return {
        "id": ID, "pool": "default", "type": "image", "filename": "photo.jpg",
        "mime_type": "image/jpeg", "size": 4686206, "sha256": "4c" * 32,
        "width": 4000, "height": 3000, "gallery": ID, "converter": "default",
        "metadata": {"alt": "elephants"}, "attached_to": ["users/7"], "hidden": False,
        "creator": "cms", "modified_by": "cms", "created_at": "2026-11-22T02:27:48.729Z",
        "modified_at": "2026-11-22T02:27:48.729Z", "url": f"/api/assets/{ID}",
        "content_url": f"/api/assets/{ID}/content", "versions": {},
    } | overrides


def stored(asset_id: str, filename: str) -> StoredAsset:
    return StoredAsset.from_json(asset_json(id=asset_id, filename=filename))


def uuid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


@pytest.mark.parametrize(("path", "taken"), [
    ("a.jpg", True),
    ("trip/day 1/a.jpg", True),
    (".DS_Store", False),
    (".git/objects/ab", False),
    ("trip/.thumbnails/a.jpg", False),
    ("trip/a.jpg.part", True),
    ("..weird/a.jpg", False),
])
def test_visible_leaves_out_dot_names_at_any_depth(path: str, taken: bool) -> None:
    assert visible(PurePosixPath(path)) is taken


def test_plan_import_keeps_the_first_of_each_file_in_order() -> None:
    a = LocalFile(Path("/p/a.jpg"), "photos/a.jpg", 3)
    b = LocalFile(Path("/p/b.jpg"), "photos/b.jpg", 4)
    again = LocalFile(Path("/p/a.jpg"), "photos/./a.jpg", 3)
    assert plan_import([b, a, again, b]) == (b, a)
    assert plan_import([]) == ()


def test_oversize_names_the_sizes_only_above_the_limit() -> None:
    assert oversize(100, 100, "small") is None
    assert oversize(101, 100, "small") == (
        "the file is 101 bytes; pool 'small' accepts files of at most 100")


def test_claims_send_the_first_file_of_some_bytes_and_name_it_for_the_others() -> None:
    claims = Claims()
    assert claims.claim("aa", "x/one.jpg") is None
    assert claims.claim("bb", "x/two.jpg") is None
    assert claims.claim("aa", "y/copy.jpg") == "x/one.jpg"
    assert claims.claim("aa", "x/one.jpg") is None  # the same file asking again


def test_report_tallies_and_exit_codes() -> None:
    report = Report(planned=4)
    assert report.exit_code == 0
    report.add(Result("b.jpg", Outcome.DONE, 10))
    report.add(Result("c.txt", Outcome.FAILED, 5, "pool 'p' does not accept file assets", 415))
    report.add(Result("a.jpg", Outcome.FAILED, 7, "not a decodable image/jpeg", 422))
    report.add(Result("d.jpg", Outcome.SKIPPED, 20, "already in pool 'p'"))
    assert (report.count(Outcome.DONE), report.count(Outcome.SKIPPED),
            report.count(Outcome.FAILED)) == (1, 1, 2)
    assert report.bytes(Outcome.DONE) == 10 and report.bytes(Outcome.FAILED) == 12
    assert [f.name for f in report.failures] == ["a.jpg", "c.txt"]
    assert report.exit_code == 1
    report.stopped = "e.jpg: 401 the token is unknown or revoked"
    assert report.exit_code == 2


def test_stored_asset_reads_the_api_asset_json() -> None:
    asset = StoredAsset.from_json(asset_json(id=ID.upper(), width=None, height=None))
    assert asset == StoredAsset(
        id=ID, type="image", filename="photo.jpg", sha256="4c" * 32, mime_type="image/jpeg",
        size=4686206, width=None, height=None, gallery=ID, metadata={"alt": "elephants"},
        attached_to=("users/7",), hidden=False, created_at="2026-11-22T02:27:48.729Z")


@pytest.mark.parametrize("broken", [
    {"id": "../../etc/passwd"},
    {"id": 7},
    {"sha256": "4C" * 32},
    {"sha256": "4c" * 31},
    {"size": -1},
    {"size": "12"},
    {"size": True},
    {"width": 1.5},
    {"filename": None},
    {"metadata": []},
    {"attached_to": "users/7"},
    {"attached_to": [7]},
    {"hidden": "no"},
])
def test_stored_asset_refuses_what_is_not_an_asset(broken: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not an asset"):
        StoredAsset.from_json(asset_json(**broken))


@pytest.mark.parametrize("body", [None, [], "asset", {"id": ID}])
def test_stored_asset_refuses_other_shapes(body: Any) -> None:
    with pytest.raises(ValueError, match="not an asset"):
        StoredAsset.from_json(body)


def test_pool_info_reads_the_pool_json() -> None:
    assert PoolInfo.from_json({"name": "p", "max_size": 100, "public": True}) == PoolInfo("p", 100)
    for bad in ({"name": "p"}, {"name": "p", "max_size": "100"}, [], None):
        with pytest.raises(ValueError, match="not a pool"):
            PoolInfo.from_json(bad)


def test_export_paths_are_sanitised_names_under_originals() -> None:
    assets = [stored(uuid(1), "photo.jpg"), stored(uuid(2), "../../etc/passwd"),
              stored(uuid(3), "C:\\Users\\me\\scan.png"), stored(uuid(4), ".."),
              stored(uuid(5), "notes")]
    assert export_paths(assets) == {
        uuid(1): "originals/photo.jpg",
        uuid(2): "originals/passwd",
        uuid(3): "originals/scan.png",
        uuid(4): "originals/upload",
        uuid(5): "originals/notes",
    }


def test_export_paths_give_later_namesakes_their_id_ignoring_case() -> None:
    assets = [stored(uuid(1), "a.jpg"), stored(uuid(2), "A.JPG"), stored(uuid(3), "a.jpg"),
              stored(uuid(4), "a"), stored(uuid(5), "a")]
    assert export_paths(assets) == {
        uuid(1): "originals/a.jpg",
        uuid(2): "originals/A-00000002.JPG",
        uuid(3): "originals/a-00000003.jpg",
        uuid(4): "originals/a",
        uuid(5): "originals/a-00000005",
    }


def test_export_paths_fall_back_to_the_whole_id_then_a_counter() -> None:
    # Earlier files literally named like the later one's short and long forms.
    assets = [stored(uuid(1), "a.jpg"), stored(uuid(3), "a-00000002.jpg"),
              stored(uuid(2), "a.jpg")]
    assert export_paths(assets)[uuid(2)] == f"originals/a-{uuid(2)}.jpg"
    taken = stored(uuid(4), f"a-{uuid(2)}.jpg")
    assert export_paths([*assets[:2], taken, assets[2]])[uuid(2)] == (
        f"originals/a-{uuid(2)}-2.jpg")


def test_export_paths_stay_within_255_bytes_with_the_suffix() -> None:
    long = "é" * 120 + ".jpeg"  # 245 bytes
    paths = export_paths([stored(uuid(1), long), stored(uuid(2), long)])
    name = paths[uuid(2)].removeprefix("originals/")
    assert len(name.encode()) <= 255
    assert name.endswith("-00000002.jpeg")


def test_export_paths_keep_old_names_when_newer_assets_arrive() -> None:
    old = [stored(uuid(1), "a.jpg"), stored(uuid(2), "a.jpg")]
    before = export_paths(old)
    after = export_paths([*old, stored(uuid(3), "a.jpg"), stored(uuid(4), "b.jpg")])
    assert {k: after[k] for k in before} == before


def test_manifest_rows_carry_the_asset_facts_and_path() -> None:
    asset = StoredAsset.from_json(asset_json())
    row = manifest_row(asset, "originals/photo.jpg")
    assert row == {
        "id": ID, "path": "originals/photo.jpg", "filename": "photo.jpg", "type": "image",
        "sha256": "4c" * 32, "mime_type": "image/jpeg", "size": 4686206, "width": 4000,
        "height": 3000, "gallery": ID, "metadata": {"alt": "elephants"},
        "attached_to": ["users/7"], "hidden": False, "created_at": "2026-11-22T02:27:48.729Z",
    }
    assert manifest("default", [row], "2026-11-23T00:00:00.000Z") == {
        "pool": "default", "exported_at": "2026-11-23T00:00:00.000Z", "count": 1,
        "assets": [row]}
