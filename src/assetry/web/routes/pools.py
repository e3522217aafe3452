"""/api/pools: pools, and the assets listing and upload inside one."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from assetry.domain.model import Asset
from assetry.web import schemas, uploads
from assetry.web.deps import ActorDep, ServicesDep, SignDep
from assetry.web.openapi import problems
from assetry.web.schemas import Sign

router = APIRouter(prefix="/api/pools", tags=["pools"])


@router.get("", response_model=schemas.PoolListOut, operation_id="listPools",
            responses=problems())
async def list_pools(services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    return {"items": [schemas.pool_json(p) for p in await services.pools.list(actor)]}


@router.get("/{name}", response_model=schemas.PoolOut, operation_id="getPool",
            responses=problems(404))
async def get_pool(name: str, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    return schemas.pool_json(await services.pools.get(name, actor))


@router.put("/{name}", response_model=schemas.PoolOut, operation_id="createOrUpdatePool",
            responses=problems(400, 403, 422) | {201: {"model": schemas.PoolOut}})
async def put_pool(name: str, services: ServicesDep, actor: ActorDep,
                   body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Create (201) or update (200) a pool; fields left out keep their value. Admins only."""
    pool, created = await services.pools.put(name, body, actor)
    return JSONResponse(schemas.pool_json(pool), status_code=201 if created else 200)


@router.delete("/{name}", status_code=204, operation_id="deletePool",
               responses=problems(403, 404, 409))
async def delete_pool(name: str, services: ServicesDep, actor: ActorDep) -> Response:
    """Only an empty pool can be deleted (409 otherwise). Admins only."""
    await services.pools.delete(name, actor)
    return Response(status_code=204)


@router.get("/{pool}/assets", response_model=schemas.AssetPageOut, operation_id="listAssets",
            responses=problems(400, 404))
async def list_assets(
    pool: str,
    services: ServicesDep,
    actor: ActorDep,
    sign: SignDep,
    type: Annotated[str | None, Query(description="image or file")] = None,
    gallery: str | None = None,
    attached_to: Annotated[str | None, Query(description="only assets attached to this")] = None,
    attached: Annotated[bool | None, Query(description="false: only unattached")] = None,
    sha256: Annotated[str | None, Query(
        description="only assets whose original has this SHA-256 (64 hex digits)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Newest first; follow `next_cursor` for the next page."""
    page = await services.assets.list(pool, actor, type=type, gallery=gallery,
                                      attached_to=attached_to, attached=attached,
                                      sha256=sha256, limit=limit, cursor=cursor)
    return schemas.page_json(page, sign)


@router.post("/{pool}/assets", status_code=201, response_model=schemas.UploadOut,
             openapi_extra=uploads.UPLOAD_DOC, operation_id="uploadAsset",
             responses=problems(400, 403, 404, 413, 415, 422) | {200: {
                 "model": schemas.UploadOut,
                 "description": "`dedupe=true` and the bytes are stored already: that "
                                "asset, and nothing new stored"}})
async def upload(pool: str, request: Request, services: ServicesDep, actor: ActorDep,
                 sign: SignDep, wait: bool = False, dedupe: Annotated[bool, Query(
                     description="answer 200 with the asset already holding these bytes, "
                                 "if any, instead of storing them again")] = False,
                 ) -> JSONResponse:
    """Upload a file (multipart, streamed). `wait=true` answers once versions are made;
    `duplicate_of` names an asset of the pool that holds the same bytes."""
    admission = await services.ingest.admit(pool, actor)
    staged, submission = await uploads.receive(request, services, admission.limit)
    if dedupe:
        existing = await services.duplicates.deduplicate(admission.pool, staged, actor)
        if existing is not None:
            body = {**schemas.write_json(existing, sign, changed=False),
                    "duplicate_of": str(existing.id)}
            return JSONResponse(body, headers={
                "Content-Location": schemas.asset_url(existing.id)})
        asset = await services.ingest.create(admission, staged, submission, actor)
        duplicate = None
    else:
        asset, duplicate = await services.ingest.create_noting_copy(
            admission, staged, submission, actor)
    asset = await uploads.settled(services, asset, actor, wait)
    return created(asset, sign, duplicate)


@router.post("/{pool}/imports", status_code=201, response_model=schemas.UploadOut,
             operation_id="importAsset",
             responses=problems(400, 403, 404, 413, 415, 422, 502, 504))
async def import_url(pool: str, services: ServicesDep, actor: ActorDep, sign: SignDep,
                     body: Annotated[dict[str, Any], Body()], wait: bool = False
                     ) -> JSONResponse:
    """Fetch `url` (http/https, public addresses only) and store it exactly as an upload:
    `{"url": "...", "gallery"?, "converter"?, "metadata"?, "attach_to"?}`."""
    asset = await services.imports.import_url(pool, body, actor)
    asset = await uploads.settled(services, asset, actor, wait)
    return created(asset, sign, await services.duplicates.copy_of(asset, actor))


def created(asset: Asset, sign: Sign, duplicate: UUID | None) -> JSONResponse:
    """201 with the new asset, its URLs as `created`, its Location, and the asset whose
    bytes it repeats (its id as `duplicate_of`, or null)."""
    body = schemas.write_json(asset, sign, created=[
        schemas.asset_url(asset.id), *(schemas.version_url(asset.id, v.name)
                                       for v in asset.versions)])
    body["duplicate_of"] = str(duplicate) if duplicate is not None else None
    return JSONResponse(body, status_code=201, headers={"Location": schemas.asset_url(asset.id)})
