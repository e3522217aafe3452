"""The original image service's tables as views of Assetry's assets: rows, list queries
(conditions, sort, paging), pages and galleries in the original's shapes.

The original (kaiju-images) kept one `images` table with a row per image *version*:
the original has `version` null, every derived version is a row of its own pointing at
it through `original_id`, and `correlation_id` groups rows into a gallery. Here:

- an asset of type image is an original row: id = the asset's id, version null,
  original_id null, correlation_id = its gallery, file_id = its own id;
- each of its Versions is a row: id = the version's id, version = its name,
  original_id = the asset's id, the asset's correlation_id, file_id = the version's id;
- every asset (image or file) and every version is also a row of `files`: the bytes
  that `file_id` names.

Pure: rows are built from Asset and Version values and a `uri` function the caller
supplies (URLs and their signatures are the web edge's business). Datetimes and UUIDs
stay Python values; the edge encodes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any
from uuid import UUID

from assetry.domain.converter import Converter
from assetry.domain.media import FORMAT_MIME
from assetry.domain.model import Asset, Gallery, Version
from assetry.errors import Invalid

DEFAULT_LIMIT = 24  #: the original's page size when none is given
MAX_LIMIT = 1000  #: the original clamps larger limits to this
MAX_TERMS = 500  #: comparisons and listed values in one `conditions`, in all
MAX_DEPTH = 8  #: nesting of AND (objects) and OR (arrays) in `conditions`
MAX_SORT = 8  #: sort keys in one `sort`

#: the key the original uses for the original itself among a gallery's versions
ORIGINAL = "original"


class Kind(Enum):
    """What a column holds, which decides the values and operators it accepts."""

    UUID = "uuid"
    TEXT = "text"
    TIME = "time"


class RowTable(StrEnum):
    IMAGES = "images"  #: image originals and their versions
    FILES = "files"  #: every asset and every version: the stored bytes


#: the columns `conditions` and `sort` may name, per table
COLUMNS: dict[RowTable, dict[str, Kind]] = {
    RowTable.IMAGES: {"id": Kind.UUID, "version": Kind.TEXT, "correlation_id": Kind.TEXT,
                      "original_id": Kind.UUID, "file_id": Kind.UUID, "timestamp": Kind.TIME},
    RowTable.FILES: {"id": Kind.UUID, "hash": Kind.TEXT, "timestamp": Kind.TIME},
}

#: the keys of a row, per table (what `columns` may select)
FIELDS: dict[RowTable, tuple[str, ...]] = {
    RowTable.IMAGES: ("id", "version", "correlation_id", "original_id", "file_id", "metadata",
                      "timestamp", "file"),
    RowTable.FILES: ("id", "hash", "name", "extension", "timestamp", "meta", "uri"),
}

#: the columns of the converters listing (evaluated in memory: there are few converters)
CONVERTER_COLUMNS: dict[str, Kind] = {"id": Kind.TEXT, "name": Kind.TEXT, "cls": Kind.TEXT}
CONVERTER_FIELDS = ("id", "cls", "name", "settings")
#: the original's converter class for images; Assetry has one kind of converter
CONVERTER_CLASS = "ImageConverter"

_OPERATORS = {
    Kind.UUID: frozenset({"eq", "not"}),
    Kind.TEXT: frozenset({"eq", "not", "like"}),
    Kind.TIME: frozenset({"eq", "not", "gt", "lt", "ge", "le"}),
}


# -- rows ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the original's tables: an asset (an original) or one of its versions."""

    asset: Asset
    version: Version | None = None

    @property
    def id(self) -> UUID:
        return self.version.id if self.version is not None else self.asset.id


@dataclass(frozen=True, slots=True)
class RowPage:
    """One page of rows, and the number of rows matching in all (None: not counted)."""

    rows: tuple[Row, ...]
    count: int | None


Uri = Callable[[Row], str]


def _split(filename: str) -> tuple[str, str]:
    stem, dot, ext = filename.rpartition(".")
    return (stem, ext) if dot and stem else (filename, "")


#: a version's MIME type -> its format name (as converters name it)
_FORMATS = {mime: fmt for fmt, mime in FORMAT_MIME.items()}


def _extension(fmt: str | None) -> str | None:
    return None if fmt is None else ("jpg" if fmt == "jpeg" else fmt)


def file_row(row: Row, uri: Uri) -> dict[str, Any]:
    """The original's `files` row: `hash` is the SHA-256 of the bytes (null until a
    version is rendered), `meta.file_size` their length, `uri` a working URL of them."""
    asset, version = row.asset, row.version
    if version is None:
        name, ext = _split(asset.filename)
        return {"id": asset.id, "hash": asset.sha256, "name": name, "extension": ext,
                "timestamp": asset.created_at, "uri": uri(row),
                "meta": {"file_size": asset.size, "mime_type": asset.mime_type}}
    stem = _split(asset.filename)[0] or "image"
    return {"id": version.id, "hash": version.sha256, "name": f"{stem}-{version.name}",
            "extension": _extension(_FORMATS.get(version.mime_type or "")) or "",
            "timestamp": version.created_at, "uri": uri(row),
            "meta": {"file_size": version.size, "mime_type": version.mime_type}}


