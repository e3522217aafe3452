"""/api/assets/{id}: read, replace, patch, delete, content, attachments, convert, versions."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, Response

from assetry.bootstrap import Services
from assetry.domain.converter import MAX_DIMENSION
from assetry.domain.model import Actor
from assetry.domain.negotiation import Wanted
from assetry.errors import Invalid
from assetry.web import schemas, uploads
from assetry.web.delivery import respond
from assetry.web.deps import ActorDep, ReaderDep, ServicesDep, SignDep
from assetry.web.openapi import problems

router = APIRouter(prefix="/api/assets", tags=["assets"])

#: the formats a version can be stored in (`?format=`); domain/media.py FORMAT_MIME
OutputName = Literal["avif", "webp", "jpeg", "png", "gif", "tiff"]


def _bytes(media_range: str) -> dict[int | str, dict[str, Any]]:
    """Byte answers, whose `Content-Type` is the bytes' own (within `media_range`);
    octet-stream comes first so that client generators hand back the raw bytes."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    content = {"application/octet-stream": binary, media_range: binary}
    return {
        200: {"content": content, "description": "the bytes"},
        206: {"content": content, "description": "one range of the bytes"},
        302: {"description": "with ASSETRY_DELIVERY=redirect: the bytes are at `Location`, "
                             "a short-lived presigned URL of the blob store"},
        304: {"description": "not modified (`If-None-Match` matched the ETag)"},
    }


@router.get("/{asset_id}", response_model=schemas.AssetOut, operation_id="getAsset",
            responses=problems(400, 404, 410))
async def get_asset(asset_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep
                    ) -> dict[str, Any]:
    return schemas.asset_json(await services.assets.get(asset_id, actor), sign)


@router.put("/{asset_id}", response_model=schemas.AssetWriteOut, openapi_extra=uploads.UPLOAD_DOC,
            operation_id="replaceAsset",
            responses=problems(400, 403, 404, 409, 410, 413, 415, 422))
async def replace_asset(asset_id: UUID, request: Request, services: ServicesDep,
                        actor: ActorDep, sign: SignDep, wait: bool = False) -> dict[str, Any]:
    """Replace the bytes (same fields as an upload; `file` required). Every version is
    re-rendered and the old blobs are deleted."""
    limit = await services.ingest.admit_replacement(asset_id, actor)
    staged, submission = await uploads.receive(request, services, limit)
    asset = await services.ingest.replace(asset_id, staged, submission, actor)
    asset = await uploads.settled(services, asset, actor, wait)
    return schemas.write_json(asset, sign, modified=[schemas.asset_url(asset.id)])


@router.patch("/{asset_id}", response_model=schemas.AssetWriteOut, operation_id="patchAsset",
              responses=problems(400, 403, 404, 410))
