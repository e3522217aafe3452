"""Duplicates: is an upload's content already in its pool, readable by the uploader?

The spool hashes every upload while it streams in, so the answer costs one indexed query
and never a decode; with `dedupe` the upload is then answered with the asset already
stored and nothing new is kept.
"""

from __future__ import annotations

from uuid import UUID

from assetry.domain.model import Actor, Asset, Pool
from assetry.domain.ports import Database, Spool, StagedFile, Transaction
from assetry.services import access


async def oldest_copy(tx: Transaction, pool: Pool, sha256: str, actor: Actor) -> UUID | None:
    """The id of the oldest asset of `pool` whose original has this SHA-256 and that
    `actor` may read (hidden ones only for moderators and admins), or None; read in
    `tx`, from the index alone."""
    if not access.can_read_pool(actor, pool):
        return None
    return await tx.assets.first_with_sha256(pool.name, sha256,
                                             include_hidden=actor.sees_hidden)


class DuplicateService:
    def __init__(self, db: Database, spool: Spool) -> None:
        self._db = db
        self._spool = spool

    async def original(self, pool: str, sha256: str, actor: Actor) -> UUID | None:
        """The id of the oldest asset of `pool` whose original has this SHA-256 and that
        `actor` may read (hidden ones only for moderators and admins), or None. Raises
        PoolNotFound."""
        async with self._db.transaction(write=False) as tx:
            return await oldest_copy(tx, await tx.pools.get(pool), sha256, actor)

    async def copy_of(self, asset: Asset, actor: Actor) -> UUID | None:
        """The id of the oldest other asset of `asset`'s pool holding the same bytes that
        `actor` may read, or None (for an asset just stored, whose bytes were not at hand
        before: imports, direct uploads). Raises PoolNotFound."""
        found = await self.original(asset.pool, asset.sha256, actor)
        # With no older copy, the oldest is the asset itself.
        return None if found == asset.id else found

    async def deduplicate(self, pool: Pool, staged: StagedFile, actor: Actor) -> Asset | None:
        """The asset of `pool` (as the upload's admission read it) that the staged bytes
        duplicate (see `original`), with the staged file discarded, so that nothing new
        is stored; or None, the staged file left as it is."""
        async with self._db.transaction(write=False) as tx:
            found = await oldest_copy(tx, pool, staged.sha256, actor)
            existing = None if found is None else await tx.assets.get(found)
        if existing is not None:
            self._spool.discard(staged)
        return existing
