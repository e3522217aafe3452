"""files.*: the original file service's reads and delete, over Assetry's assets.

A file is the stored bytes of an asset (any type) or of a version: `file_id` in an
image row names one. Uploads have no JSON-RPC method (the original had none either):
files arrive through `POST /api/pools/{pool}/assets`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from assetry.domain.rows import FIELDS, RowTable, file_row, parse_columns, project
from assetry.web.rpc.context import Context, Method, list_page, method

FILE_FIELDS = FIELDS[RowTable.FILES]


async def get(ctx: Context, *, id: Any, columns: Any = "*") -> Any:
    chosen = parse_columns(columns, FILE_FIELDS)
    assert chosen is not None
    return project(file_row(await ctx.locate(id), ctx.uri), chosen)


async def list_(ctx: Context, *, conditions: Any = None, sort: Any = None, offset: Any = 0,
                limit: Any = 24, count: Any = True, columns: Any = "*") -> Any:
    """Every asset and version of the pools the caller may read, newest first."""
    return await list_page(ctx, RowTable.FILES, partial(file_row, uri=ctx.uri), {
        "conditions": conditions, "sort": sort, "offset": offset, "limit": limit,
        "count": count, "columns": columns})


async def delete(ctx: Context, *, id: Any, columns: Any = None) -> Any:
    """Delete a file: an asset's (the whole asset goes, versions included, as the
    original's foreign keys cascaded to its image rows) or a version's (that version
    goes). Images made from it by images.convert_from_file hold their own copy and stay."""
    chosen = parse_columns(columns, FILE_FIELDS, optional=True)
    row = await ctx.locate(id)
    out = file_row(row, ctx.uri)
    await ctx.delete(row)
    return None if chosen is None else project(out, chosen)


METHODS: dict[str, Method] = {
    "files.get": method(get),
    "files.list": method(list_),
    "files.delete": method(delete),
}
