"""Galleries: every image sharing one gallery (correlation) id, oldest first."""

from __future__ import annotations

from collections.abc import Sequence

from assetry.domain.model import Actor, Asset, Gallery
from assetry.domain.ports import Database
from assetry.errors import GalleryNotFound, Invalid
from assetry.services import access

MAX_IDS = 100


class GalleryService:
    """Unlike the original system, a gallery of many images returns every image (each with
    its most recent version of every name), not just the newest one."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, gallery_id: str, actor: Actor) -> Gallery:
        """Raises GalleryNotFound when no visible image has this gallery id."""
        found = await self.many([gallery_id], actor)
        if not found:
            raise GalleryNotFound(f"no image belongs to gallery {gallery_id!r}")
        return found[0]

    async def many(self, gallery_ids: Sequence[str], actor: Actor) -> list[Gallery]:
        """The galleries in the order asked; unknown (or empty) ids are left out."""
        if len(gallery_ids) > MAX_IDS:
            raise Invalid(f"at most {MAX_IDS} ids at once", field="id")
        ids = list(dict.fromkeys(gallery_ids))
        async with self._db.transaction(write=False) as tx:
            images = await tx.assets.in_galleries(ids)
            pools = {p.name: p for p in await tx.pools.list()}
        by_id: dict[str, list[Asset]] = {i: [] for i in ids}
        for asset in images:
            # A gallery may span pools: show only what this caller could read one by one.
            if access.can_read(actor, pools[asset.pool], asset):
                by_id[asset.gallery].append(asset)
        return [Gallery(id=i, images=tuple(by_id[i])) for i in ids if by_id[i]]
