"""Authentication at the edge: who is asking, settled before any route reads the body."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from assetry.domain.model import ANONYMOUS, Actor
from assetry.errors import AssetryError, Unauthenticated
from assetry.web.errors import domain_problem

#: methods that only read; every other method of the API needs credentials
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class Authentication:
    """Resolve `Authorization: Bearer <token>` into an Actor (`scope["state"]["actor"]`).

    Runs before routing so that credentials are checked first: a request without them to
    a writing method, or with a malformed, unknown or revoked token, is 401 before its
    body is parsed or any asset is looked up (so it can learn nothing, not even whether
    an id exists); a token that cannot be looked up because the database is unreachable
    is 503. What each role may then do is decided by the services.

    `own_errors` are paths (the JSON-RPC endpoint) that answer in a format of their own:
    there bad credentials are not a 401 but left in `scope["state"]["credentials_error"]`
    (the caller stays anonymous) for the route to report, and anonymous POSTs pass, since
    every call is then checked by the services like an anonymous GET.
    """

    def __init__(self, app: ASGIApp, own_errors: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.own_errors = own_errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = scope["path"] in self.own_errors
        if not own and not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            actor = await self._actor(scope)
            if not own and actor.role is None and scope["method"] not in READS:
                raise Unauthenticated("changes need credentials: Authorization: Bearer <token>")
        except AssetryError as exc:
            # Unauthenticated, or BackendUnavailable when the token cannot be looked up
            # (the database is down): answered here, as the routes' errors are, since
            # this runs outside the app's exception handlers.
            if own:
                state["credentials_error"] = exc
                actor = ANONYMOUS
            else:
                await domain_problem(exc, f"{scope['method']} {scope['path']}")(
                    scope, receive, send)
                return
        state["actor"] = actor
        await self.app(scope, receive, send)

    async def _actor(self, scope: Scope) -> Actor:
        header = next((v.decode("latin-1") for k, v in scope["headers"]
                       if k == b"authorization"), None)
        if header is None:
            return ANONYMOUS
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("use `Authorization: Bearer <token>`")
        services = scope["app"].state.services
        actor: Actor = await services.tokens.authenticate(secret.strip())
        return actor
