"""Who may do what: the one place the role rules of API.md ("Credentials") live.

    anonymous   read assets of public pools; nothing else
    viewer      read every pool, its assets, converters
    editor      upload and import; replace, patch, attach, convert and delete its own assets
    moderator   hide and unhide; replace, patch and delete any asset
    admin       pools, converters, tokens

Each function raises Unauthenticated (no credentials, where they would help) or Forbidden.
"""

from __future__ import annotations

from collections.abc import Iterable

from assetry.domain.model import Actor, Asset, Pool, Role
from assetry.errors import Forbidden, Hidden, Unauthenticated


def _need(actor: Actor, role: Role, what: str) -> None:
    if actor.role is None:
        raise Unauthenticated(f"{what} needs credentials (role {role.name.lower()} or above)")
    if actor.role < role:
        raise Forbidden(f"{what} needs role {role.name.lower()} or above; "
                        f"this token is {actor.role.name.lower()}")


def check_visible(asset: Asset, actor: Actor) -> None:
    """Raise Hidden unless the asset is visible to `actor` (moderators see hidden ones)."""
    if asset.hidden and not actor.sees_hidden:
        raise Hidden(modified_by=asset.modified_by, modification_date=asset.modified_at)


def can_read(actor: Actor, pool: Pool, asset: Asset) -> bool:
    """Whether `actor` may read this asset of this pool (for filtering lists)."""
    return (pool.public or actor.role is not None) and not (
        asset.hidden and not actor.sees_hidden)


def can_read_pool(actor: Actor, pool: Pool) -> bool:
    """Whether `actor` may read the pool's (visible) assets, as `read_pool` decides."""
    return pool.public or actor.role is not None


def readable_pools(actor: Actor, pools: Iterable[Pool]) -> list[str]:
    """Names of the pools whose assets `actor` may read (for filtering listings that
    span pools): every pool for a token of any role, the public ones otherwise."""
    return [p.name for p in pools if can_read_pool(actor, p)]


def read_pool(actor: Actor, pool: Pool) -> None:
    """Reading a pool's assets: anyone for a public pool, viewers and above otherwise."""
    if not pool.public:
        _need(actor, Role.VIEWER, f"reading pool {pool.name!r}")


def read_catalog(actor: Actor) -> None:
    """Reading pools and converters themselves."""
    _need(actor, Role.VIEWER, "reading pools and converters")


def create_assets(actor: Actor) -> None:
    _need(actor, Role.EDITOR, "adding assets")


def change_asset(actor: Actor, asset: Asset) -> None:
    """Replace, patch, attach, convert, delete: editors their own assets, moderators any."""
    _need(actor, Role.EDITOR, "changing assets")
    if actor.role is not None and actor.role >= Role.MODERATOR:
        return
    if asset.creator is None or asset.creator != actor.name:
        raise Forbidden("editors may change only the assets they created")


def moderate(actor: Actor) -> None:
    """Hiding and unhiding."""
    _need(actor, Role.MODERATOR, "hiding and unhiding assets")


def administer(actor: Actor) -> None:
    """Pools, converters and tokens."""
    _need(actor, Role.ADMIN, "managing pools, converters and tokens")
