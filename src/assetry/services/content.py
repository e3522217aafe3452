"""Content: the facts a byte response needs, and how its bytes leave the service:
streamed through Python, or handed to the store (a presigned redirect) or to nginx
(X-Accel-Redirect) once the access checks have passed."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import quote

from assetry.domain.model import Asset, AssetType, Encoding, Version
from assetry.domain.negotiation import Choice
from assetry.domain.ports import BlobStore

log = logging.getLogger(__name__)


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


class Delivery(StrEnum):
    """How bytes leave the service (ASSETRY_DELIVERY)."""

    STREAM = "stream"  #: through Python, in chunks
    REDIRECT = "redirect"  #: 302 to a presigned URL of the object (S3)
    ACCEL = "accel"  #: X-Accel-Redirect: nginx sends the file (local directory)


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the client to the store itself."""

    url: str  #: presigned; valid for at least `max_age` more seconds
    max_age: int  #: how long the redirect itself may be cached


@dataclass(frozen=True, slots=True)
class Accel:
    """Let nginx send the file from its internal location."""

    uri: str  #: the X-Accel-Redirect value: the internal prefix and the blob key


class ContentReader:
    """Streams stored bytes, or says where else they can come from; knows nothing of who
    may read them (the services decide that before anything here is asked).

    The configured delivery falls back to streaming when the store cannot do it:
    `redirect` needs a store that presigns URLs, `accel` a local blob directory.
    """

    def __init__(self, blobs: BlobStore, *, delivery: Delivery = Delivery.STREAM,
                 redirect_ttl: int = 300, accel_prefix: str = "/_assetry_blobs/",
                 clock: Callable[[], float] = time.time) -> None:
        self._blobs = blobs
        self._redirect_ttl = redirect_ttl
        self._accel_prefix = accel_prefix
        self._clock = clock
        usable = {
            Delivery.STREAM: True,
            Delivery.REDIRECT: blobs.signs_urls,
            Delivery.ACCEL: blobs.local_path("probe") is not None,
        }[delivery]
        if not usable:
            log.warning("ASSETRY_DELIVERY=%s needs %s; streaming the bytes instead",
                        delivery.value, "an S3 store with static credentials"
                        if delivery is Delivery.REDIRECT else "a local blob directory")
        #: the delivery in effect
        self.delivery = delivery if usable else Delivery.STREAM

    def stream(self, content: Content, start: int = 0, end: int | None = None
               ) -> AsyncIterator[bytes]:
        """The bytes [start, end). Raises BlobNotFound on first iteration if missing."""
        return self._blobs.stream(content.key, start, end)

    def handoff(self, content: Content, response: Mapping[str, str]) -> Redirect | Accel | None:
        """Where a GET of `content` is sent instead of streaming it: a Redirect whose
        store answers with the `response` headers (content-type, content-disposition,
        cache-control), an Accel for nginx, or None to stream.

        A presigned URL is issued per window of `redirect_ttl` seconds and valid for two
        windows: the same URL for every GET within a window (browsers and CDNs can keep
        the bytes), and at least `redirect_ttl` seconds left whenever it is handed out."""
        if self.delivery is Delivery.ACCEL:
            return Accel(self._accel_prefix + quote(content.key, safe="/"))
        if self.delivery is Delivery.REDIRECT:
            ttl = self._redirect_ttl
            window = int(self._clock()) // ttl * ttl
            url = self._blobs.presign(
                content.key, "GET", issued_at=datetime.fromtimestamp(window, UTC),
                expires_in=2 * ttl, response=response)
            if url is not None:
                return Redirect(url, max_age=ttl)
        return None
