"""The original image service's rows: their shapes, `list` params (conditions, sort,
paging, columns) and their in-memory evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from assetry.domain.converter import DEFAULT_CONVERTER, VersionSpec
from assetry.domain.model import Asset, AssetType, Gallery, Version, VersionStatus
from assetry.domain.rows import (
    COLUMNS,
    CONVERTER_COLUMNS,
    DEFAULT_SORT,
    FIELDS,
    MAX_DEPTH,
    MAX_TERMS,
    AllOf,
    AnyOf,
    Compare,
    ListQuery,
    Row,
    RowTable,
    SortKey,
    converter_row,
    file_row,
    gallery_json,
    image_row,
    image_rows,
    like_regex,
    matches,
    page_json,
    parse_columns,
    parse_conditions,
    parse_list,
    parse_sort,
    parse_timestamp,
    sort_in_memory,
)
from assetry.errors import Invalid

T0 = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
IMAGES = COLUMNS[RowTable.IMAGES]
A = UUID("00000000-0000-4000-8000-00000000000a")
V = UUID("00000000-0000-4000-8000-00000000000b")


def version(asset_id: UUID, name: str = "thumbnail", **kw: Any) -> Version:
    fields: dict[str, Any] = {
        "id": V, "asset_id": asset_id, "name": name,
        "spec": VersionSpec(name=name, width=100, height=100), "status": VersionStatus.READY,
        "created_at": T0 + timedelta(seconds=1), "width": 100, "height": 80,
        "mime_type": "image/jpeg", "size": 1234, "sha256": "f" * 64} | kw
    return Version(**fields)


def asset(**kw: Any) -> Asset:
    fields: dict[str, Any] = {
        "id": A, "pool": "default", "type": AssetType.IMAGE, "filename": "python.jpg",
        "mime_type": "image/jpeg", "size": 159041, "sha256": "e" * 64, "blob_key": "k",
        "gallery": "trip", "converter": "default", "created_at": T0, "modified_at": T0,
        "width": 800, "height": 563, "metadata": {"test": True}} | kw
    a = Asset(**fields)
    return a if "versions" in kw else Asset(**{**fields, "versions": (version(a.id),)})


def uri(row: Row) -> str:
    return f"uri:{row.id}"


def test_an_original_row() -> None:
    a = asset()
    assert image_row(Row(a), uri) == {
        "id": A, "version": None, "correlation_id": "trip", "original_id": None, "file_id": A,
        "metadata": {"test": True}, "timestamp": T0,
        "file": {"id": A, "hash": "e" * 64, "name": "python", "extension": "jpg",
                 "timestamp": T0, "uri": f"uri:{A}",
                 "meta": {"file_size": 159041, "mime_type": "image/jpeg"}},
    }


def test_a_version_row_has_its_own_id_and_the_originals_metadata_with_its_facts() -> None:
    a = asset()
    row = image_row(Row(a, a.versions[0]), uri)
    assert row == {
        "id": V, "version": "thumbnail", "correlation_id": "trip", "original_id": A,
        "file_id": V, "timestamp": T0 + timedelta(seconds=1),
        "metadata": {"test": True, "version": "thumbnail", "format": "jpeg",
                     "output_extension": "jpg", "size": [100, 80], "file_size": 1234,
                     "status": "ready"},
        "file": {"id": V, "hash": "f" * 64, "name": "python-thumbnail", "extension": "jpg",
                 "timestamp": T0 + timedelta(seconds=1), "uri": f"uri:{V}",
                 "meta": {"file_size": 1234, "mime_type": "image/jpeg"}},
    }
    assert list(row) == list(FIELDS[RowTable.IMAGES])


def test_a_pending_or_failed_version_row_says_so() -> None:
    pending = version(A, width=None, height=None, mime_type=None, size=None, sha256=None,
                      status=VersionStatus.PENDING)
    failed = version(A, status=VersionStatus.FAILED, error="broken", width=None, height=None,
                     mime_type=None, size=None, sha256=None)
    a = asset(versions=(pending,))
    meta = image_row(Row(a, pending), uri)["metadata"]
    assert (meta["status"], meta["size"], meta["format"], meta["file_size"]) == (
        "pending", None, None, None)
    assert "error" not in meta
    assert image_row(Row(a, failed), uri)["metadata"]["error"] == "broken"
    assert file_row(Row(a, pending), uri)["hash"] is None
    assert file_row(Row(a, pending), uri)["extension"] == ""


def test_a_file_without_an_extension() -> None:
    row = file_row(Row(asset(filename="README", versions=())), uri)
    assert (row["name"], row["extension"]) == ("README", "")
    row = file_row(Row(asset(filename=".profile", versions=())), uri)
    assert (row["name"], row["extension"]) == (".profile", "")


def test_image_rows_is_the_original_then_its_versions() -> None:
    a = asset()
    assert [r["id"] for r in image_rows(a, uri)] == [A, V]
    assert [r["id"] for r in image_rows(a, uri, [])] == [A]


def test_a_gallery_holds_every_image_and_the_real_original_wins_the_original_key() -> None:
    older = asset(id=uuid4(), versions=())
    newer_id = uuid4()
    clash = version(newer_id, name="original", id=uuid4())
    thumb = version(newer_id, name="thumbnail", id=uuid4())
    newer = asset(id=newer_id, versions=(clash, thumb))
    g = gallery_json(Gallery(id="trip", images=(older, newer)), uri)
    assert g["id"] == "trip"
    assert [i["original"]["id"] for i in g["images"]] == [older.id, newer.id]
    assert g["versions"]["original"]["id"] == newer.id
    assert g["versions"]["original"]["version"] is None
    assert set(g["versions"]) == {"original", "thumbnail"}
    assert g["images"][1]["versions"]["original"]["id"] == clash.id


def test_a_converter_row() -> None:
    row = converter_row(DEFAULT_CONVERTER)
    assert row == {"id": "default", "cls": "ImageConverter", "name": "default",
                   "settings": {"versions": [v.to_json() for v in DEFAULT_CONVERTER.versions]}}


# -- conditions ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, {}, []])
def test_no_conditions(raw: Any) -> None:
    assert parse_conditions(raw, IMAGES) is None


def test_a_dict_ands_scalars_lists_and_operators() -> None:
    got = parse_conditions({"version": None, "id": [str(A), str(V)],
                            "timestamp": {"gt": "2026-11-22T00:00:00Z", "le": "2026-11-23"}},
                           IMAGES)
    assert got == AllOf((
        Compare("version", "eq", None),
        Compare("id", "in", (A, V)),
        AllOf((Compare("timestamp", "gt", datetime(2026, 11, 22, tzinfo=UTC)),
               Compare("timestamp", "le", datetime(2026, 11, 23, tzinfo=UTC)))),
    ))


def test_a_list_ors_and_not_takes_a_value_or_a_list() -> None:
    got = parse_conditions([{"version": {"not": "detail"}},
                            {"version": {"NOT": ["a", None]}, "correlation_id": {"like": "t%"}}],
                           IMAGES)
    assert got == AnyOf((
        AllOf((Compare("version", "not", "detail"),)),
        AllOf((Compare("version", "not_in", ("a", None)), Compare("correlation_id", "like", "t%"))),
    ))


@pytest.mark.parametrize(("raw", "field"), [
    ({"colour": "red"}, "conditions.colour"),
    ({"metadata": {"a": 1}}, "conditions.metadata"),
    ({"id": "not-a-uuid"}, "conditions.id"),
    ({"id": 5}, "conditions.id"),
    ({"id": ["x"]}, "conditions.id[0]"),
    ({"version": 5}, "conditions.version"),
    ({"version": {"~": "^a"}}, "conditions.version.~"),
    ({"id": {"like": "a%"}}, "conditions.id.like"),
    ({"version": {"gt": "a"}}, "conditions.version.gt"),
    ({"timestamp": {"gt": None}}, "conditions.timestamp.gt"),
    ({"timestamp": {"gt": "yesterday"}}, "conditions.timestamp.gt"),
    ({"version": {}}, "conditions.version"),
    ([{"version": "a"}, 5], "conditions[1]"),
    ("version", "conditions"),
])
def test_bad_conditions_name_the_path_at_fault(raw: Any, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_conditions(raw, IMAGES)
    assert caught.value.field == field


def test_conditions_are_bounded_in_size_and_depth() -> None:
    parse_conditions({"version": ["v"] * MAX_TERMS}, IMAGES)
    with pytest.raises(Invalid, match="at most"):
        parse_conditions({"version": ["v"] * (MAX_TERMS + 1)}, IMAGES)
    deep: Any = {"version": "v"}
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    parse_conditions(deep, IMAGES)
    with pytest.raises(Invalid, match="deeper"):
        parse_conditions([deep], IMAGES)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-11-22T01:02:03Z", datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)),
    ("2026-11-22T01:02:03", datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)),
    ("2026-11-22T03:02:03+02:00", datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)),
])
def test_timestamps_without_a_zone_are_utc(raw: str, expected: datetime) -> None:
    got = parse_timestamp(raw, "t")
    assert got == expected and got.tzinfo == UTC


# -- sort, paging, columns -------------------------------------------------------------


def test_sort_forms_end_with_the_id() -> None:
    assert parse_sort("version", IMAGES, ()) == (SortKey("version"), SortKey("id"))
    assert parse_sort({"desc": "timestamp"}, IMAGES, ()) == (
        SortKey("timestamp", descending=True), SortKey("id"))
    assert parse_sort(["correlation_id", {"ASC": "id"}], IMAGES, ()) == (
        SortKey("correlation_id"), SortKey("id"))
    assert parse_sort(None, IMAGES, DEFAULT_SORT[RowTable.IMAGES]) == DEFAULT_SORT[RowTable.IMAGES]


@pytest.mark.parametrize("raw", ["colour", {"up": "id"}, {"desc": "id", "asc": "version"}, [],
                                 ["id"] * 9, 5, {"desc": 5}])
def test_bad_sort(raw: Any) -> None:
    with pytest.raises(Invalid) as caught:
        parse_sort(raw, IMAGES, ())
    assert caught.value.field is not None and caught.value.field.startswith("sort")


def test_paging_is_clamped_like_the_originals() -> None:
    q = parse_list(IMAGES, (), offset=-5, limit=5000)
    assert (q.offset, q.limit, q.count) == (0, 1000, True)
    assert parse_list(IMAGES, (), limit=-3).limit == 1
    assert parse_list(IMAGES, (), limit=0).limit == 0
    assert parse_list(IMAGES, (), limit=None, offset=None).limit == 24


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": "10"}, "limit"), ({"limit": True}, "limit"), ({"offset": 1.5}, "offset"),
    ({"count": "yes"}, "count"), ({"count": None}, "count"),
])
def test_bad_paging(params: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_list(IMAGES, (), **params)
    assert caught.value.field == field


@pytest.mark.parametrize(("count", "offset", "limit", "page", "pages"), [
    (50, 0, 24, 1, 3),
    (48, 24, 24, 2, 2),  # the original answered page 1 here
    (48, 47, 24, 2, 2),
    (0, 0, 24, 1, 1),
    (5, 10, 24, 1, 1),
    (None, 0, 24, None, None),
    (10, 0, 0, None, None),
])
def test_page_arithmetic(count: int | None, offset: int, limit: int, page: int | None,
                         pages: int | None) -> None:
    got = page_json(count, ListQuery(offset=offset, limit=limit), [{"a": 1}])
    assert got == {"count": count, "offset": offset, "page": page, "pages": pages,
                   "on_page": 1, "data": [{"a": 1}]}
    assert page_json(count, ListQuery(offset=offset, limit=limit), None)["on_page"] == 0


def test_columns() -> None:
    fields = FIELDS[RowTable.IMAGES]
    assert parse_columns("*", fields) == fields
    assert parse_columns("id", fields) == ("id",)
    assert parse_columns(["file", "id", "file"], fields) == ("file", "id")
    assert parse_columns(None, fields, optional=True) is None
    for bad in (None, "colour", ["id", 5], [], 5):
        with pytest.raises(Invalid) as caught:
            parse_columns(bad, fields)
        assert caught.value.field == "columns"


# -- in memory -------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "text", "hit"), [
    ("de%", "default", True), ("De%", "default", False), ("d_fault", "default", True),
    ("%ult", "default", True), ("a.c", "abc", False), (r"100\%", "100%", True),
    (r"100\%", "1000", False), ("x_y", "x\ny", True),
])
def test_like(pattern: str, text: str, hit: bool) -> None:
    assert (like_regex(pattern).fullmatch(text) is not None) is hit


def test_matches_is_null_safe() -> None:
    cols = CONVERTER_COLUMNS
    row = {"id": "default", "name": "default", "cls": "ImageConverter"}
    assert matches(parse_conditions({"name": "default"}, cols), row)
    assert matches(parse_conditions([{"name": "x"}, {"cls": ["ImageConverter"]}], cols), row)
    assert not matches(parse_conditions({"name": {"not": "default"}}, cols), row)
    assert matches(parse_conditions({"name": {"not": "x"}}, cols), {"name": None})
    assert matches(parse_conditions({"name": [None]}, cols), {"name": None})
    assert not matches(parse_conditions({"name": {"like": "%"}}, cols), {"name": None})
    assert matches(None, row)
    assert not matches(AnyOf(()), row) and matches(AllOf(()), row)


def test_in_memory_time_comparisons() -> None:
    cols = {"t": COLUMNS[RowTable.FILES]["timestamp"]}
    row = {"t": T0}
    assert matches(parse_conditions({"t": {"ge": "2026-11-22T01:02:03Z"}}, cols), row)
    assert not matches(parse_conditions({"t": {"lt": "2026-11-22T03:02:03+02:00"}}, cols), row)
    assert matches(parse_conditions({"t": {"lt": "2026-11-22T03:02:04+02:00"}}, cols), row)
    assert not matches(parse_conditions({"t": {"gt": "2000-01-01"}}, cols), {"t": None})


def test_sort_in_memory_puts_nulls_last_both_ways() -> None:
    rows = [{"n": "b"}, {"n": None}, {"n": "a"}, {"n": "c"}]
    assert [r["n"] for r in sort_in_memory(rows, [SortKey("n")])] == ["a", "b", "c", None]
    assert [r["n"] for r in sort_in_memory(rows, [SortKey("n", descending=True)])] == [
        "c", "b", "a", None]
