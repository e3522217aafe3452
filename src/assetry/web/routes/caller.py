"""/api/me: who the caller is, as the token it sent says (for clients such as the web UI
that show or hide what a role may do; the services still decide every request)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assetry.web import schemas
from assetry.web.deps import ActorDep
from assetry.web.openapi import problems

router = APIRouter(prefix="/api", tags=["tokens"])


@router.get("/me", response_model=schemas.CallerOut, operation_id="getCaller",
            responses=problems())
async def get_caller(actor: ActorDep) -> dict[str, Any]:
    """The name and role of the token sent; both null without one. A bad token is 401."""
    return {"name": actor.name,
            "role": actor.role.name.lower() if actor.role is not None else None}
