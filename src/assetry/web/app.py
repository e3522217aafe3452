"""create_app(): the FastAPI application, its error table and its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assetry import __version__
from assetry.bootstrap import Services, open_services
from assetry.config import Settings
from assetry.domain.ports import Fetcher
from assetry.errors import AssetryError
from assetry.process import HOME, die_with_parent, limit_malloc_arenas, short_gil_turns
from assetry.web import docs, errors, openapi, ui
from assetry.web.affinity import HomeCoreRequests
from assetry.web.auth import Authentication
from assetry.web.byte_lane import ByteLane
from assetry.web.request_metrics import RequestMetrics
from assetry.web.routes import (
    assets,
    caller,
    converters,
    direct_uploads,
    galleries,
    health,
    pools,
    rpc,
    uploads_tus,
)
from assetry.web.tus import TusProtocol

log = logging.getLogger(__name__)


class SecurityHeaders:
    """nosniff on every response, and never a cookie on anything we send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"set-cookie", b"x-content-type-options")]
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    fetcher: Fetcher | None = None,
    migrate: bool = True,
    byte_lane: bool = True,
) -> FastAPI:
    """The ASGI app. With `services` given (tests, embedding) the caller owns their
    lifetime; otherwise the app opens them from `settings` for its lifespan, applying the
    migrations first unless `migrate` is false (`fetcher` replaces the URL-import
    fetcher, e.g. to let tests import from 127.0.0.1). `byte_lane=False` leaves byte
    deliveries to the router too (web/byte_lane.py answers them identically, faster;
    tests compare the two)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        async with open_services(settings or Settings(), fetcher=fetcher,
                                 apply_migrations=migrate) as opened:
            app.state.services = opened
            if not await opened.tokens.any_active():
                log.warning(
                    "no access tokens exist yet, so only anonymous reads of public pools "
                    "work; create the first admin token with: "
                    "assetry tokens create --role admin --data-dir %s",
                    opened.settings.data_dir.resolve())
            yield

    app = FastAPI(
        title="Assetry", version=__version__, lifespan=lifespan,
        description="Self-hosted asset and image service: pools, images with versions, "
                    "galleries, attachments, replace, hide, delete.",
        openapi_url=docs.OPENAPI, docs_url=None, redoc_url=None,
    )
    if services is not None:
        app.state.services = services
    app.add_exception_handler(AssetryError, errors.on_domain_error)
    app.add_exception_handler(RequestValidationError, errors.on_validation_error)
    app.add_exception_handler(HTTPException, errors.on_http_error)
    app.add_exception_handler(Exception, errors.on_unexpected)
    # Routes are matched in this order: the assets router (byte deliveries, most of the
    # traffic) first, the UI's catch-all last.
    routers = [module.router for module in
               (assets, pools, uploads_tus, direct_uploads, galleries, converters, caller, health,
                docs, rpc, ui)]
    for router in routers:
        app.include_router(router)
    openapi.install(app)
    routes = [r for router in routers for r in router.routes]
    if byte_lane:
        # Innermost (added first): the actor is settled and the 401s and 503s of
        # authentication are given before it answers a byte URL without the router.
        app.add_middleware(ByteLane, routes=routes)
    app.add_middleware(Authentication, own_errors=frozenset({rpc.PATH}))
    app.add_middleware(TusProtocol)  # outside Authentication: tus headers on its 401s too
    app.add_middleware(SecurityHeaders)  # its headers go on every answer
    # Outermost: it counts and times every answer, also those given before routing.
    app.add_middleware(RequestMetrics, routes=routes)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of `assetry serve`, with settings from the
    environment (the parent put its command-line options there). The parent applied the
    migrations before starting any worker, so the workers never race to apply them. With
    `home_cores`, the process claims a core for its Python threads (process.HomeCore)."""
    die_with_parent()
    limit_malloc_arenas()
    short_gil_turns()
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyvips").setLevel(logging.WARNING)
    app = create_app(settings, migrate=False)
    if settings.home_cores and HOME.claim(settings.run_dir / "home-cores",
                                          settings.process_count) is not None:
        app.add_middleware(HomeCoreRequests, home=HOME)
    return app
