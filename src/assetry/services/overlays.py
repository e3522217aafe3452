"""Overlay assets: the images a converter's `overlay` operations draw on its versions.

A converter is checked when it is stored (every overlay names an existing image asset);
a render looks them up again, since an overlay asset may be deleted later.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from uuid import UUID

from assetry.domain.converter import Converter, VersionSpec
from assetry.domain.model import Asset, AssetType
from assetry.domain.ports import Database, Transaction
from assetry.errors import AssetNotFound, InvalidConverter


def overlay_ids(specs: Iterable[VersionSpec]) -> set[str]:
    """The asset ids the specs' overlay operations name."""
    return {o.param("asset") for spec in specs for o in spec.overlays}


async def check_overlays(tx: Transaction, converter: Converter) -> None:
    """Raise InvalidConverter (naming the operation's `asset` field) unless every overlay
    of `converter` names an image asset that exists."""
    for i, spec in enumerate(converter.versions):
        for j, operation in enumerate(spec.operations):
            if operation.op != "overlay":
                continue
            field = f"versions[{i}].operations[{j}].asset"
            asset_id = operation.param("asset")
            try:
                asset = await tx.assets.get(UUID(asset_id))
            except AssetNotFound:
                raise InvalidConverter(f"{field}: no asset has id {asset_id}",
                                       field=field) from None
            if asset.type is not AssetType.IMAGE or asset.width is None:
                raise InvalidConverter(f"{field}: asset {asset_id} is a file, not an image",
                                       field=field)


async def overlay_assets(db: Database, ids: Collection[str]) -> dict[str, Asset]:
    """The image assets among `ids` that exist now, by id (the others are left out)."""
    found: dict[str, Asset] = {}
    if not ids:
        return found
    async with db.transaction(write=False) as tx:
        for asset_id in sorted(ids):
            try:
                asset = await tx.assets.get(UUID(asset_id))
            except AssetNotFound:
                continue
            if asset.type is AssetType.IMAGE and asset.width and asset.height:
                found[asset_id] = asset
    return found
