"""Content: the facts a byte response needs, and the stream of the bytes themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from assetry.domain.model import Asset, AssetType, Encoding, Version
from assetry.domain.negotiation import Choice
from assetry.domain.ports import BlobStore


@dataclass(frozen=True, slots=True)
class Content:
    """One stored blob as it is delivered: original or version."""

    key: str
    size: int
    sha256: str
    mime_type: str
    filename: str
    asset_type: AssetType
    modified_at: datetime
    #: anyone may read it (public pool, not hidden), so shared caches may keep it
    public: bool
    #: the request header that chose these bytes among others (`Accept`), if one did
    vary: str | None = None
    #: the SHA-256 a URL's `v` must name for the answer to be immutable, when it is not
    #: `sha256` (a negotiated answer: the digest of every variant, domain/negotiation.py)
    pin: str | None = None


def rendition_content(asset: Asset, version: Version, choice: Choice, *, public: bool
                      ) -> Content:
    """What a version's URL serves when `choice` picked one of its renditions."""
    r = choice.rendition
    return Content(
        key=r.blob_key, size=r.size, sha256=r.sha256, mime_type=r.mime_type,
        filename=_filename(asset, version, r), asset_type=AssetType.IMAGE,
        modified_at=version.created_at, public=public,
        vary="Accept" if choice.negotiated else None, pin=choice.pin,
    )


def _filename(asset: Asset, version: Version, rendition: Encoding) -> str:
    stem = asset.filename.rsplit(".", 1)[0] or "image"
    width = f"-{rendition.srcset_width}w" if rendition.srcset_width else ""
    ext = "jpg" if rendition.format == "jpeg" else rendition.format
    return f"{stem}-{version.name}{width}.{ext}"


class ContentReader:
    """Streams stored bytes; knows nothing of who may read them (the services decide)."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    def stream(self, content: Content, start: int = 0, end: int | None = None
               ) -> AsyncIterator[bytes]:
        """The bytes [start, end). Raises BlobNotFound on first iteration if missing."""
        return self._blobs.stream(content.key, start, end)
