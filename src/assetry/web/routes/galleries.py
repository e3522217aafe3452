"""/api/galleries: images grouped by gallery (correlation) id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from assetry.web import schemas
from assetry.web.deps import ActorDep, ServicesDep, SignDep
from assetry.web.openapi import problems

router = APIRouter(prefix="/api/galleries", tags=["galleries"])


@router.get("", response_model=schemas.GalleryListOut, operation_id="listGalleries",
            responses=problems(400))
async def list_galleries(services: ServicesDep, actor: ActorDep, sign: SignDep,
                         id: Annotated[list[str], Query()]) -> dict[str, Any]:
    """The galleries asked for, in the order asked; unknown ids are left out."""
    found = await services.galleries.many(id, actor)
    return {"items": [schemas.gallery_json(g, sign) for g in found]}


@router.get("/{gallery_id}", response_model=schemas.GalleryOut, operation_id="getGallery",
            responses=problems(404))
async def get_gallery(gallery_id: str, services: ServicesDep, actor: ActorDep,
                      sign: SignDep) -> dict[str, Any]:
    """Every image of the gallery, oldest first, each with its versions."""
    return schemas.gallery_json(await services.galleries.get(gallery_id, actor), sign)