def image_row(row: Row, uri: Uri) -> dict[str, Any]:
    """The original's `images` row, with its `file` row attached (as its gallery did).

    An original's `metadata` is the asset's; a version's is the asset's merged with what
    the original put there about the conversion (version, format, output_extension,
    size [w, h], file_size), plus Assetry's `status` (pending, ready, failed) and the
    `error` of a failed render."""
    asset, version = row.asset, row.version
    if version is None:
        return {"id": asset.id, "version": None, "correlation_id": asset.gallery,
                "original_id": None, "file_id": asset.id, "metadata": dict(asset.metadata),
                "timestamp": asset.created_at, "file": file_row(row, uri)}
    fmt = _FORMATS.get(version.mime_type or "")
    facts = {
        "version": version.name,
        "format": fmt,
        "output_extension": _extension(fmt),
        "size": None if version.width is None else [version.width, version.height],
        "file_size": version.size,
        "status": version.status.value,
    }
    if version.error is not None:
        facts["error"] = version.error
    return {"id": version.id, "version": version.name, "correlation_id": asset.gallery,
            "original_id": asset.id, "file_id": version.id,
            "metadata": {**asset.metadata, **facts}, "timestamp": version.created_at,
            "file": file_row(row, uri)}


def image_rows(asset: Asset, uri: Uri, versions: Sequence[Version] | None = None
               ) -> list[dict[str, Any]]:
    """`[original, *versions]`, what the original's conversions return (every version of
    the asset unless `versions` names some)."""
    chosen = asset.versions if versions is None else versions
    return [image_row(Row(asset), uri), *(image_row(Row(asset, v), uri) for v in chosen)]


def gallery_json(gallery: Gallery, uri: Uri) -> dict[str, Any]:
    """A gallery in the original's shape, fixed to hold many images.

    `versions` is what the original answered: {"original": row, name: row, ...} of one
    image, here the newest (the original mixed rows of different images, newest per
    version name). `images` holds every image, oldest first, as
    {"original": row, "versions": {name: row}}; a converter version that is itself named
    "original" is found there, never in place of the real original."""
    images = [
        {ORIGINAL: image_row(Row(a), uri),
         "versions": {v.name: image_row(Row(a, v), uri) for v in a.versions}}
        for a in gallery.images
    ]
    newest = images[-1]
    versions = {k: v for k, v in newest["versions"].items() if k != ORIGINAL}
    return {"id": gallery.id, "versions": {ORIGINAL: newest[ORIGINAL], **versions},
            "images": images}


def converter_row(converter: Converter) -> dict[str, Any]:
    """A converter as the original's converter record: it is named, so `id` is its name."""
    return {"id": converter.name, "cls": CONVERTER_CLASS, "name": converter.name,
            "settings": {"versions": [v.to_json() for v in converter.versions]}}


# -- columns ---------------------------------------------------------------------------


def parse_columns(raw: Any, fields: Sequence[str], *, optional: bool = False
                  ) -> tuple[str, ...] | None:
    """`columns`: "*" (every field), one name, or a list of names; None (only where
    `optional`) asks for no data. Raises Invalid (field columns)."""
    if raw is None:
        if optional:
            return None
        raise Invalid("columns may not be null here", field="columns")
    if raw == "*":
        return tuple(fields)
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise Invalid('must be "*", a field name or a list of them', field="columns")
    unknown = [n for n in names if n not in fields]
    if unknown:
        raise Invalid(f"Requested field doesn't exist: {unknown}; fields: {', '.join(fields)}",
                      field="columns")
    return tuple(dict.fromkeys(names))


