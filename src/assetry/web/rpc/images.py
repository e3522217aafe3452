"""images.*: the original image service's methods, each a call into Assetry's services.

Rows are the original's (domain/rows.py): an image asset is an original row, each of
its versions a row of its own. `converter_id` is a converter's name. The original's
known bugs are fixed, not copied: a gallery holds many images, galleries come back in
the order asked, "original" cannot be deleted as a version, conversions replace the
versions they remake instead of piling up rows, and a refused call changes nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from assetry.domain.converter import override
from assetry.domain.model import Asset, AssetType
from assetry.domain.rows import (
    CONVERTER_COLUMNS,
    CONVERTER_FIELDS,
    DEFAULT_SORT,
    FIELDS,
    ORIGINAL,
    Row,
    RowTable,
    converter_row,
    gallery_json,
    image_row,
    image_rows,
    matches,
    page_json,
    parse_columns,
    parse_list,
    parse_uuid,
    project,
    sort_in_memory,
)
from assetry.errors import (
    AssetNotFound,
    ConverterNotFound,
    Hidden,
    Invalid,
    InvalidConverter,
    NotAnImage,
)
from assetry.services.ingest import Submission
from assetry.web.rpc.context import Context, Method, list_page, metadata_param, method, name_param
from assetry.web.uploads import settled

IMAGE_FIELDS = FIELDS[RowTable.IMAGES]
#: ids in one images.versions.delete
MAX_IDS = 100


async def _image(ctx: Context, raw_id: Any) -> Row:
    """The image row (original or version) with this id. A `file` asset is no image:
    the original kept images and files in separate tables."""
    row = await ctx.locate(raw_id)
    if row.asset.type is not AssetType.IMAGE:
        raise AssetNotFound(f"no image with id {raw_id}")
    return row


def _original(row: Row) -> Asset:
    if row.version is not None:
        raise Invalid(f"{row.id} is the {row.version.name!r} version of image {row.asset.id}, "
                      'not an original (its "version" must be null)', field="id")
    return row.asset


def _rows(rows: list[dict[str, Any]], columns: Any) -> list[dict[str, Any]] | None:
    chosen = parse_columns(columns, IMAGE_FIELDS, optional=True)
    return None if chosen is None else [project(r, chosen) for r in rows]


async def _check_converter(ctx: Context, name: str, settings: Any) -> None:
    """Refuse an unknown converter or bad per-call settings before anything is stored."""
    try:
        stored = await ctx.services.converters.get(name, ctx.actor)
    except ConverterNotFound:
        raise InvalidConverter(f"no converter named {name!r}", field="converter") from None
    override(stored, settings)


async def _image_from_file(ctx: Context, file_id: Any, converter: Any, settings: Any,
                           metadata: Any, gallery: Any) -> Asset:
    """A new image from the bytes of a stored file (an asset, or a version), in that
    file's pool, through the very same ingest as an upload. The file stays as it is."""
    services, actor = ctx.services, ctx.actor
    source = await ctx.locate(file_id, "file_id")
    pool = source.asset.pool
    admission = await services.ingest.admit(pool, actor)
    meta = metadata_param(metadata)
    name = name_param(converter, "converter")
    if settings is not None:
        await _check_converter(
            ctx, name or (await services.pools.get(pool, actor)).converter, settings)
    if source.version is None:
        content = await services.assets.content(source.asset.id, actor)
    else:
        content = await services.versions.content(source.asset.id, source.version.name, actor)
    staged = await services.ingest.stage(services.content.stream(content),
                                         limit=admission.limit)
    asset = await services.ingest.create(admission, staged, Submission(
        filename=content.filename, type=AssetType.IMAGE.value, gallery=gallery,
        converter=name, metadata=meta), actor)
    if settings is not None:
        asset = await services.versions.convert(asset.id, name, settings, actor)
    return asset


async def convert_from_file(ctx: Context, *, file_id: Any, converter_id: Any = None,
                            converter_settings: Any = None, metadata: Any = None,
                            correlation_id: Any = None, columns: Any = "*") -> Any:
    """A new image from a stored file, its versions rendered: [original, *versions].
    Without `correlation_id` the new image is a gallery of its own, whose id is the
    image's id; with one it joins that gallery."""
    parse_columns(columns, IMAGE_FIELDS, optional=True)
    asset = await _image_from_file(ctx, file_id, converter_id, converter_settings, metadata,
                                   correlation_id)
    asset = await settled(ctx.services, asset, ctx.actor, True)
    return _rows(image_rows(asset, ctx.uri), columns)


