"""ByteLane: GET and HEAD of the byte URLs answered without FastAPI's routing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import get_args
from uuid import UUID

from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from assetry.domain.converter import MAX_DIMENSION
from assetry.errors import AssetryError
from assetry.web.deps import reader_of, services_of
from assetry.web.errors import on_domain_error
from assetry.web.routes.assets import (
    OutputName,
    content_answer,
    get_content,
    get_version,
    version_answer,
)

_PREFIX = "/api/assets/"
#: a UUID exactly as the API writes it; other spellings the router accepts fall through
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UUID_END = len(_PREFIX) + 36
_CONTENT = "/content"
_VERSIONS = "/versions/"
#: `{name}` as the router matches it (Starlette's str convertor)
_NAME = re.compile(r"[^/]+")
#: `?w=` as the route's `Query(ge=1, le=MAX_DIMENSION)` takes it, in its one plain
#: spelling (no sign, no leading zero, no spaces, ASCII digits only)
_WIDTH = re.compile(r"[1-9][0-9]*")
_FORMATS = frozenset(get_args(OutputName))


def _width(value: str) -> bool:
    return _WIDTH.fullmatch(value) is not None and int(value) <= MAX_DIMENSION


def _anything(value: str) -> bool:
    return True


#: the query parameters each URL may carry to be taken, with the values taken: those
#: its route declares, as it validates them, and those respond() and reader_of() read
#: from the query themselves (`v`, `exp`, `sig`: any value, they judge it)
_CONTENT_PARAMS: dict[str, Callable[[str], bool]] = {
    "v": _anything, "exp": _anything, "sig": _anything}
_VERSION_PARAMS = {**_CONTENT_PARAMS, "w": _width, "format": _FORMATS.__contains__}


class ByteLane:
    """Answers GET and HEAD of `/api/assets/{asset_id}/content` and
    `/api/assets/{asset_id}/versions/{name}` itself, by the calls the routes in
    routes/assets.py make (deps.reader_of for the caller or a signed URL, then the
    routes' own content_answer and version_answer: the services, delivery.respond), so
    the answer is byte for byte the routed one; AssetryError becomes the answer
    errors.on_domain_error gives, as the app's exception handler would; any other
    exception propagates (the app's 500 problem, as for a route).

    It takes a request only when the router would run that very endpoint with those
    values: the UUID spelled canonically, a non-empty name without `/`, and query
    parameters only from the route's own (`w`, `format`) plus `v`, `exp`, `sig`, each at
    most once, `w` a plain decimal from 1 to MAX_DIMENSION, `format` one of the route's
    literals. Everything else (other methods and paths, other spellings, unknown,
    repeated or invalid parameters) goes to the router unchanged, whose answers
    (validation problems among them) stay the reference.

    It sits inside Authentication (the actor is settled, 401 and 503 come first) and
    outside the app's ExceptionMiddleware. `scope["route"]` is set to the route the
    router would have picked, so RequestMetrics labels the request as before; each
    request taken counts in assetry_byte_lane_requests_total. The routes stay
    registered: they describe the URLs in OpenAPI and serve what falls through.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        # The routes the router picks for each method (the first match wins there too);
        # their paths must be the ones parsed here, or the lane would answer URLs the
        # router does not.
        self._content = {m: _route(routes, get_content, m, _PREFIX + "{asset_id}" + _CONTENT)
                         for m in ("GET", "HEAD")}
        self._version = {m: _route(routes, get_version, m,
                                   _PREFIX + "{asset_id}" + _VERSIONS + "{name}")
                         for m in ("GET", "HEAD")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        taken = self._take(scope, receive)
        if taken is None:
            await self.app(scope, receive, send)
            return
        request, route, asset_id, name, query = taken
        scope["route"] = route
        services = services_of(request)
        # Operators (and tests) see how much of the byte traffic takes the lane.
        services.metrics.bump("byte_lane_requests")
        try:
            # As the route's dependencies would: the reader first (a bad signature is
            # 403 before any lookup), then the route's own body.
            actor = reader_of(request)
            if name is None:
                response = await content_answer(request, services, actor, asset_id)
            else:
                width = query.get("w")
                response = await version_answer(
                    request, services, actor, asset_id, name,
                    None if width is None else int(width), query.get("format"))
        except AssetryError as exc:
            response = await on_domain_error(request, exc)
        # Sent outside the try, as a route's response is: an error once bytes are on
        # their way cannot become another answer.
        await response(scope, receive, send)

    def _take(self, scope: Scope, receive: Receive
              ) -> tuple[Request, APIRoute, UUID, str | None, dict[str, str]] | None:
        """(request, its route, asset id, version name or None for the original, query)
        when the lane answers the request; None when the router does."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        path = get_route_path(scope)
        # Cheap tests first: requests that are not deliveries leave at once.
        if not path.startswith(_PREFIX) or not _UUID.fullmatch(path, len(_PREFIX), _UUID_END):
            return None
        tail = path[_UUID_END:]
        if tail == _CONTENT:
            name = None
        elif tail.startswith(_VERSIONS) and _NAME.fullmatch(tail, len(_VERSIONS)):
            name = tail[len(_VERSIONS):]
        else:
            return None
        request = Request(scope, receive)
        query = _query(request, _CONTENT_PARAMS if name is None else _VERSION_PARAMS)
        if query is None:
            return None
        route = (self._content if name is None else self._version)[scope["method"]]
        return request, route, UUID(path[len(_PREFIX):_UUID_END]), name, query


def _query(request: Request, allowed: Mapping[str, Callable[[str], bool]]
           ) -> dict[str, str] | None:
    """The query as the router reads it (Starlette's parsing), if every parameter is
    `allowed` with its value and none repeats; else None. (FastAPI reads the last of
    repeated scalars, respond() `v` too; a lane that never takes them cannot differ.)"""
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        valid = allowed.get(key)
        if valid is None or key in params or not valid(value):
            return None
        params[key] = value
    return params


def _route(routes: Sequence[BaseRoute], endpoint: object, method: str, path: str) -> APIRoute:
    for route in routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint \
                and method in (route.methods or ()):
            if route.path != path:
                raise RuntimeError(f"ByteLane parses {path}, the route is now {route.path}")
            return route
    raise RuntimeError(f"ByteLane: no {method} route runs {endpoint!r}")
