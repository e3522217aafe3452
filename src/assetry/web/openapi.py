"""The OpenAPI document as generated clients read it.

Routes name their operations (`operation_id=`, short and stable) and declare their error
answers with `problems(...)`: each is `application/problem+json` with the schema of its
body (schemas.ProblemDetails, or HiddenProblem for 410 and TooLargeProblem for 413).
`install` makes the app's document from FastAPI's and then adds those schemas, the bearer
scheme, summaries that follow the ids and the examples of web/examples.py, and drops
FastAPI's own 422 "HTTPValidationError" answers: web/errors.py answers a request that
fails validation with a 400 problem instead.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from assetry.web import examples
from assetry.web.schemas import HiddenProblem, ProblemDetails, TooLargeProblem

PROBLEM = "application/problem+json"
_REF = "#/components/schemas/"
_MODELS: dict[int, type[BaseModel]] = {410: HiddenProblem, 413: TooLargeProblem}
_ALL_MODELS: tuple[type[BaseModel], ...] = (ProblemDetails, *_MODELS.values())

#: what each error status means in Assetry (docs/api.md, "Errors", has the full table)
WHEN: dict[int, str] = {
    400: "Malformed request: a body, form, query or path value that does not parse or is "
         "not allowed; `errors[0].field` names it",
    401: "Credentials are needed and missing, or the `Authorization` header is malformed, "
         "unknown or revoked (with `WWW-Authenticate: Bearer`)",
    403: "The token's role may not do this, or a signed URL was changed, has expired or "
         "belongs to another URL",
    404: "No such pool, asset, version, gallery, converter or resumable upload",
    409: "The request conflicts with what is stored",
    410: "The asset is hidden and the caller is below moderator",
    412: "tus: the request did not say `Tus-Resumable: 1.0.0` (the answer carries "
         "`Tus-Version`)",
    413: "Larger than the pool accepts; `limit` is its size limit in bytes",
    415: "The sniffed type is not allowed here or differs from the declared `mime_type`",
    416: "The `Range` cannot be satisfied (`Content-Range: bytes */SIZE`)",
    460: "tus Checksum Mismatch: the body does not match its `Upload-Checksum`; it was "
         "discarded",
    422: "Well-formed but cannot be carried out: bytes that do not decode, too many "
         "pixels, an invalid or unknown converter, a failed render",
    502: "The import's remote server answered an error or could not be reached",
    503: "The database or the blob store did not answer, or (GET of a version not made "
         "yet) rendering is at capacity, with `Retry-After` in seconds; retrying may help",
    504: "The import's remote server did not answer in time",
}

#: every operation under /api/ may answer these: the edge checks the `Authorization`
#: header of every request there, and every operation needs the database
ALWAYS = (401, 503)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the error statuses an operation can answer, besides
    ALWAYS (added here)."""
    return {status: {
        "description": WHEN[status],
        "content": {PROBLEM: {"schema": {
            "$ref": _REF + _MODELS.get(status, ProblemDetails).__name__}}},
    } for status in sorted({*statuses, *ALWAYS})}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and so /api/openapi.json) answer the finished document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version,
                                   description=app.description, routes=app.routes)
            app.openapi_schema = finish(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Add the problem schemas, the bearer scheme and the examples (web/examples.py);
    drop FastAPI's validation answers."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in _ALL_MODELS:
        schema = model.model_json_schema(ref_template=_REF + "{model}", mode="serialization")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    document["components"]["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "An access token made with `assetry tokens create`."}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            if _is_validation_error(answers.get("422")):
                del answers["422"]
            operation["security"] = _security(path, method)
            operation["summary"] = _summary(operation["operationId"])
    _add_examples(document)
    return document


def _add_examples(document: dict[str, Any]) -> None:
    # Added to the finished document: get_openapi drops every null, also inside examples,
    # which would then lack fields their schema requires (a pending version's width).
    by_id = {o["operationId"]: o for item in document["paths"].values() for o in item.values()}
    for (operation_id, status), body in examples.RESPONSES.items():
        answer = by_id[operation_id]["responses"][str(status)]
        answer["content"]["application/json"]["example"] = body
    for operation_id, body in examples.REQUESTS.items():
        by_id[operation_id]["requestBody"]["content"]["application/json"]["example"] = body


def _summary(operation_id: str) -> str:
    """`createOrUpdatePool` -> `Create or update pool`: the summary follows the id, not
    the Python function's name (FastAPI's default)."""
    return re.sub(r"(?<!^)([A-Z])", lambda m: " " + m.group(1).lower(), operation_id
                  ).capitalize()


def _is_validation_error(answer: dict[str, Any] | None) -> bool:
    ref = (answer or {}).get("content", {}).get("application/json", {}).get("schema", {})
    return bool(ref == {"$ref": _REF + "HTTPValidationError"})


def _security(path: str, method: str) -> list[dict[str, list[str]]]:
    """Changes need a token; reads take one (anonymous callers read public pools), and so
    does JSON-RPC (whose methods read and write); /health and /metrics ignore it."""
    if path == "/public/rpc":
        return [{"bearer": []}, {}]
    if not path.startswith("/api/"):
        return []
    if method in ("get", "head", "options"):  # as web/auth.py's READS
        return [{"bearer": []}, {}]
    return [{"bearer": []}]
