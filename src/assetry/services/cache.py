"""A short-lived, per-process cache of what byte deliveries need to know about an asset,
kept in step with the other processes through notices."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple
from uuid import UUID

from assetry.domain.model import Asset, Pool
from assetry.domain.notices import Notice, Topic
from assetry.domain.ports import Database, Notices


class AssetCache:
    """(asset, pool) pairs read for deliveries, kept for `ttl` seconds, at most `size`;
    and which pools are public (every answer with asset JSON signs its URLs by it).

    Deliveries are most of the traffic and their metadata rarely changes, so a version GET
    can skip the database. A change made here is forgotten here at once and announced to
    the other processes (`notices`); on PostgreSQL they hear of it within milliseconds and
    while they cannot hear (the channel is down) they do not use the cache at all. Without
    a channel (SQLite), other processes serving the same data may keep a stale entry for
    up to `ttl` seconds (a hide or a pool made private then takes that long to reach
    them). `ttl` 0 disables it.
    """

    def __init__(self, ttl: float, size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic,
                 notices: Notices | None = None) -> None:
        self.ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[UUID, tuple[float, Asset, Pool]] = OrderedDict()
        self._notices = notices
        #: counts changes; a read that began before a change to its asset is not cached
        self._generation = 0
        #: asset -> generation of its last change, for the `size` most recent changes
        self._changed: OrderedDict[UUID, int] = OrderedDict()
        #: generation of the newest change no longer in _changed (or of the last clear)
        self._floor = 0
        #: generation of the last pool change (a clear); and the pools' publicity
        self._pools_changed = 0
        self._publicity: tuple[float, dict[str, bool]] | None = None
        if notices is not None:
            notices.subscribe(self._heard)

    def ticket(self) -> int:
        """Take before reading an asset to cache; `put` refuses it if the asset changed
        since (the read may predate the change)."""
        return self._generation

    def get(self, asset_id: UUID) -> tuple[Asset, Pool] | None:
        if self._notices is not None and not self._notices.live:
            return None  # changes elsewhere might go unheard
        entry = self._entries.get(asset_id)
        if entry is None:
            return None
        if entry[0] < self._clock():
            del self._entries[asset_id]
            return None
        return entry[1], entry[2]

    def put(self, asset: Asset, pool: Pool, *, ticket: int) -> None:
        if self.ttl <= 0 or self._changed.get(asset.id, self._floor) > ticket:
            return
        self._entries[asset.id] = (self._clock() + self.ttl, asset, pool)
        self._entries.move_to_end(asset.id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def publicity(self) -> dict[str, bool] | None:
        """Which pools are public, by name, as last kept here; None when not kept, older
        than `ttl`, or while changes elsewhere might go unheard. Do not mutate it."""
        if self._notices is not None and not self._notices.live:
            return None
        if self._publicity is None or self._publicity[0] < self._clock():
            return None
        return self._publicity[1]

    def keep_publicity(self, public: dict[str, bool], *, ticket: int) -> None:
        """Keep what a read that began at `ticket` found, unless a pool changed since."""
        if self.ttl <= 0 or self._pools_changed > ticket:
            return
        self._publicity = (self._clock() + self.ttl, public)

    def forget(self, asset_id: UUID) -> None:
        """This process changed the asset: drop it here and tell the other processes."""
        self._drop([asset_id])
        if self._notices is not None:
            self._notices.publish(Notice(Topic.ASSETS, frozenset({asset_id})))

    def clear(self) -> None:
        """This process changed a pool: drop everything and tell the other processes."""
        self._drop_all()
        if self._notices is not None:
            self._notices.publish(Notice(Topic.POOLS))

    def _heard(self, notice: Notice) -> None:
        if notice.topic is Topic.ASSETS:
            self._drop(notice.assets)
        elif notice.topic in (Topic.POOLS, Topic.RESYNC):
            self._drop_all()

    def _drop(self, asset_ids: Iterable[UUID]) -> None:
        self._generation += 1
        for asset_id in asset_ids:
            self._entries.pop(asset_id, None)
            self._changed[asset_id] = self._generation
            self._changed.move_to_end(asset_id)
        while len(self._changed) > self._size:
            _, self._floor = self._changed.popitem(last=False)

    def _drop_all(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._changed.clear()
        self._floor = self._pools_changed = self._generation
        self._publicity = None


class Loaded(NamedTuple):
    """An asset and its pool as `load_for_delivery` found them."""

    asset: Asset
    pool: Pool
    #: read from the database by this call (not a cached copy, which may be up to the
    #: cache's TTL old)
    fresh: bool


async def load_for_delivery(db: Database, cache: AssetCache, asset_id: UUID) -> Loaded:
    """The asset and its pool, from the cache when fresh, else from the database (and
    then cached). Raises AssetNotFound."""
    hit = cache.get(asset_id)
    if hit is not None:
        return Loaded(*hit, fresh=False)
    ticket = cache.ticket()
    async with db.transaction(write=False) as tx:
        asset = await tx.assets.get(asset_id)
        pool = await tx.pools.get(asset.pool)
    cache.put(asset, pool, ticket=ticket)
    return Loaded(asset, pool, fresh=True)
