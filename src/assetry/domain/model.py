"""Asset, Version, Pool and Gallery: frozen value objects shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID

from assetry.domain.converter import VersionSpec
from assetry.domain.media import format_of
from assetry.domain.placeholder import Placeholder


class AssetType(StrEnum):
    IMAGE = "image"
    FILE = "file"


class VersionStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Pool:
    """A named namespace for assets and the rules its uploads must follow."""

    name: str
    title: str = ""
    asset_types: tuple[AssetType, ...] = (AssetType.IMAGE, AssetType.FILE)
    max_size: int = 16 * 1024 * 1024
    converter: str = "default"
    public: bool = True
    #: "off", or "signed": GET /api/assets/{id}/render serves signed transforms
    transforms: str = "off"


@dataclass(frozen=True, slots=True)
class Encoding:
    """One stored rendition of a version besides its main one: another format (`format:
    auto`) or another width (`widths`), or both. Renditions may share a blob (a srcset
    width equal to the version's own size is its main bytes)."""

    format: str  #: jpeg, png, webp, avif, gif or tiff
    srcset_width: int | None  #: the width asked for with `?w=`; None: the version's own size
    blob_key: str
    mime_type: str
    width: int
    height: int
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Version:
    """One derivative of an image, made by one VersionSpec of a converter.

    `width` ... `blob_key` describe its main rendition (for `format: auto`, the fallback
    at the version's own size); `encodings` the others."""

    id: UUID
    asset_id: UUID
    name: str
    spec: VersionSpec
    status: VersionStatus
    created_at: datetime
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None
    size: int | None = None
    sha256: str | None = None
    blob_key: str | None = None
    error: str | None = None
    #: when a transform's stored result was last served (None for converter versions)
    used_at: datetime | None = None
    encodings: tuple[Encoding, ...] = ()

    @property
    def all_encodings(self) -> tuple[Encoding, ...]:
        """Every stored rendition of the version, the main one first (none unless it is
        ready)."""
        if self.blob_key is None or self.mime_type is None:
            return ()
        main = Encoding(format=format_of(self.mime_type), srcset_width=None,
                        blob_key=self.blob_key, mime_type=self.mime_type,
                        width=self.width or 0, height=self.height or 0, size=self.size or 0,
                        sha256=self.sha256 or "")
        return (main, *self.encodings)

    @property
    def blob_keys(self) -> tuple[str, ...]:
        """Every blob this version holds, each once (what deleting it must delete)."""
        keys = (self.blob_key, *(e.blob_key for e in self.encodings))
        return tuple(dict.fromkeys(k for k in keys if k is not None))


@dataclass(frozen=True, slots=True)
class Asset:
    """An uploaded original, its facts, and (for images) its versions."""

    id: UUID
    pool: str
    type: AssetType
    filename: str
    mime_type: str
    size: int
    sha256: str
    blob_key: str
    gallery: str
    converter: str | None
    created_at: datetime
    modified_at: datetime
    width: int | None = None
    height: int | None = None
    frames: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    hidden: bool = False
    creator: str | None = None
    modified_by: str | None = None
    attached_to: tuple[str, ...] = ()
    versions: tuple[Version, ...] = ()
    #: ThumbHash, BlurHash and colour of an image, made at ingest (None for files, and
    #: for images stored before placeholders existed)
    placeholder: Placeholder | None = None
    #: stored results of on-the-fly transforms, named by their canonical spec; kept
    #: apart from `versions`, which are the converter's
    renditions: tuple[Version, ...] = ()

    def version(self, name: str) -> Version | None:
        return next((v for v in self.versions if v.name == name), None)

    def rendition(self, name: str) -> Version | None:
        return next((v for v in self.renditions if v.name == name), None)


@dataclass(frozen=True, slots=True)
class Gallery:
    """Every image sharing one gallery (correlation) id, oldest first."""

    id: str
    images: tuple[Asset, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing and the cursor of the next, if any."""

    items: tuple[Asset, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AssetFilter:
    """What a pool listing keeps: every given criterion must hold."""

    pool: str
    type: AssetType | None = None
    gallery: str | None = None
    attached_to: str | None = None
    attached: bool | None = None
    sha256: str | None = None  #: lowercase hex digest of the original's bytes
    include_hidden: bool = True


class Role(IntEnum):
    """Each role includes the ones before it."""

    VIEWER = 1
    EDITOR = 2
    MODERATOR = 3
    ADMIN = 4


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking: a token's name and role, or nobody (anonymous)."""

    name: str | None = None
    role: Role | None = None

    @property
    def sees_hidden(self) -> bool:
        return self.role is not None and self.role >= Role.MODERATOR


ANONYMOUS = Actor()


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer credential as stored: its name, role and the SHA-256 of its secret."""

    name: str
    role: Role
    hash: str
    created_at: datetime
    revoked_at: datetime | None = None