async def convert_image(ctx: Context, *, id: Any, converter_id: Any = None,
                        converter_settings: Any = None, metadata: Any = None,
                        columns: Any = "*") -> Any:
    """Remake an original's versions with a converter (default: the one it has), the
    new versions rendered: [original, *new versions]. Versions of the same names are
    replaced, others kept. `metadata` replaces the original's metadata first (so a
    focal point in it applies to the new versions)."""
    parse_columns(columns, IMAGE_FIELDS, optional=True)
    row = await ctx.locate(id)
    if row.asset.type is not AssetType.IMAGE:
        # As POST /api/assets/{id}/convert answers: the asset exists, it has no versions.
        raise NotAnImage("only images have versions; this asset is a file")
    asset = _original(row)
    name = name_param(converter_id, "converter")
    meta = metadata_param(metadata)
    await ctx.services.assets.check_change(asset.id, ctx.actor)
    await _check_converter(ctx, name or asset.converter or "default", converter_settings)
    before = {v.id for v in asset.versions}
    if meta is not None:
        await ctx.services.assets.patch(asset.id, {"metadata": meta}, ctx.actor)
    asset = await ctx.services.versions.convert(asset.id, name, converter_settings, ctx.actor)
    asset = await settled(ctx.services, asset, ctx.actor, True)
    made = [v for v in asset.versions if v.id not in before]
    return _rows(image_rows(asset, ctx.uri, made), columns)


async def gallery(ctx: Context, *, id: Any) -> Any:
    """The galleries of one id or a list of ids, in the order asked; unknown ones are
    left out. Each: {id, versions (the newest image, as the original answered), images
    (every image, oldest first)}."""
    ids = [id] if isinstance(id, str) else id
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise Invalid("must be a gallery (correlation) id or a list of them", field="id")
    found = await ctx.services.galleries.many(ids, ctx.actor)
    return [gallery_json(g, ctx.uri) for g in found]


async def delete_versions(ctx: Context, *, id: Any, versions: Any, columns: Any = "*") -> Any:
    """Delete the named versions of one original or a list of them (names an image does
    not have are skipped); return the deleted rows. The original is not a version: null
    and "original" are refused (images.delete removes a whole image). Every image is
    checked before any version goes, so a refusal changes nothing."""
    chosen = parse_columns(columns, IMAGE_FIELDS, optional=True)
    raw_ids = id if isinstance(id, list) else [id]
    if not 1 <= len(raw_ids) <= MAX_IDS:
        raise Invalid(f"must be an image id or a list of 1 to {MAX_IDS} of them", field="id")
    ids = [parse_uuid(v, f"id[{i}]" if isinstance(id, list) else "id")
           for i, v in enumerate(raw_ids)]
    names = [versions] if isinstance(versions, str) or versions is None else versions
    if not isinstance(names, list) or not names:
        raise Invalid("must be a version name or a non-empty list of them", field="versions")
    for name in names:
        if name is None or name == ORIGINAL:
            raise Invalid("Deleting image originals is prohibited: the original is not a "
                          "version; use images.delete to remove the whole image",
                          field="versions")
        if not isinstance(name, str):
            raise Invalid("must be version names", field="versions")
    images = [await ctx.services.assets.check_change(i, ctx.actor) for i in dict.fromkeys(ids)]
    deleted = []
    for image in images:
        for name in dict.fromkeys(names):
            version = image.version(name)
            if version is not None:
                await ctx.services.versions.delete(image.id, name, ctx.actor)
                deleted.append(image_row(Row(image, version), ctx.uri))
    return None if chosen is None else [project(r, chosen) for r in deleted]


async def get(ctx: Context, *, id: Any, columns: Any = "*") -> Any:
    chosen = parse_columns(columns, IMAGE_FIELDS)
    assert chosen is not None
    return project(image_row(await _image(ctx, id), ctx.uri), chosen)


async def exists(ctx: Context, *, id: Any) -> bool:
    """Whether the caller can see an image row with this id (a hidden one counts as
    absent below moderator); missing credentials for a non-public pool are an error."""
    try:
        await _image(ctx, id)
    except (AssetNotFound, Hidden):
        return False
    return True


async def list_(ctx: Context, *, conditions: Any = None, sort: Any = None, offset: Any = 0,
                limit: Any = 24, count: Any = True, columns: Any = "*") -> Any:
    """Image rows (originals and versions) of every pool the caller may read."""
    return await list_page(ctx, RowTable.IMAGES, partial(image_row, uri=ctx.uri), {
        "conditions": conditions, "sort": sort, "offset": offset, "limit": limit,
        "count": count, "columns": columns})


