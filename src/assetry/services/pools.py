"""Pools: create, change, list and delete the namespaces assets live in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assetry.domain.model import Actor, AssetType, Pool
from assetry.domain.ports import Database
from assetry.errors import ConverterNotFound, Invalid, InvalidConverter, PoolNotEmpty
from assetry.services import access
from assetry.services.cache import AssetCache

NAME_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
_FIELDS = {"name", "title", "asset_types", "max_size", "converter", "public", "transforms"}
TRANSFORMS = ("off", "signed")


class PoolService:
    """Pool rules: names are 1-64 of a-z 0-9 - _, `max_size` never above the global cap,
    `asset_types` a non-empty subset of the known types, the converter must exist."""

    def __init__(self, db: Database, *, max_upload_size: int, cache: AssetCache) -> None:
        self._cache = cache
        self._db = db
        self._cap = max_upload_size

    async def list(self, actor: Actor) -> list[Pool]:
        access.read_catalog(actor)
        async with self._db.transaction(write=False) as tx:
            return await tx.pools.list()

    async def get(self, name: str, actor: Actor) -> Pool:
        """Raises PoolNotFound."""
        access.read_catalog(actor)
        async with self._db.transaction(write=False) as tx:
            return await tx.pools.get(name)

    async def publicity(self) -> dict[str, bool]:
        """Which pools anyone may read, by name (for signing URLs; not access-checked).
        Kept per process like deliveries' metadata (services/cache.py): asked by every
        answer that carries asset JSON, it cost each of them a database round trip."""
        kept = self._cache.publicity()
        if kept is not None:
            return kept
        ticket = self._cache.ticket()
        async with self._db.transaction(write=False) as tx:
            public = {p.name: p.public for p in await tx.pools.list()}
        self._cache.keep_publicity(public, ticket=ticket)
        return public

    async def put(self, name: str, body: Mapping[str, Any], actor: Actor
                  ) -> tuple[Pool, bool]:
        """Create or update a pool from JSON fields; unspecified fields keep their value
        (or the default). Returns the pool and whether it was created. Raises Invalid,
        ConverterNotFound."""
        access.administer(actor)
        if not NAME_RE.match(name):
            raise Invalid("pool names are 1-64 of a-z 0-9 - _", field="name")
        unknown = set(body) - _FIELDS
        if unknown:
            raise Invalid(f"unknown field(s) {sorted(unknown)}", field=sorted(unknown)[0])
        if "name" in body and body["name"] != name:
            raise Invalid("differs from the name in the URL", field="name")
        async with self._db.transaction() as tx:
            current = next((p for p in await tx.pools.list() if p.name == name), None)
            base = current or Pool(name=name, max_size=self._cap)
            pool = Pool(
                name=name,
                title=_str(body.get("title", base.title), "title", 200),
                asset_types=_types(body.get("asset_types", list(base.asset_types))),
                max_size=_size(body.get("max_size", base.max_size), self._cap),
                converter=_str(body.get("converter", base.converter), "converter", 64),
                public=_bool(body.get("public", base.public), "public"),
                transforms=_transforms(body.get("transforms", base.transforms)),
            )
            try:
                await tx.converters.get(pool.converter)
            except ConverterNotFound:
                raise InvalidConverter(
                    f"no converter named {pool.converter!r}", field="converter"
                ) from None
            created = await tx.pools.put(pool)
        self._cache.clear()  # cached deliveries carry the pool's old `public`
        return pool, created

    async def delete(self, name: str, actor: Actor) -> None:
        """Raises PoolNotFound, PoolNotEmpty."""
        access.administer(actor)
        async with self._db.transaction() as tx:
            await tx.pools.get(name)
            count = await tx.assets.count_in_pool(name)
            if count:
                raise PoolNotEmpty(f"pool {name!r} still holds {count} asset(s)")
            await tx.pools.delete(name)


def _str(value: Any, field: str, most: int) -> str:
    if not isinstance(value, str) or len(value) > most:
        raise Invalid(f"must be a string of at most {most} characters", field=field)
    return value


def _transforms(value: Any) -> str:
    if value not in TRANSFORMS:
        raise Invalid(f"must be one of {', '.join(TRANSFORMS)}", field="transforms")
    return str(value)


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid("must be true or false", field=field)
    return value


def _size(value: Any, cap: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap:
        raise Invalid(f"must be an integer from 1 to {cap} (the global cap)", field="max_size")
    return value


def _types(value: Any) -> tuple[AssetType, ...]:
    try:
        types = tuple(dict.fromkeys(AssetType(v) for v in value))
    except (TypeError, ValueError):
        types = ()
    if not types or isinstance(value, str):
        raise Invalid(
            f"must be a non-empty list of {', '.join(t.value for t in AssetType)}",
            field="asset_types",
        )
    return types
