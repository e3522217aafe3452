"""Content: the facts a byte response needs, and the stream of the bytes themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from assetry.domain.model import AssetType
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


class ContentReader:
    """Streams stored bytes; knows nothing of who may read them (the services decide)."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    def stream(self, content: Content, start: int = 0, end: int | None = None
               ) -> AsyncIterator[bytes]:
        """The bytes [start, end). Raises BlobNotFound on first iteration if missing."""
        return self._blobs.stream(content.key, start, end)
