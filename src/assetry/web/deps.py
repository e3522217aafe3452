"""Request dependencies: the services bundle, who is asking, and how URLs are signed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assetry.bootstrap import Services
from assetry.domain.model import ANONYMOUS, Actor, Asset, Role
from assetry.web.schemas import Sign


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs plain-def dependencies in a thread pool, a thread hop
    # per request for a dictionary lookup.
    return services_of(request)


def actor_of(request: Request) -> Actor:
    """Who is asking, as the Authentication middleware settled it (anonymous outside
    /api/)."""
    actor: Actor = getattr(request.state, "actor", ANONYMOUS)
    return actor


def reader_of(request: Request) -> Actor:
    """For byte URLs: the caller, or, with a valid `exp` and `sig` for this very path, a
    reader of it (the signature stands in for a viewer token). A bad signature is 403
    (Forbidden). The byte lane (web/byte_lane.py) asks this too."""
    actor = actor_of(request)
    if "sig" not in request.query_params and "exp" not in request.query_params:
        return actor
    services_of(request).signer.verify(
        request.url.path, request.query_params.get("exp"), request.query_params.get("sig"))
    if actor.role is None:
        return Actor(name=None, role=Role.VIEWER)
    return actor


# The dependencies are async on purpose (see get_services).
async def get_actor(request: Request) -> Actor:
    return actor_of(request)


async def get_reader(request: Request) -> Actor:
    return reader_of(request)


async def get_sign(request: Request) -> Sign:
    """Signs the byte URLs of assets in non-public pools (so `<img src>` works without a
    token); public pools' URLs stay plain, and cacheable by anyone."""
    services = services_of(request)
    public = await services.pools.publicity()

    def sign(asset: Asset, url: str) -> str:
        return url if public.get(asset.pool, False) else services.signer.sign(url)

    return sign


ServicesDep = Annotated[Services, Depends(get_services)]
ActorDep = Annotated[Actor, Depends(get_actor)]
ReaderDep = Annotated[Actor, Depends(get_reader)]
SignDep = Annotated[Sign, Depends(get_sign)]
