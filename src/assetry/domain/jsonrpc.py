"""JSON-RPC 2.0 envelopes, with the error codes of the original image service (kaiju).

Pure: a request body (bytes) goes in and is split into calls; results and errors come out
as JSON-ready dicts. Nothing here knows the transport, the methods or who is asking.

    parse(body)          -> Envelope: the calls of a single or batch request, each either a
                            Call or a Rejected entry (not a valid request object)
    bind(params, ...)    -> the keyword arguments of one call, or RpcError -32602
    from_domain(exc)     -> the RpcError an Assetry domain error becomes
    answer(id, result) / failure(id, error) -> response objects

Codes (the original's, see docs/rpc.md): -32700 parse error, -32600 invalid request,
-32601 method not found, -32602 invalid params (its ValidationError), -32603 internal
error, -32000 not authorized, 404 not found, 409 conflict. Every error object carries
`data.type`, the original's error class name, which its clients use to pick an exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assetry import errors

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_AUTHORIZED = -32000
NOT_FOUND = 404
CONFLICT = 409

#: requests in one batch; a bigger batch is refused as a whole (-32600)
MAX_BATCH = 100

#: what a request id may be: a string, an integer or null (JSON-RPC 2.0 §4)
RequestId = str | int | None


class RpcError(Exception):
    """A JSON-RPC error object: `code`, `message`, and `data` (always with `type`)."""

    def __init__(self, code: int, message: str, type: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data: dict[str, Any] = {"type": type, **data}

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def invalid_request(message: str) -> RpcError:
    return RpcError(INVALID_REQUEST, message, "InvalidRequest")


def method_not_found(name: str) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, "Method not found", "MethodNotFound", request_method=name)


def invalid_params(message: str, **data: Any) -> RpcError:
    return RpcError(INVALID_PARAMS, message, "InvalidParams", **data)


def internal_error() -> RpcError:
    return RpcError(INTERNAL_ERROR, "internal error; it has been logged", "InternalError")


@dataclass(frozen=True, slots=True)
class Call:
    """One valid request object. A notification (no `id` member) gets no answer."""

    method: str
    params: Mapping[str, Any] | Sequence[Any]
    id: RequestId = None
    notification: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    """A batch entry (or single body) that is not a valid request; answered with `error`."""

    error: RpcError
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a body holds: its entries in order, and whether it was a batch (an array,
    answered with an array) or a single request (answered with one object)."""

    entries: tuple[Call | Rejected, ...]
    batch: bool


def _valid_id(value: Any) -> bool:
    return value is None or isinstance(value, str) or (
        isinstance(value, int) and not isinstance(value, bool))


def _entry(raw: Any) -> Call | Rejected:
    if not isinstance(raw, dict):
        return Rejected(invalid_request("a request must be an object"))
    has_id = "id" in raw
    request_id = raw.get("id")
    if not _valid_id(request_id):
        return Rejected(invalid_request('"id" must be a string, an integer or null'))
    # The original's own clients leave "jsonrpc" out; a wrong value is still refused.
    if raw.get("jsonrpc", "2.0") != "2.0":
        return Rejected(invalid_request('"jsonrpc" must be "2.0"'), request_id)
    method = raw.get("method")
    if not isinstance(method, str) or not method:
        return Rejected(invalid_request('"method" must be a non-empty string'), request_id)
    params = raw.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict | list):
        return Rejected(invalid_request('"params" must be an object or an array'), request_id)
    return Call(method=method, params=params, id=request_id, notification=not has_id)


def _not_json(constant: str) -> Any:
    # Python reads NaN and Infinity, which JSON does not have.
    raise ValueError(f"{constant} is not JSON")


def parse(body: bytes) -> Envelope:
    """Split a request body into its calls. Raises RpcError for a body that cannot be
    answered call by call: not JSON (-32700), an empty batch or one over MAX_BATCH
    (-32600). Invalid entries come back as Rejected, in their place."""
    try:
        raw = json.loads(body, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError):
        raise RpcError(PARSE_ERROR, "the body is not valid JSON", "JSONParseError") from None
    except RecursionError:
        raise RpcError(PARSE_ERROR, "the body is nested too deeply", "JSONParseError") from None
    if isinstance(raw, list):
        if not raw:
            raise invalid_request("a batch must hold at least one request")
        if len(raw) > MAX_BATCH:
            raise invalid_request(f"a batch may hold at most {MAX_BATCH} requests")
        return Envelope(entries=tuple(_entry(r) for r in raw), batch=True)
    return Envelope(entries=(_entry(raw),), batch=False)