def project(row: Mapping[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    return {c: row[c] for c in columns}


# -- conditions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """`column op value`. `eq` and `not` take one value (None: IS NULL / IS NOT NULL);
    `in` and `not_in` a tuple (which may hold None); `not` and `not_in` keep rows whose
    column is null (unlike SQL's `NOT (col = v)`)."""

    column: str
    op: str  #: eq, not, in, not_in, gt, lt, ge, le, like
    value: Any


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every item holds (a JSON object of conditions). Empty: always true."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Some item holds (a JSON array of conditions). Empty: never true."""

    items: tuple[Condition, ...]


Condition = Compare | AllOf | AnyOf


@dataclass(frozen=True, slots=True)
class SortKey:
    column: str
    descending: bool = False
    nulls_first: bool = False  #: the original sorts NULLS LAST; only the default differs


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a `list` call asks: which rows, in which order, which page. `limit` 0 asks
    only for the count."""

    where: Condition | None = None
    sort: tuple[SortKey, ...] = (SortKey("id"),)
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    count: bool = True


#: the order of a listing that names none: images newest first, each original before
#: its versions (by name); files newest first; converters by name
DEFAULT_SORT: dict[RowTable | None, tuple[SortKey, ...]] = {
    RowTable.IMAGES: (SortKey("timestamp", descending=True),
                      SortKey("original_id", nulls_first=True), SortKey("version"),
                      SortKey("id")),
    RowTable.FILES: (SortKey("timestamp", descending=True), SortKey("id")),
    None: (SortKey("name"), SortKey("id")),
}


def _value(raw: Any, kind: Kind, path: str, *, nullable: bool) -> Any:
    if raw is None:
        if nullable:
            return None
        raise Invalid("may not be null with this operator", field=path)
    if kind is Kind.TIME:
        return parse_timestamp(raw, path)
    if not isinstance(raw, str):
        raise Invalid("must be a UUID string" if kind is Kind.UUID else "must be a string",
                      field=path)
    if kind is Kind.UUID:
        return parse_uuid(raw, path)
    return raw


def parse_uuid(raw: Any, path: str) -> UUID:
    """A UUID given as a string (JSON has no other way). Raises Invalid."""
    if isinstance(raw, str):
        try:
            return UUID(raw)
        except ValueError:
            pass
    raise Invalid(f"{raw!r} is not a UUID", field=path)


def parse_timestamp(raw: Any, path: str) -> datetime:
    """An ISO 8601 date-time; one without an offset is UTC (the original stored UTC
    without a zone). Raises Invalid."""
    if not isinstance(raw, str):
        raise Invalid("must be an ISO 8601 date-time string", field=path)
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise Invalid(f"{raw!r} is not an ISO 8601 date-time", field=path) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_TERMS

    def spend(self, n: int, path: str) -> None:
        self.left -= n
        if self.left < 0:
            raise Invalid(f"at most {MAX_TERMS} comparisons and values in all", field=path)


def _compare(column: str, raw: Any, kind: Kind, path: str, budget: _Budget) -> Condition:
    if isinstance(raw, list):
        budget.spend(len(raw) or 1, path)
        return Compare(column, "in", tuple(
            _value(v, kind, f"{path}[{i}]", nullable=True) for i, v in enumerate(raw)))
    if not isinstance(raw, dict):
        budget.spend(1, path)
        return Compare(column, "eq", _value(raw, kind, path, nullable=True))
    if not raw:
        raise Invalid("an operator object needs at least one operator", field=path)
    parts: list[Condition] = []
    for op_raw, value in raw.items():
        op = op_raw.lower()
        at = f"{path}.{op_raw}"
        if op == "~":
            raise Invalid('the "~" (regular expression) operator is not supported; use "like"',
                          field=at)
        if op not in _OPERATORS[kind]:
            raise Invalid(f"operator {op_raw!r} does not apply to {column}; use one of "
                          f"{', '.join(sorted(_OPERATORS[kind]))}", field=at)
        if op == "not" and isinstance(value, list):
            budget.spend(len(value) or 1, at)
            parts.append(Compare(column, "not_in", tuple(
                _value(v, kind, f"{at}[{i}]", nullable=True) for i, v in enumerate(value))))
            continue
        budget.spend(1, at)
        parts.append(Compare(column, op, _value(value, kind, at, nullable=op in ("eq", "not"))))
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _condition(raw: Any, columns: Mapping[str, Kind], path: str, depth: int,
               budget: _Budget) -> Condition:
    if depth > MAX_DEPTH:
        raise Invalid(f"nested deeper than {MAX_DEPTH} levels", field=path)
    if isinstance(raw, dict):
        parts = []
        for key, value in raw.items():
            kind = columns.get(key)
            if kind is None:
                raise Invalid(f"unknown column {key!r}; conditions may name "
                              f"{', '.join(columns)}", field=f"{path}.{key}")
            parts.append(_compare(key, value, kind, f"{path}.{key}", budget))
        return AllOf(tuple(parts))
    if isinstance(raw, list):
        budget.spend(1, path)
        return AnyOf(tuple(_condition(item, columns, f"{path}[{i}]", depth + 1, budget)
                           for i, item in enumerate(raw)))
    raise Invalid("must be an object (AND) or an array (OR) of conditions", field=path)


def parse_conditions(raw: Any, columns: Mapping[str, Kind]) -> Condition | None:
    """The original's `conditions`: an object ANDs its keys, an array ORs its items; a
    scalar value means equality (null: IS NULL), an array means IN, an object holds
    operators (eq, not, gt, lt, ge, le, like; which apply depends on the column). None,
    {} and [] mean no condition. Raises Invalid naming the path at fault."""
    if raw is None or raw == {} or raw == []:
        return None
    return _condition(raw, columns, "conditions", 1, _Budget())


def parse_sort(raw: Any, columns: Mapping[str, Kind], default: tuple[SortKey, ...]
               ) -> tuple[SortKey, ...]:
    """`sort`: a column name (ascending), {"desc": name} or {"asc": name}, or a list of
    those; nulls always last. The id ends every order, so pages never overlap.
    None: `default`. Raises Invalid."""
    if raw is None:
        return default
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_SORT:
        raise Invalid(f"must name 1 to {MAX_SORT} columns", field="sort")
    keys: list[SortKey] = []
    for i, item in enumerate(items):
        at = f"sort[{i}]" if isinstance(raw, list) else "sort"
        if isinstance(item, dict) and len(item) == 1:
            direction, name = next(iter(item.items()))
            if direction.lower() not in ("asc", "desc"):
                raise Invalid('the direction must be "asc" or "desc"', field=at)
            descending = direction.lower() == "desc"
        else:
            name, descending = item, False
        if not isinstance(name, str) or name not in columns:
            raise Invalid(f"can sort by {', '.join(columns)}", field=at)
        keys.append(SortKey(name, descending=descending))
    if not any(k.column == "id" for k in keys):
        keys.append(SortKey("id"))
    return tuple(keys)


def _integer(raw: Any, field: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise Invalid("must be an integer", field=field)
    return raw


def parse_list(columns: Mapping[str, Kind], default_sort: tuple[SortKey, ...], *,
               conditions: Any = None, sort: Any = None, offset: Any = 0,
               limit: Any = DEFAULT_LIMIT, count: Any = True) -> ListQuery:
    """A list call's params as a ListQuery over `columns`. Like the original, a negative
    offset counts as 0 and a limit outside 1..1000 is clamped, except that 0 asks only
    for the count. Raises Invalid naming the param."""
    if not isinstance(count, bool):
        raise Invalid("must be true or false", field="count")
    lim = DEFAULT_LIMIT if limit is None else _integer(limit, "limit")
    return ListQuery(
        where=parse_conditions(conditions, columns),
        sort=parse_sort(sort, columns, default_sort),
        offset=max(0, _integer(0 if offset is None else offset, "offset")),
        limit=0 if lim == 0 else min(max(1, lim), MAX_LIMIT),
        count=count,
    )


def page_json(count: int | None, query: ListQuery, data: list[dict[str, Any]] | None
              ) -> dict[str, Any]:
    """The original's page: {count, offset, page, pages, on_page, data}. `page` is the
    1-based page `offset` falls in and `pages` the number of `limit`-sized pages (the
    original's arithmetic was off by one in places); both null when not counted or with
    limit 0. `data` null when no rows were asked for."""
    limit = query.limit
    numbered = count is not None and limit > 0
    return {
        "count": count,
        "offset": query.offset,
        "page": query.offset // limit + 1 if numbered else None,
        "pages": max(1, math.ceil(count / limit)) if numbered and count is not None else None,
        "on_page": 0 if data is None else len(data),
        "data": data,
    }


# -- evaluating conditions in memory (the converters listing) ---------------------------


def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regular expression: % any run, _ one character, backslash escapes."""
    out, chars = [], iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.S)


def matches(condition: Condition | None, values: Mapping[str, Any]) -> bool:
    """Whether a row with these column values passes `condition` (null-safe like the SQL
    the repository builds)."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(matches(c, values) for c in condition.items)
    if isinstance(condition, AnyOf):
        return any(matches(c, values) for c in condition.items)
    have, op, want = values.get(condition.column), condition.op, condition.value
    if op == "eq":
        return bool(have == want)
    if op == "not":
        return bool(have != want)
    if op == "in":
        return have in want
    if op == "not_in":
        return have not in want
    if have is None:
        return False
    if op == "like":
        return like_regex(want).fullmatch(have) is not None
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "gt": lambda a, b: a > b, "lt": lambda a, b: a < b,
        "ge": lambda a, b: a >= b, "le": lambda a, b: a <= b}
    return compare[op](have, want)


def sort_in_memory(rows: list[dict[str, Any]], keys: Sequence[SortKey]) -> list[dict[str, Any]]:
    """`rows` ordered by `keys` (nulls last), the last key applied first (a stable sort)."""
    for key in reversed(keys):
        present = [r for r in rows if r.get(key.column) is not None]
        absent = [r for r in rows if r.get(key.column) is None]
        present.sort(key=lambda r, k=key.column: r[k], reverse=key.descending)  # type: ignore[misc]
        rows = present + absent
    return rows
