"""Blob keys: always made here, from ids and random tokens, never from client strings."""

from __future__ import annotations

import secrets
from uuid import UUID


def original_key(asset_id: UUID) -> str:
    """A fresh key for an asset's original. A replacement gets a new key, so readers of the
    old bytes never see a half-replaced blob and the old blob can be deleted after commit."""
    return f"originals/{asset_id.hex[:2]}/{asset_id}/{secrets.token_hex(8)}"


def version_key(asset_id: UUID, version_id: UUID) -> str:
    """A fresh key for one render of a version; two racing renders never share a key."""
    return f"versions/{asset_id.hex[:2]}/{asset_id}/{version_id}-{secrets.token_hex(6)}"
