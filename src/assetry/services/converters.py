"""Converters: stored recipes of versions, validated before they are stored."""

from __future__ import annotations

from typing import Any

from assetry.domain.converter import Converter, parse_converter
from assetry.domain.model import Actor
from assetry.domain.ports import Database
from assetry.errors import Conflict
from assetry.services import access
from assetry.services.overlays import check_overlays


class ConverterService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, actor: Actor) -> list[Converter]:
        access.read_catalog(actor)
        async with self._db.transaction(write=False) as tx:
            return await tx.converters.list()

    async def get(self, name: str, actor: Actor) -> Converter:
        """Raises ConverterNotFound."""
        access.read_catalog(actor)
        async with self._db.transaction(write=False) as tx:
            return await tx.converters.get(name)

    async def put(self, name: str, body: Any, actor: Actor) -> tuple[Converter, bool]:
        """Validate and store; True when created. Raises InvalidConverter (nothing stored),
        also when an overlay names an asset that does not exist or is not an image."""
        access.administer(actor)
        converter = parse_converter(name, body)
        async with self._db.transaction() as tx:
            await check_overlays(tx, converter)
            created = await tx.converters.put(converter)
        return converter, created

    async def delete(self, name: str, actor: Actor) -> None:
        """Raises ConverterNotFound, or Conflict while a pool uses it by default."""
        access.administer(actor)
        async with self._db.transaction() as tx:
            await tx.converters.get(name)
            pools = await tx.converters.in_use(name)
            if pools:
                raise Conflict(f"converter {name!r} is the default of pool(s) {', '.join(pools)}")
            await tx.converters.delete(name)
