"""Resumable uploads (tus 1.0): the upload record and the protocol's header rules.

Pure: parsing and checking what a tus client sends (Upload-Length, Upload-Offset,
Upload-Metadata, Upload-Checksum) and working out expiry times. Storing the bytes and
turning a finished upload into an asset are the service's business
(`services/resumable.py`); HTTP is the web edge's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from assetry.errors import Invalid

VERSION = "1.0.0"
#: the extensions this server implements, in the order Tus-Extension lists them
EXTENSIONS = ("creation", "termination", "expiration", "checksum")
#: Upload-Checksum algorithms; tus requires sha1
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
#: the only body type a PATCH may carry
OFFSET_STREAM = "application/offset+octet-stream"
#: Upload-Metadata keys that become the asset's fields, as the upload form's fields do;
#: other keys (tus clients add their own, e.g. `filetype`, `name`) are kept and ignored
SUBMISSION_KEYS = ("filename", "type", "gallery", "converter", "metadata", "mime_type")
#: longest Upload-Metadata header accepted (the upload form's `metadata` field may be
#: 64 KiB, which base64 makes 4/3 as long)
MAX_METADATA_HEADER = 96 * 1024

_INTEGER = re.compile(r"[0-9]{1,18}")  # ASCII digits only; 18 digits stay below 2**63
#: metadata keys are echoed in HEAD answers: visible ASCII only, never a header-breaking byte
_KEY = re.compile(r"[!-+\--~]+")  # visible ASCII but the comma
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


@dataclass(frozen=True, slots=True)
class UploadPart:
    """The bytes one PATCH added: `size` bytes from `offset`, stored under `blob_key`."""

    offset: int
    size: int
    blob_key: str


@dataclass(frozen=True, slots=True)
class Upload:
    """A resumable upload: `length` bytes announced, `offset` of them received so far.

    It belongs to the pool and the token name (`creator`) that created it. Once the last
    byte arrived and the ingest stored it, `asset_id` names the asset it became."""

    id: UUID
    pool: str
    creator: str | None
    length: int
    offset: int
    created_at: datetime
    expires_at: datetime
    #: Upload-Metadata as sent: key -> base64 value ("" when the key came without one)
    metadata: dict[str, str] = field(default_factory=dict)
    asset_id: UUID | None = None

    @property
    def complete(self) -> bool:
        return self.offset == self.length

    @property
    def remaining(self) -> int:
        return self.length - self.offset


class Hasher(Protocol):
    """What a hashlib object offers (hashlib's own type is private)."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Checksum:
    """An Upload-Checksum: the algorithm and the digest the chunk must have."""

    algorithm: str
    digest: bytes

    def hasher(self) -> Hasher:
        return hashlib.new(self.algorithm)

    def matches(self, hasher: Hasher) -> bool:
        return hasher.digest() == self.digest


def parse_integer(raw: str | None, header: str) -> int:
    """A non-negative integer header (Upload-Length, Upload-Offset). Raises Invalid."""
    if raw is None:
        raise Invalid(f"the {header} header is required", field=header)
    value = raw.strip()
    if not _INTEGER.fullmatch(value):
        raise Invalid(f"{header} must be a non-negative integer, not {raw[:40]!r}", field=header)
    return int(value)


def parse_metadata(raw: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be left
    out). Keys are unique, visible ASCII without commas; values strict base64. Returns
    key -> base64 text in the order sent. Raises Invalid (field `Upload-Metadata`)."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_METADATA_HEADER:
        raise Invalid(f"Upload-Metadata is longer than {MAX_METADATA_HEADER} characters",
                      field="Upload-Metadata")
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        key, _, value = item.strip().partition(" ")
        if not _KEY.fullmatch(key):
            raise Invalid("Upload-Metadata keys must be non-empty visible ASCII without "
                          f"commas or spaces: {key[:40]!r}", field="Upload-Metadata")
        if key in pairs:
            raise Invalid(f"Upload-Metadata names {key!r} twice", field="Upload-Metadata")
        if not _BASE64.fullmatch(value):
            raise Invalid(f"the Upload-Metadata value of {key!r} is not base64",
                          field="Upload-Metadata")
        pairs[key] = value
    return pairs


def encode_metadata(pairs: dict[str, str]) -> str:
    """The Upload-Metadata header for `pairs` (as parse_metadata returned them)."""
    return ",".join(f"{key} {value}" if value else key for key, value in pairs.items())


def submission_fields(pairs: dict[str, str]) -> dict[str, str]:
    """The SUBMISSION_KEYS present in `pairs`, decoded as UTF-8 text; keys whose value is
    empty are left out. Raises Invalid (field: the key) for a value that is not UTF-8."""
    fields: dict[str, str] = {}
    for key in SUBMISSION_KEYS:
        value = pairs.get(key)
        if not value:
            continue
        try:
            fields[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Invalid(f"Upload-Metadata {key!r} must be base64 of UTF-8 text",
                          field=key) from None
    return fields


def parse_checksum(raw: str | None) -> Checksum | None:
    """Upload-Checksum: `algorithm base64digest`, or None when the header is absent.
    Raises Invalid for an algorithm this server does not offer (tus: 400) or a digest
    that is not base64 of the algorithm's length."""
    if raw is None:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise Invalid(f"checksum algorithm {algorithm[:40]!r} is not supported; use one of "
                      f"{', '.join(CHECKSUM_ALGORITHMS)}", field="Upload-Checksum")
    encoded = encoded.strip()
    size = hashlib.new(algorithm).digest_size
    if not _BASE64.fullmatch(encoded) or len(digest := base64.b64decode(encoded)) != size:
        raise Invalid(f"the {algorithm} checksum must be {size} bytes in base64",
                      field="Upload-Checksum")
    return Checksum(algorithm=algorithm, digest=digest)


def is_offset_stream(content_type: str | None) -> bool:
    """Whether a PATCH's Content-Type is application/offset+octet-stream (parameters and
    case aside)."""
    return (content_type or "").split(";")[0].strip().lower() == OFFSET_STREAM


def expiry(at: datetime, seconds: float) -> datetime:
    """When an unfinished upload last touched at `at` expires: each accepted PATCH (and
    the creation) starts the period again, so a slow but steady upload never expires."""
    return at + timedelta(seconds=seconds)
