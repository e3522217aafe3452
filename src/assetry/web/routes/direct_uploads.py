"""Direct uploads to S3: announce (a presigned PUT URL), then complete (the ingest)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from assetry.web import schemas, uploads
from assetry.web.deps import ActorDep, ServicesDep, SignDep
from assetry.web.openapi import problems
from assetry.web.routes.pools import created

router = APIRouter(prefix="/api", tags=["direct uploads"])


@router.post("/pools/{pool}/direct-uploads", status_code=201,
             response_model=schemas.DirectUploadOut, operation_id="startDirectUpload",
             responses=problems(400, 403, 404, 409, 413))
async def start(pool: str, services: ServicesDep, actor: ActorDep,
                body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Announce an upload that the client sends straight to the S3 store:
    `{"filename": "...", "size": BYTES, "mime_type"?, "type"?, "gallery"?, "converter"?,
    "metadata"?}`. Answers a presigned PUT URL that takes exactly `size` bytes for
    ASSETRY_DIRECT_UPLOAD_TTL seconds; 409 when the store is not S3."""
    ticket = await services.direct_uploads.start(pool, body, actor)
    return JSONResponse(
        schemas.direct_upload_json(ticket.upload, ticket.url, ticket.headers), status_code=201)


@router.post("/direct-uploads/{upload_id}/complete", status_code=201,
             response_model=schemas.UploadOut, operation_id="completeDirectUpload",
             responses=problems(400, 403, 404, 409, 413, 415, 422))
async def complete(upload_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep,
                   wait: bool = False) -> JSONResponse:
    """Ingest the bytes PUT to the upload URL exactly as an upload (size, sniffing,
    decode, pixel cap, hashing); the upload and its S3 object are then gone. 409 while
    nothing was PUT yet. `wait=true` answers once versions are made."""
    asset = await services.direct_uploads.complete(upload_id, actor)
    asset = await uploads.settled(services, asset, actor, wait)
    return created(asset, sign, await services.duplicates.copy_of(asset, actor))
