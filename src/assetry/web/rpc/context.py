"""What every JSON-RPC method gets (Context), how a method is described (Method), and
the helpers the images.* and files.* methods share."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assetry.bootstrap import Services
from assetry.domain.caching import pinned
from assetry.domain.model import Actor
from assetry.domain.negotiation import url_sha256
from assetry.domain.rows import (
    COLUMNS,
    DEFAULT_SORT,
    FIELDS,
    Row,
    RowTable,
    page_json,
    parse_columns,
    parse_list,
    parse_uuid,
    project,
)
from assetry.errors import Invalid
from assetry.web.schemas import Sign, asset_url, version_url


@dataclass(frozen=True, slots=True)
class Context:
    """The caller and the services one call runs with."""

    services: Services
    actor: Actor
    sign: Sign  #: signs byte URLs of non-public pools, like the REST Asset JSON

    def uri(self, row: Row) -> str:
        """A working URL of the row's bytes: the original's content or the version, pinned
        to those bytes (`?v=`) like the REST Asset JSON's URLs."""
        if row.version is None:
            return pinned(self.sign(row.asset, f"{asset_url(row.asset.id)}/content"),
                          row.asset.sha256)
        # a format: auto version's URL negotiates: its v names every variant
        return pinned(self.sign(row.asset, version_url(row.asset.id, row.version.name)),
                      url_sha256(row.version))

    async def locate(self, raw_id: Any, field: str = "id") -> Row:
        """The row (asset or version) with this id, if the caller may read it. Raises
        Invalid, AssetNotFound, Unauthenticated, Forbidden, Hidden."""
        return await self.services.assets.locate(parse_uuid(raw_id, field), self.actor)

    async def delete(self, row: Row) -> None:
        """Delete what the row is: a whole asset (versions and bytes included), or one
        version of it."""
        if row.version is None:
            await self.services.assets.delete(row.asset.id, self.actor)
        else:
            await self.services.versions.delete(row.asset.id, row.version.name, self.actor)


Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    """A JSON-RPC method: its handler `handler(ctx, **params)`, the params it takes (in
    order, for params by position), which are required, and how the fields that domain
    errors name map to its params (`{"gallery": "correlation_id"}`)."""

    handler: Handler
    params: tuple[str, ...]
    required: frozenset[str]
    fields: Mapping[str, str] = field(default_factory=dict)


def method(handler: Handler, **fields: str) -> Method:
    """Describe `handler` from its signature: its keyword-only parameters are the
    method's params, those without a default required."""
    params = [p for p in inspect.signature(handler).parameters.values()
              if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return Method(
        handler=handler,
        params=tuple(p.name for p in params),
        required=frozenset(p.name for p in params if p.default is inspect.Parameter.empty),
        fields=fields,
    )


def metadata_param(raw: Any, field: str = "metadata") -> dict[str, Any] | None:
    """A `metadata` param: a JSON object or null. Raises Invalid."""
    if raw is not None and not isinstance(raw, dict):
        raise Invalid("must be a JSON object or null", field=field)
    return raw


def name_param(raw: Any, field: str) -> str | None:
    """A converter name param (the original's converter_id): a string or null."""
    if raw is not None and not isinstance(raw, str):
        raise Invalid("must be a converter name or null", field=field)
    return raw


async def list_page(ctx: Context, table: RowTable, render: Callable[[Row], dict[str, Any]],
                    params: Mapping[str, Any]) -> dict[str, Any]:
    """The original's `list` over one table: {count, offset, page, pages, on_page, data}.
    `columns` null asks for the count only (data null)."""
    query = parse_list(COLUMNS[table], DEFAULT_SORT[table], conditions=params["conditions"],
                       sort=params["sort"], offset=params["offset"], limit=params["limit"],
                       count=params["count"])
    columns = parse_columns(params["columns"], FIELDS[table], optional=True)
    wanted = query if columns is not None else replace(query, limit=0)
    page = await ctx.services.assets.rows(table, wanted, ctx.actor)
    data = None
    if columns is not None and query.limit:
        data = [project(render(r), columns) for r in page.rows]
    return page_json(page.count, query, data)
