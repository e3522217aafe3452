"""LocalClient: the AssetClient of a local data directory, in-process through the library.

It answers exactly as the HTTP API would: assets and pools are rendered by the API's own
schemas, and domain errors carry the status the web edge would give them. A manifest or
a failure table is the same whichever way a run went.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar
from uuid import UUID

from assetry.bulk.ports import LISTING_PAGE, Refused
from assetry.config import Settings
from assetry.domain.bulk import PoolInfo, StoredAsset
from assetry.errors import AssetryError
from assetry.library import Assetry
from assetry.web.errors import status_for
from assetry.web.schemas import asset_json, pool_json

T = TypeVar("T")

class LocalClient:
    """Runs as the library's trusted local caller (role admin): it sees hidden assets."""

    def __init__(self, assetry: Assetry) -> None:
        self._assetry = assetry

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[LocalClient]:
        """The services of `settings`' data directory. No render worker runs here: the
        render jobs of imported images wait, durably, for the server's workers (or
        `assetry worker --once`), and a GET of a version renders it on the spot."""
        async with Assetry.open(settings, run_worker=False) as assetry:
            yield cls(assetry)

    async def pool(self, name: str) -> PoolInfo:
        services = self._assetry.services
        pool = await _refusing(services.pools.get(name, self._assetry.actor))
        return PoolInfo.from_json(pool_json(pool))

    async def has(self, pool: str, sha256: str) -> bool:
        page = await _refusing(self._assetry.list(pool, sha256=sha256, limit=1))
        return bool(page.items)

    async def upload(self, pool: str, path: Path, *, filename: str,
                     gallery: str | None, converter: str | None) -> str:
        asset = await _refusing(self._assetry.create(
            path, pool=pool, filename=filename, gallery=gallery, converter=converter))
        return str(asset.id)

    async def assets(self, pool: str) -> AsyncGenerator[StoredAsset, None]:
        cursor: str | None = None
        while True:
            page = await _refusing(self._assetry.list(pool, limit=LISTING_PAGE, cursor=cursor))
            for asset in page.items:
                yield StoredAsset.from_json(asset_json(asset))
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def content(self, asset_id: str) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._assetry.stream(UUID(asset_id)):
                yield chunk
        except AssetryError as exc:
            raise Refused(status_for(exc), exc.message) from None


async def _refusing(call: Awaitable[T]) -> T:
    """The call's result; a domain error becomes Refused with the status the API gives it."""
    try:
        return await call
    except AssetryError as exc:
        raise Refused(status_for(exc), exc.message) from None