def bind(params: Mapping[str, Any] | Sequence[Any], names: Sequence[str],
         required: frozenset[str]) -> dict[str, Any]:
    """The keyword arguments of a call whose method takes `names` (in order), of which
    `required` must be given. Params by position map onto `names` in order. Raises
    RpcError -32602 (listing the method's arguments) for unknown, extra or missing ones."""
    if isinstance(params, Mapping):
        given = dict(params)
    else:
        if len(params) > len(names):
            raise _bad_params(f"at most {len(names)} params by position", names, required,
                              [str(i) for i in range(len(params))])
        given = dict(zip(names, params, strict=False))
    unknown = sorted(set(given) - set(names))
    missing = sorted(required - set(given))
    if unknown or missing:
        problem = (f"unknown param(s) {unknown}" if unknown else f"missing param(s) {missing}")
        raise _bad_params(problem, names, required, list(given))
    return given


def _bad_params(message: str, names: Sequence[str], required: frozenset[str],
                provided: list[str]) -> RpcError:
    return invalid_params(
        f"Invalid params: {message}",
        required_args=[n for n in names if n in required],
        optional_args=[n for n in names if n not in required],
        provided_args=provided,
    )


#: domain errors -> (code, the original's error type); the most specific class wins
CODES: dict[type[errors.AssetryError], tuple[int, str]] = {
    errors.NotFound: (NOT_FOUND, "NotFound"),
    errors.Hidden: (NOT_FOUND, "NotFound"),
    errors.Conflict: (CONFLICT, "Conflict"),
    errors.Invalid: (INVALID_PARAMS, "InvalidParams"),
    errors.Unprocessable: (INVALID_PARAMS, "InvalidParams"),
    errors.UnsupportedType: (INVALID_PARAMS, "InvalidParams"),
    errors.TooLarge: (INVALID_PARAMS, "InvalidParams"),
    errors.Unauthenticated: (NOT_AUTHORIZED, "NotAuthorized"),
    errors.Forbidden: (NOT_AUTHORIZED, "Forbidden"),
    errors.BackendUnavailable: (INTERNAL_ERROR, "InternalError"),
}

#: the HTTP status the REST API answers for the same error, given in `data.status`: it
#: tells "send a token" (401) from "not with this one" (403), both -32000, and an outage
#: worth retrying (503) from a bug (-32603 without a status)
_STATUS = {errors.Unauthenticated: 401, errors.Forbidden: 403, errors.BackendUnavailable: 503}


_FIRST_NAME = re.compile(r"[^.\[]*")


def from_domain(exc: errors.AssetryError, fields: Mapping[str, str] | None = None
                ) -> RpcError | None:
    """The RpcError for a domain error, or None for one no method should raise (a bug:
    the caller answers -32603 and logs it). `fields` renames the error's field to the
    method's param by the field's first name, up to the first "." or "["
    (`{"gallery": "correlation_id"}`; `{"versions": "converter_settings.versions"}` turns
    `versions[1].width` into `converter_settings.versions[1].width`)."""
    found = next((CODES[c] for c in type(exc).__mro__ if c in CODES), None)
    if found is None:
        return None
    code, kind = found
    data: dict[str, Any] = {}
    if exc.field is not None:
        head = _FIRST_NAME.match(exc.field).group()  # type: ignore[union-attr]
        data["field"] = (fields or {}).get(head, head) + exc.field[len(head):]
    if isinstance(exc, errors.Hidden):
        data.update(reason="hidden", modified_by=exc.modified_by,
                    modification_date=exc.modification_date)
    status = next((s for c, s in _STATUS.items() if isinstance(exc, c)), None)
    if status is not None:
        data["status"] = status
    return RpcError(code, exc.message, kind, **data)


def answer(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def failure(request_id: RequestId, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}
