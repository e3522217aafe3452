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


def encoding_key(version_key: str, suffix: str) -> str:
    """The key of another rendition of the version stored under `version_key` (another
    format or srcset width, named by `suffix`: `avif`, `640w.webp`). Derived from the
    version's key, so that the key a render reserves covers every rendition it writes."""
    return f"{version_key}.{suffix}"


def rendition_owner(key: str) -> str:
    """The version key a rendition's key was derived from (the key itself otherwise:
    the keys made above have no dot)."""
    return key.split(".", 1)[0]


#: every part of every resumable upload is stored under this prefix
UPLOADS = "uploads/"


def upload_prefix(upload_id: UUID) -> str:
    """Where the parts of one resumable upload are stored; they go together."""
    return f"{UPLOADS}{upload_id.hex[:2]}/{upload_id}/"


def upload_part_key(upload_id: UUID, offset: int) -> str:
    """A fresh key for the bytes one PATCH brought from `offset`; two PATCHes racing from
    the same offset never share a key (only the one the database records is used)."""
    return f"{upload_prefix(upload_id)}{offset:020d}-{secrets.token_hex(6)}"


def upload_of(key: str) -> UUID | None:
    """The upload a part key belongs to; None for a key that is not a part key."""
    segments = key.split("/")
    if len(segments) != 4 or f"{segments[0]}/" != UPLOADS:
        return None
    try:
        return UUID(segments[2])
    except ValueError:
        return None


#: every direct upload's object is stored under this prefix until it is ingested
DIRECT_UPLOADS = "direct-uploads/"


def direct_upload_key(upload_id: UUID) -> str:
    """Where a client PUTs a direct upload's bytes; random, so no key is ever reused."""
    return f"{DIRECT_UPLOADS}{upload_id.hex[:2]}/{upload_id}/{secrets.token_hex(8)}"
