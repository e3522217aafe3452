"""RequestMetrics: every HTTP request counted and timed by route template and status,
with its body bytes in and out."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    """Outermost middleware: it sees every answer, authentication's 401s and 503s
    included, and times the whole request, the body's reading and the answer's sending.

    The route label is the matched route's template (`/api/assets/{asset_id}`), never the
    raw path, so the number of series stays bounded whatever clients ask for; the status
    is the one sent (500 when the app raised before answering). Nothing is recorded
    before the app's services exist (the lifespan opens them).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            route = scope.get("route")
            services.metrics.observe_request(
                scope["method"], getattr(route, "path", None), status,
                time.perf_counter() - started, received, sent)
