"""A short-lived, per-process cache of what byte deliveries need to know about an asset."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from assetry.domain.model import Asset, Pool
from assetry.domain.ports import Database


class AssetCache:
    """(asset, pool) pairs read for deliveries, kept for `ttl` seconds, at most `size`.

    Deliveries are most of the traffic and their metadata rarely changes, so a version GET
    can skip the database. This process forgets an asset the moment it changes it; other
    processes serving the same data may keep a stale entry for up to `ttl` seconds (a
    hide or a pool made private then takes that long to reach them). `ttl` 0 disables it.
    """

    def __init__(self, ttl: float, size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[UUID, tuple[float, Asset, Pool]] = OrderedDict()

    def get(self, asset_id: UUID) -> tuple[Asset, Pool] | None:
        entry = self._entries.get(asset_id)
        if entry is None:
            return None
        if entry[0] < self._clock():
            del self._entries[asset_id]
            return None
        return entry[1], entry[2]

    def put(self, asset: Asset, pool: Pool) -> None:
        if self.ttl <= 0:
            return
        self._entries[asset.id] = (self._clock() + self.ttl, asset, pool)
        self._entries.move_to_end(asset.id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget(self, asset_id: UUID) -> None:
        self._entries.pop(asset_id, None)

    def clear(self) -> None:
        self._entries.clear()


async def load_for_delivery(db: Database, cache: AssetCache, asset_id: UUID
                            ) -> tuple[Asset, Pool]:
    """The asset and its pool, from the cache when fresh, else from the database (and
    then cached). Raises AssetNotFound."""
    hit = cache.get(asset_id)
    if hit is not None:
        return hit
    async with db.transaction(write=False) as tx:
        asset = await tx.assets.get(asset_id)
        pool = await tx.pools.get(asset.pool)
    cache.put(asset, pool)
    return asset, pool
