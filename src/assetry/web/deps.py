"""Request dependencies: the services bundle and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assetry.bootstrap import Services
from assetry.domain.model import ANONYMOUS, Actor


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_actor(request: Request) -> Actor:
    """Who is asking. Until credentials exist every caller is anonymous."""
    return ANONYMOUS


ServicesDep = Annotated[Services, Depends(get_services)]
ActorDep = Annotated[Actor, Depends(get_actor)]
