"""HomeCoreRequests: tells a worker process's HomeCore (process.py) when its requests
start and end, so that its Python threads keep to their core only while it serves at
most one."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from assetry.process import HomeCore


class HomeCoreRequests:
    """Outermost middleware of a worker process that claimed a home core: every HTTP
    request counts, from its first byte until its answer is sent (or it fails)."""

    def __init__(self, app: ASGIApp, home: HomeCore) -> None:
        self.app = app
        self.home = home

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.home.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.home.request_ended()
