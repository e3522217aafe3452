"""The tus protocol's rules that hold for every request to the upload URLs: the method
override and the response headers (whatever route or error answers), the version check."""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assetry.domain import tus

#: the creation URL (with or without a trailing slash) and each upload's URL
PATHS = re.compile(r"/api/pools/[^/]+/uploads(?:/[^/]*)?")
#: what X-HTTP-Method-Override may name (for clients that cannot send PATCH or DELETE)
_OVERRIDABLE = frozenset({"POST", "HEAD", "PATCH", "DELETE", "OPTIONS"})


class TusProtocol:
    """For requests to the upload URLs: apply `X-HTTP-Method-Override`, and put
    `Tus-Resumable` and `Cache-Control: no-store` on every answer. It sits outside
    Authentication, so its 401s carry them too, and the overridden method is the one
    credentials are checked for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not PATHS.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        override = (Headers(scope=scope).get("x-http-method-override") or "").strip().upper()
        if override in _OVERRIDABLE:
            scope = {**scope, "method": override}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(b"tus-resumable", tus.VERSION.encode())]
                if b"cache-control" not in sent:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def require_version(version: str | None) -> None:
    """Every tus request but OPTIONS says `Tus-Resumable: 1.0.0`; otherwise 412 with
    `Tus-Version`, before the request is looked at any further. (Its credentials were
    checked first, as for every request under /api/, and a request that lacks a header
    the operation requires is a 400 before this.)"""
    if version != tus.VERSION:
        raise HTTPException(412, f"this server speaks tus {tus.VERSION}: send "
                                 f"`Tus-Resumable: {tus.VERSION}`",
                            headers={"Tus-Version": tus.VERSION})
