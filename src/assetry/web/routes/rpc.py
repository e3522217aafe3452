"""POST /public/rpc: JSON-RPC 2.0 (single and batch) with the original image service's
methods (web/rpc/) and error codes (domain/jsonrpc.py).

Every answer is HTTP 200 with a JSON-RPC response, errors included, except a body of
notifications only (204, nothing to say). Credentials are the REST API's bearer tokens;
a bad one fails the whole body with -32000 (id null), before anything is parsed.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from assetry.domain import jsonrpc
from assetry.domain.jsonrpc import Call, Rejected, RpcError
from assetry.errors import AssetryError
from assetry.web.deps import ActorDep, ServicesDep, SignDep
from assetry.web.rpc import files, images
from assetry.web.rpc.context import Context
from assetry.web.schemas import ts

log = logging.getLogger(__name__)

PATH = "/public/rpc"
#: the largest request body read; JSON-RPC bodies carry ids and small objects, never bytes
MAX_BODY = 1024 * 1024

METHODS = {**images.METHODS, **files.METHODS}

router = APIRouter(tags=["json-rpc"])

_DOC: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
        "example": {"jsonrpc": "2.0", "id": 1, "method": "images.get",
                    "params": {"id": "3f0c1c4e-2b1a-4f57-9a43-1b2c3d4e5f60"}},
    }}},
    "responses": {
        "200": {"description": "a JSON-RPC response (or an array of them for a batch); "
                               "errors are JSON-RPC error objects, also with HTTP 200",
                "content": {"application/json": {"schema": {}}}},
        "204": {"description": "the body held only notifications"},
    },
}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return ts(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _json(payload: Any) -> Response:
    return Response(json.dumps(payload, default=_encode, separators=(",", ":")),
                    media_type="application/json")


async def _body(request: Request) -> bytes:
    """The body, at most MAX_BODY bytes. Raises RpcError -32600 beyond that."""
    too_big = jsonrpc.invalid_request(f"the body is over {MAX_BODY} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_big
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise too_big
    return bytes(body)


async def _call(ctx: Context, call: Call) -> dict[str, Any]:
    method = METHODS.get(call.method)
    if method is None:
        return jsonrpc.failure(call.id, jsonrpc.method_not_found(call.method))
    try:
        params = jsonrpc.bind(call.params, method.params, method.required)
        return jsonrpc.answer(call.id, await method.handler(ctx, **params))
    except RpcError as exc:
        return jsonrpc.failure(call.id, exc)
    except AssetryError as exc:
        error = jsonrpc.from_domain(exc, method.fields)
        if error is None:
            log.error("unmapped domain error in %s", call.method, exc_info=exc)
            error = jsonrpc.internal_error()
        return jsonrpc.failure(call.id, error)
    except Exception:
        log.exception("unexpected error in %s", call.method)
        return jsonrpc.failure(call.id, jsonrpc.internal_error())


@router.post(PATH, operation_id="callRpc",
             summary="JSON-RPC 2.0 (the original image service's methods)",
             openapi_extra=_DOC, response_model=None)
async def rpc(request: Request, services: ServicesDep, actor: ActorDep, sign: SignDep
              ) -> Response:
    """One request object or a batch (an array of up to 100). Methods, params and error
    codes: docs/rpc.md."""
    credentials = getattr(request.state, "credentials_error", None)
    if isinstance(credentials, AssetryError):
        error = jsonrpc.from_domain(credentials)
        assert error is not None
        return _json(jsonrpc.failure(None, error))
    try:
        envelope = jsonrpc.parse(await _body(request))
    except RpcError as exc:
        return _json(jsonrpc.failure(None, exc))
    ctx = Context(services=services, actor=actor, sign=sign)
    answers = []
    # One after another, in order, like the original: a later call sees what an earlier
    # one changed.
    for entry in envelope.entries:
        if isinstance(entry, Rejected):
            answers.append(jsonrpc.failure(entry.id, entry.error))
            continue
        response = await _call(ctx, entry)
        if not entry.notification:
            answers.append(response)
    if not answers:
        return Response(status_code=204)
    return _json(answers if envelope.batch else answers[0])
