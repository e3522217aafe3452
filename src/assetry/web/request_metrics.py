"""RequestMetrics: every HTTP request counted and timed by route template and status,
with its body bytes in and out."""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    """Outermost middleware: it sees every answer, authentication's 401s and 503s
    included, and times the whole request, the body's reading and the answer's sending.

    The route label is the route's template (`/api/assets/{asset_id}`), never the raw
    path, so the number of series stays bounded whatever clients ask for; the status is
    the one sent (500 when the app raised before answering). `routes` are the app's
    routes, to name the route of a request answered before routing. Nothing is recorded
    before the app's services exist (the lifespan opens them).
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = (getattr(scope["app"].state, "services", None)
                    if scope["type"] == "http" else None)
        if services is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        received = sent = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            services.metrics.observe_request(
                scope["method"], route_template(scope, self.routes), status,
                time.perf_counter() - started, received, sent)


def route_template(scope: Scope, routes: Sequence[BaseRoute]) -> str | None:
    """The template of the route that served the request, or, for a request answered
    before routing (authentication's 401s and 503s), of the first of `routes` that
    matches it as the router would pick it; None when no route matches its path."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", None)
    partial = None
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return getattr(candidate, "path", None)
        if match is Match.PARTIAL and partial is None:
            partial = candidate  # the path matches, the method does not (405)
    return getattr(partial, "path", None)
