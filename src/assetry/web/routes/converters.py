"""/api/converters: stored recipes of versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse

from assetry.web import schemas
from assetry.web.deps import ActorDep, ServicesDep
from assetry.web.openapi import problems

router = APIRouter(prefix="/api/converters", tags=["converters"])


@router.get("", response_model=schemas.ConverterListOut, operation_id="listConverters",
            responses=problems())
async def list_converters(services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    items = await services.converters.list(actor)
    return {"items": [schemas.converter_json(c) for c in items]}


@router.get("/{name}", response_model=schemas.ConverterOut, operation_id="getConverter",
            responses=problems(404))
async def get_converter(name: str, services: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    return schemas.converter_json(await services.converters.get(name, actor))


@router.put("/{name}", response_model=schemas.ConverterOut,
            operation_id="createOrReplaceConverter",
            responses=problems(400, 403, 422) | {201: {"model": schemas.ConverterOut}})
async def put_converter(name: str, services: ServicesDep, actor: ActorDep,
                        body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
    """Create (201) or replace (200). A spec that cannot be carried out is refused (422)
    and nothing is stored."""
    converter, created = await services.converters.put(name, body, actor)
    return JSONResponse(schemas.converter_json(converter), status_code=201 if created else 200)


@router.delete("/{name}", status_code=204, operation_id="deleteConverter",
               responses=problems(403, 404, 409))
async def delete_converter(name: str, services: ServicesDep, actor: ActorDep) -> Response:
    """409 while a pool uses it as its default. Admins only."""
    await services.converters.delete(name, actor)
    return Response(status_code=204)
