"""/api/pools/{pool}/uploads: resumable uploads, tus 1.0 (core, creation, termination,
expiration, checksum). `web/tus.py` has the rules every request and answer here follows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from email.utils import format_datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from starlette.requests import ClientDisconnect

from assetry.domain import tus
from assetry.domain.tus import Upload
from assetry.errors import Invalid, UnsupportedType, UploadNotFound
from assetry.web import schemas
from assetry.web.deps import ActorDep, ServicesDep
from assetry.web.openapi import PROBLEM, problems
from assetry.web.tus import require_version

router = APIRouter(prefix="/api/pools/{pool}/uploads", tags=["uploads"],
                   default_response_class=Response)


def _tus_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """problems(), plus 412 (every tus request but OPTIONS); a tus 410 is an expired
    upload, a plain problem (not the hidden asset's)."""
    answers = problems(412, *(s for s in statuses if s != 410))
    if 410 in statuses:
        answers[410] = {"description": "The upload has expired; start a new one",
                        "content": {PROBLEM: {"schema": {
                            "$ref": "#/components/schemas/ProblemDetails"}}}}
    return answers


def _answer(description: str, *headers: str) -> dict[str, Any]:
    return {"description": description,
            "headers": {h: {"schema": {"type": "string"}} for h in headers}}


#: every request but OPTIONS must send it; tus answers its absence with 412 (web/tus.py's
#: require_version), not as a malformed request, so it is not `required` in the document
TusHeader = Annotated[str | None, Header(
    description="the tus version, `1.0.0`; without it the answer is 412")]


def upload_url(pool: str, upload_id: UUID) -> str:
    return f"/api/pools/{pool}/uploads/{upload_id}"


@router.options("", status_code=204, operation_id="tusOptions", responses={
    204: _answer("What this server supports", "Tus-Version", "Tus-Extension",
                 "Tus-Checksum-Algorithm", "Tus-Max-Size"), **problems()})
@router.options("/", status_code=204, include_in_schema=False)
@router.options("/{upload_id}", status_code=204, include_in_schema=False)
async def tus_options(pool: str, services: ServicesDep, actor: ActorDep) -> Response:
    """Tus-Version, Tus-Extension, Tus-Checksum-Algorithm, and Tus-Max-Size: the pool's
    limit for a token that may upload into it, else the global cap. No token needed."""
    return Response(status_code=204, headers={
        "Tus-Version": tus.VERSION,
        "Tus-Extension": ",".join(tus.EXTENSIONS),
        "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
        "Tus-Max-Size": str(await services.resumable.max_size(pool, actor)),
    })


@router.post("", status_code=201, operation_id="createUpload", responses={
    201: _answer("Created; `Location` is the upload's URL (an empty upload is stored at "
                 "once and names its asset)", "Location", "Upload-Offset", "Upload-Expires",
                 "Asset-Location", "Asset-Id"),
    **_tus_problems(400, 403, 404, 413, 415, 422)})
@router.post("/", status_code=201, include_in_schema=False)
async def create_upload(
    pool: str,
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    upload_length: Annotated[str, Header(description="the file's size in bytes")],
    upload_metadata: Annotated[str | None, Header(
        description="comma-separated `key base64(value)` pairs; used: filename, type, "
                    "gallery, converter, metadata, mime_type")] = None,
    tus_resumable: TusHeader = None,
) -> Response:
    """An empty POST; 201 with the upload's URL in `Location`. Editors and above."""
    require_version(tus_resumable)
    for unsupported, extension in (("upload-defer-length", "creation-defer-length"),
                                   ("upload-concat", "concatenation")):
        if unsupported in request.headers:
            raise Invalid(f"{extension} is not supported: send Upload-Length",
                          field=unsupported.title())
    if _content_length(request):
        raise Invalid("creation-with-upload is not supported: create with an empty body, "
                      "then PATCH the bytes", field="body")
    upload = await services.resumable.create(
        pool, length=tus.parse_integer(upload_length, "Upload-Length"),
        metadata=tus.parse_metadata(upload_metadata), actor=actor)
    return Response(status_code=201, headers={
        "Location": upload_url(pool, upload.id), **_progress(upload)})


@router.head("/{upload_id}", status_code=200, operation_id="getUploadOffset", responses={
    200: _answer("Where the upload stands", "Upload-Offset", "Upload-Length", "Upload-Metadata",
                 "Upload-Expires", "Asset-Location", "Asset-Id"),
    **_tus_problems(403, 404, 410)})
async def upload_offset(pool: str, upload_id: str, services: ServicesDep, actor: ActorDep,
                        tus_resumable: TusHeader = None) -> Response:
    """Upload-Offset and Upload-Length (and, once finished, Asset-Location)."""
    require_version(tus_resumable)
    upload = await services.resumable.status(pool, _upload_id(upload_id), actor)
    headers = {"Upload-Length": str(upload.length), **_progress(upload)}
    if upload.metadata:
        headers["Upload-Metadata"] = tus.encode_metadata(upload.metadata)
    return Response(status_code=200, headers=headers)


@router.patch("/{upload_id}", status_code=204, operation_id="patchUpload", responses={
    204: _answer("Accepted; the last PATCH also names the asset", "Upload-Offset",
                 "Upload-Expires", "Asset-Location", "Asset-Id"),
    **_tus_problems(400, 403, 404, 409, 410, 413, 415, 422, 460)},
              openapi_extra={"requestBody": {"required": True, "content": {
                  tus.OFFSET_STREAM: {"schema": {"type": "string", "format": "binary"}}}}})
async def upload_bytes(
    pool: str,
    upload_id: str,
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    upload_offset: Annotated[str, Header(description="must equal the upload's offset")],
    upload_checksum: Annotated[str | None, Header(
        description="`sha1 <base64 digest>` or `sha256 <base64 digest>` of this body")] = None,
    tus_resumable: TusHeader = None,
) -> Response:
    """204 with the new Upload-Offset. The PATCH that brings the last byte stores the
    asset (through the same ingest as a multipart upload) and answers `Asset-Location`
    and `Asset-Id` too; an ingest refusal (413, 415, 422) is its answer instead, and the
    upload is then gone."""
    require_version(tus_resumable)
    if not tus.is_offset_stream(request.headers.get("content-type")):
        raise UnsupportedType(f"a PATCH body must be {tus.OFFSET_STREAM}", field="Content-Type")
    offset = tus.parse_integer(upload_offset, "Upload-Offset")
    checksum = tus.parse_checksum(upload_checksum)
    upload = await services.resumable.receive(
        pool, _upload_id(upload_id), _body(request), offset=offset, checksum=checksum,
        declared=_content_length(request), actor=actor)
    return Response(status_code=204, headers=_progress(upload))


@router.delete("/{upload_id}", status_code=204, operation_id="terminateUpload",
               responses={204: _answer("Terminated"), **_tus_problems(403, 404)})
async def terminate_upload(pool: str, upload_id: str, services: ServicesDep, actor: ActorDep,
                           tus_resumable: TusHeader = None) -> Response:
    """Remove the upload and the bytes it holds (the asset a finished one became stays)."""
    require_version(tus_resumable)
    await services.resumable.terminate(pool, _upload_id(upload_id), actor)
    return Response(status_code=204)


def _progress(upload: Upload) -> dict[str, str]:
    headers = {"Upload-Offset": str(upload.offset)}
    if upload.asset_id is None:
        headers["Upload-Expires"] = format_datetime(upload.expires_at.astimezone(UTC),
                                                    usegmt=True)
    else:
        headers["Asset-Location"] = schemas.asset_url(upload.asset_id)
        headers["Asset-Id"] = str(upload.asset_id)
    return headers


def _upload_id(raw: str) -> UUID:
    """An id this server could have made, or 404 (tus: an unknown upload is not found)."""
    try:
        return UUID(raw)
    except ValueError:
        raise UploadNotFound(f"no upload {raw[:64]!r}") from None


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() else None


async def _body(request: Request) -> AsyncIterator[bytes]:
    """The PATCH body as it arrives. A client that goes away ends it early: tus servers
    keep what did arrive, so the client resumes from there (with a checksum the shortened
    chunk cannot match and is discarded)."""
    try:
        async for chunk in request.stream():
            if chunk:
                yield chunk
    except ClientDisconnect:
        return
