"""The one table from domain errors to HTTP, and problem+json (RFC 9457) bodies (their
shapes are schemas.ProblemDetails and its subclasses)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from assetry import errors
from assetry.web.schemas import ts

log = logging.getLogger(__name__)

STATUS: dict[type[errors.AssetryError], int] = {
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Conflict: 409,
    errors.Invalid: 400,
    errors.Unprocessable: 422,
    errors.UnsupportedType: 415,
    errors.TooLarge: 413,
    errors.Hidden: 410,
    errors.UploadExpired: 410,
    errors.ChecksumMismatch: 460,  # tus 1.0, checksum extension
    errors.BackendUnavailable: 503,
    errors.Overloaded: 503,
    errors.UpstreamError: 502,
    errors.UpstreamTimeout: 504,
}


def status_for(exc: errors.AssetryError) -> int:
    """The most specific entry of STATUS in the error's class hierarchy wins."""
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 500)


#: titles as API.md names them (Python's names differ between versions)
TITLES = {413: "Payload Too Large", 422: "Unprocessable Content", 460: "Checksum Mismatch"}


def problem(status: int, detail: str, *, field: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if field is not None:
        body["errors"] = [{"field": field, "message": detail}]
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers={"X-Content-Type-Options": "nosniff"})


async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.AssetryError)
    return domain_problem(exc, f"{request.method} {request.url.path}")


def domain_problem(exc: errors.AssetryError, where: str) -> JSONResponse:
    """The answer to a domain error raised while serving `where` (for the log): its
    status from STATUS, a problem+json body, and the headers its kind calls for."""
    status = status_for(exc)
    if status == 500:
        log.error("unmapped domain error on %s", where, exc_info=exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.Hidden):
        extra = {"reason": "hidden", "modified_by": exc.modified_by,
                 "modification_date": ts(exc.modification_date)}
    elif isinstance(exc, errors.TooLarge):
        extra = {"limit": exc.limit}  # so a client can say what would fit
    response = problem(status, exc.message, field=exc.field, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="assetry"'
    if isinstance(exc, errors.Overloaded):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        return problem(400, "the body is not valid JSON", field="body")
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "header")]
    field = ".".join(loc) or None
    return problem(400, f"{field or 'request'}: {first.get('msg', 'invalid')}", field=field)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    response = problem(exc.status_code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal error; it has been logged")