async def patch_asset(asset_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep,
                      body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Change `filename`, `metadata`, `gallery` or `hidden`."""
    asset = await services.assets.patch(asset_id, body, actor)
    return schemas.write_json(asset, sign, modified=[schemas.asset_url(asset.id)])


@router.delete("/{asset_id}", response_model=schemas.AssetWriteOut, operation_id="deleteAsset",
               responses=problems(400, 403, 404, 410))
async def delete_asset(asset_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep
                       ) -> dict[str, Any]:
    """Delete the asset, its versions and every blob; its URLs then answer 404."""
    asset = await services.assets.delete(asset_id, actor)
    removed = [schemas.asset_url(asset.id),
               *(schemas.version_url(asset.id, v.name) for v in asset.versions)]
    return schemas.write_json(asset, sign, removed=removed)


@router.get("/{asset_id}/content", operation_id="getContent", response_class=Response,
            responses=_bytes("*/*") | problems(400, 403, 404, 410, 416))
@router.head("/{asset_id}/content", include_in_schema=False)
async def get_content(asset_id: UUID, request: Request, services: ServicesDep,
                      actor: ReaderDep) -> Response:
    """The original bytes, exactly as uploaded."""
    return await content_answer(request, services, actor, asset_id)


@router.get("/{asset_id}/versions/{name}", operation_id="getVersion", response_class=Response,
            responses=_bytes("image/*") | problems(400, 403, 404, 410, 416, 422))
@router.head("/{asset_id}/versions/{name}", include_in_schema=False)
async def get_version(
    asset_id: UUID, name: str, request: Request, services: ServicesDep, actor: ReaderDep,
    w: Annotated[int | None, Query(ge=1, le=MAX_DIMENSION, description=(
        "one of the version's srcset `widths` (404 for another)"))] = None,
    fmt: Annotated[OutputName | None, Query(alias="format", description=(
        "one of the formats the version is stored in, instead of choosing by `Accept` "
        "(404 for another)"))] = None,
) -> Response:
    """A version's bytes; a pending version is rendered first (one render however many
    requests wait); a failed one answers 422 with the reason. A `format: auto` version
    is chosen by `Accept` (AVIF, WebP, then the fallback) and says `Vary: Accept`."""
    return await version_answer(request, services, actor, asset_id, name, w, fmt)


# The two byte routes' answers, once: web/byte_lane.py gives them without the router.
async def content_answer(request: Request, services: Services, actor: Actor, asset_id: UUID
                         ) -> Response:
    content = await services.assets.content(asset_id, actor)
    return await respond(request, content, services.content, services.settings.cache_max_age)


async def version_answer(request: Request, services: Services, actor: Actor, asset_id: UUID,
                         name: str, w: int | None, fmt: str | None) -> Response:
    wanted = Wanted(width=w, format=fmt, accept=request.headers.get("accept"))
    content = await services.versions.content(asset_id, name, actor, wanted)
    return await respond(request, content, services.content, services.settings.cache_max_age)


def _param(description: str) -> Any:
    return Query(description=description)


@router.get("/{asset_id}/render", operation_id="renderAsset", response_class=Response,
            responses=_bytes("image/*") | problems(400, 403, 404, 409, 410, 422, 503))
@router.head("/{asset_id}/render", include_in_schema=False)
async def render(
    asset_id: UUID, request: Request, services: ServicesDep, actor: ActorDep,
    w: Annotated[str | None, _param("width, 1 to 4096")] = None,
    h: Annotated[str | None, _param("height, 1 to 4096")] = None,
    fit: Annotated[str | None, _param("cover, contain, inside or fill; default cover "
                                      "with w and h, inside with one")] = None,
    gravity: Annotated[str | None, _param("centre, attention or focal")] = None,
    format: Annotated[str | None, _param("same (default), jpeg, png, webp, avif, gif, "
                                         "tiff, or auto (chosen by Accept)")] = None,
    q: Annotated[str | None, _param("quality, 1 to 100 (default 80)")] = None,
    exp: Annotated[str | None, _param("optional Unix time after which the URL is "
                                      "refused")] = None,
    sig: Annotated[str | None, _param("HMAC-SHA256 (base64url) of the asset id and the "
                                      "other parameters, sorted")] = None,
) -> Response:
    """A signed on-the-fly transform of an image, for pools with `transforms: signed`:
    rendered on the first request, then served from storage. The parameters above are
    read from the query as sent (the signature covers every one)."""
    content = await services.transforms.content(asset_id, request.query_params.multi_items(),
                                                actor, accept=request.headers.get("accept"))
    return await respond(request, content, services.content, services.settings.cache_max_age)


@router.delete("/{asset_id}/versions/{name}", response_model=schemas.AssetWriteOut,
               operation_id="deleteVersion", responses=problems(400, 403, 404, 410))
async def delete_version(asset_id: UUID, name: str, services: ServicesDep, actor: ActorDep,
                         sign: SignDep) -> dict[str, Any]:
    asset = await services.versions.delete(asset_id, name, actor)
    return schemas.write_json(asset, sign, modified=[schemas.asset_url(asset.id)],
                              removed=[schemas.version_url(asset.id, name)])


@router.post("/{asset_id}/convert", response_model=schemas.AssetWriteOut,
             operation_id="convertAsset",
             responses=problems(400, 403, 404, 409, 410, 422))
async def convert(asset_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep,
                  body: Annotated[dict[str, Any] | None, Body()] = None,
                  wait: bool = False) -> dict[str, Any]:
    """(Re)make versions with `converter` (default: the asset's), `settings` overriding
    its specs for this call: `{"versions": {"thumbnail": {"width": 50}}}`."""
    body = body or {}
    unknown = set(body) - {"converter", "settings"}
    if unknown:
        raise Invalid(f"unknown field(s) {sorted(unknown)}", field=sorted(unknown)[0])
    name = body.get("converter")
    if name is not None and not isinstance(name, str):
        raise Invalid("must be a converter name", field="converter")
    asset = await services.versions.convert(asset_id, name, body.get("settings"), actor)
    asset = await uploads.settled(services, asset, actor, wait)
    return schemas.write_json(asset, sign, modified=[schemas.asset_url(asset.id)])


@router.post("/{asset_id}/attachments", response_model=schemas.AssetWriteOut,
             operation_id="attachAsset", responses=problems(400, 403, 404, 410))
async def attach(asset_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep,
                 body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Record that another system's resource uses this asset: `{"resource": "..."}`."""
    asset = await services.assets.attach(asset_id, body.get("resource"), actor)
    return schemas.write_json(asset, sign, modified=[schemas.asset_url(asset.id)])


@router.delete("/{asset_id}/attachments", response_model=schemas.AssetWriteOut,
               operation_id="detachAsset", responses=problems(400, 403, 404, 410))
async def detach(asset_id: UUID, services: ServicesDep, actor: ActorDep, sign: SignDep,
                 resource: Annotated[str, Query(min_length=1, max_length=512)]
                 ) -> dict[str, Any]:
    asset = await services.assets.detach(asset_id, resource, actor)
    return schemas.write_json(asset, sign, modified=[schemas.asset_url(asset.id)])