def _data(raw: Any, allowed: set[str], fixed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise Invalid("must be an object", field="data")
    for key in raw:
        if key in fixed:
            raise Invalid(f"{key} cannot be set here", field=f"data.{key}")
        if key not in allowed:
            raise Invalid(f"unknown field; allowed: {', '.join(sorted(allowed))}",
                          field=f"data.{key}")
    if "meta" in raw and "metadata" in raw:
        raise Invalid('give "metadata" or its alias "meta", not both', field="data.meta")
    data = dict(raw)
    if "meta" in data:
        data["metadata"] = data.pop("meta")
    return data


async def create(ctx: Context, *, data: Any, columns: Any = "*") -> Any:
    """An original image from a stored file: data {file_id, correlation_id?, metadata?}.
    Its versions are made by its pool's converter in the background. Versions cannot
    be created: converters make them (images.convert_from_file, images.convert_image)."""
    parse_columns(columns, IMAGE_FIELDS, optional=True)
    fields = _data(data, {"file_id", "correlation_id", "metadata", "meta", "version",
                          "original_id"}, {"id", "timestamp", "file"})
    for made_by_converters in ("version", "original_id"):
        if fields.get(made_by_converters) is not None:
            raise Invalid("versions are made by converters: use images.convert_from_file "
                          "or images.convert_image", field=f"data.{made_by_converters}")
    if "file_id" not in fields:
        raise Invalid("required", field="data.file_id")
    asset = await _image_from_file(ctx, fields["file_id"], None, None, fields.get("metadata"),
                                   fields.get("correlation_id"))
    rows = _rows([image_row(Row(asset), ctx.uri)], columns)
    return None if rows is None else rows[0]


async def update(ctx: Context, *, id: Any, data: Any, columns: Any = "*") -> Any:
    """Change an original's metadata or correlation_id (null: its own gallery again).
    A version row has nothing of its own to change."""
    parse_columns(columns, IMAGE_FIELDS, optional=True)
    fields = _data(data, {"metadata", "meta", "correlation_id"},
                   {"id", "version", "original_id", "file_id", "timestamp", "file"})
    if not fields:
        raise Invalid("nothing to change: give metadata or correlation_id", field="data")
    asset = _original(await _image(ctx, id))
    patch: dict[str, Any] = {}
    if "metadata" in fields:
        patch["metadata"] = metadata_param(fields["metadata"])
    if "correlation_id" in fields:
        patch["gallery"] = fields["correlation_id"]
    asset = await ctx.services.assets.patch(asset.id, patch, ctx.actor)
    rows = _rows([image_row(Row(asset), ctx.uri)], columns)
    return None if rows is None else rows[0]


async def delete(ctx: Context, *, id: Any, columns: Any = None) -> Any:
    """Delete an original (with its versions and bytes) or one version by its row id.
    Like the original, returns the row only when `columns` asks for it."""
    chosen = parse_columns(columns, IMAGE_FIELDS, optional=True)
    row = await _image(ctx, id)
    out = image_row(row, ctx.uri)
    await ctx.delete(row)
    return None if chosen is None else project(out, chosen)


async def list_converters(ctx: Context, *, conditions: Any = None, sort: Any = None,
                          offset: Any = 0, limit: Any = 24, count: Any = True,
                          columns: Any = "*") -> Any:
    """The converters as the original's converter records, in its page shape."""
    query = parse_list(CONVERTER_COLUMNS, DEFAULT_SORT[None], conditions=conditions, sort=sort,
                       offset=offset, limit=limit, count=count)
    chosen = parse_columns(columns, CONVERTER_FIELDS, optional=True)
    every = [converter_row(c) for c in await ctx.services.converters.list(ctx.actor)]
    kept = sort_in_memory([r for r in every if matches(query.where, r)], query.sort)
    data = None
    if chosen is not None and query.limit:
        data = [project(r, chosen) for r in kept[query.offset:query.offset + query.limit]]
    return page_json(len(kept) if query.count else None, query, data)


#: the field names domain errors use, as these methods' params
_CONVERT = {"gallery": "correlation_id", "converter": "converter_id",
            "settings": "converter_settings", "versions": "converter_settings.versions",
            "file": "file_id"}
_DATA = {"gallery": "data.correlation_id", "metadata": "data.metadata", "file": "data.file_id",
         "file_id": "data.file_id"}

METHODS: dict[str, Method] = {
    "images.convert_from_file": method(convert_from_file, **_CONVERT),
    "images.convert_image": method(convert_image, **_CONVERT),
    "images.convert": method(convert_image, **_CONVERT),  # the original's route name
    "images.gallery": method(gallery),
    "images.versions.delete": method(delete_versions),
    "images.get": method(get),
    "images.exists": method(exists),
    "images.list": method(list_),
    "images.create": method(create, **_DATA),
    "images.update": method(update, **_DATA),
    "images.delete": method(delete),
    "images.converters.list": method(list_converters),
}
