"""Response shapes: the only place API field names are chosen (API.md is the contract)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from assetry.domain.caching import pinned
from assetry.domain.converter import Converter
from assetry.domain.direct_upload import DirectUpload
from assetry.domain.model import Asset, Gallery, Page, Pool, Version
from assetry.domain.negotiation import url_sha256
from assetry.domain.placeholder import Placeholder


def ts(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a Z, e.g. 2026-11-22T01:02:03.456Z."""
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def asset_url(asset_id: UUID | str) -> str:
    return f"/api/assets/{asset_id}"


def pool_url(name: str) -> str:
    return f"/api/pools/{name}"


def version_url(asset_id: UUID | str, name: str) -> str:
    return f"/api/assets/{asset_id}/versions/{name}"


class EncodingOut(BaseModel):
    url: str
    mime_type: str
    size: int
    width: int
    height: int


class VersionOut(BaseModel):
    id: UUID
    url: str
    width: int | None
    height: int | None
    mime_type: str | None
    size: int | None
    status: str = Field(description="pending, ready or failed")
    created_at: str
    error: str | None = Field(None, description="why the render failed (status failed only)")
    formats: dict[str, EncodingOut] | None = Field(
        None, description="`format: auto` versions: each stored format by name (avif, webp, "
                          "and the jpeg, png or gif fallback); `url` asks for it explicitly")
    srcset: str | None = Field(
        None, description="versions with `widths`: `URL 320w, URL 640w, …` for `<img srcset>`")


class PlaceholderOut(BaseModel):
    thumbhash: str = Field(description="ThumbHash bytes in base64 (standard, padded)")
    blurhash: str = Field(description="BlurHash, 4x3 components")
    color: str = Field(description="dominant colour, #rrggbb")


class AssetOut(BaseModel):
    id: UUID
    pool: str
    type: str = Field(description="image or file")
    filename: str
    mime_type: str
    size: int
    sha256: str
    width: int | None = Field(description="upright (EXIF-oriented) width; null for files")
    height: int | None
    gallery: str
    converter: str | None
    metadata: dict[str, Any]
    attached_to: list[str]
    hidden: bool
    creator: str | None
    modified_by: str | None
    created_at: str
    modified_at: str
    url: str
    content_url: str
    versions: dict[str, VersionOut]
    placeholder: PlaceholderOut | None = Field(
        description="what to show while the image loads; null for files (and for images "
                    "stored before placeholders existed, until replaced)")


class UpdatedResources(BaseModel):
    created: list[str]
    modified: list[str]
    removed: list[str]
    changed_descendants: list[str]


class AssetWriteOut(AssetOut):
    updated_resources: UpdatedResources


class UploadOut(AssetWriteOut):
    duplicate_of: str | None = Field(
        description="the oldest asset of the same pool, readable by the uploader, whose "
                    "original has the same SHA-256; null when there is none. With "
                    "`dedupe=true` and a duplicate, the answer is that asset (200)")


class AssetPageOut(BaseModel):
    items: list[AssetOut]
    next_cursor: str | None


class PoolOut(BaseModel):
    name: str
    title: str
    asset_types: list[str]
    max_size: int
    converter: str
    public: bool
    transforms: str = Field(description="off, or signed: GET /api/assets/{id}/render serves "
                                        "signed on-the-fly transforms of the pool's images")
    url: str
    assets_url: str


class PoolListOut(BaseModel):
    items: list[PoolOut]


class GalleryOut(BaseModel):
    id: str
    images: list[AssetOut]


class GalleryListOut(BaseModel):
    items: list[GalleryOut]


class ConverterOut(BaseModel):
    name: str
    versions: list[dict[str, Any]]


class ConverterListOut(BaseModel):
    items: list[ConverterOut]


class CallerOut(BaseModel):
    name: str | None = Field(description="the token's name; null for an anonymous caller")
    role: str | None = Field(description="viewer, editor, moderator or admin; null for an "
                                         "anonymous caller")


class DirectUploadOut(BaseModel):
    """An announced direct upload: PUT the bytes to `upload_url`, then POST `complete_url`."""

    id: UUID
    pool: str
    filename: str
    size: int = Field(description="the exact number of bytes to PUT")
    mime_type: str | None
    upload_url: str = Field(description="presigned S3 URL; send the bytes with PUT, no "
                                        "credentials")
    upload_method: str = Field(description="always `PUT`")
    upload_headers: dict[str, str] = Field(
        description="headers the PUT must carry exactly (`Content-Length`: the signed size)")
    upload_expires_at: str = Field(description="the upload URL works until then")
    expires_at: str = Field(description="complete it before then; later it is gone (404)")
    complete_url: str


class HealthOut(BaseModel):
    status: str = Field(description='"ok", or "unavailable" when a part below is not "ok"')
    database: str = Field(description='"ok", or "unavailable: " and the reason')
    storage: str = Field(description='"ok", or "unavailable: " and the reason')


class LiveOut(BaseModel):
    status: str = Field(description='always "ok": the process is up and serving')


class FieldError(BaseModel):
    field: str = Field(description="the request field at fault: a form, JSON, query or path "
                                    "field, or a path inside a converter spec such as "
                                    "`versions[0].operations[1].sigma`")
    message: str


class ProblemDetails(BaseModel):
    """Every error answer (RFC 9457), sent as `application/problem+json`."""

    type: str = Field("about:blank", description="always `about:blank`: `status` says it all")
    title: str = Field(description="the status's reason phrase (RFC 9110); match on `status`")
    status: int
    detail: str = Field(description="a sentence for people; it may change")
    instance: str | None = Field(None, description="RFC 9457's occurrence URI; Assetry does "
                                                   "not send it")
    errors: list[FieldError] | None = Field(
        None, description="present when one request field is at fault")


class HiddenProblem(ProblemDetails):
    """410: the asset is hidden and the caller is below moderator."""

    reason: str = Field(description="`hidden`")
    modified_by: str | None = Field(description="the token that changed the asset last")
    modification_date: str = Field(description="the asset's `modified_at`")


class TooLargeProblem(ProblemDetails):
    """413: the body, or an import's remote body, is larger than the pool takes."""

    limit: int = Field(description="the most bytes this pool accepts for one file")


#: turns a byte URL of an asset into the URL a client gets (signed for non-public pools)
Sign = Callable[[Asset, str], str]


def unsigned(asset: Asset, url: str) -> str:
    return url


def version_json(a: Asset, v: Version, sign: Sign = unsigned) -> dict[str, Any]:
    return {
        "id": str(v.id), "url": pinned(sign(a, version_url(a.id, v.name)), url_sha256(v)),
        "width": v.width,
        "height": v.height, "mime_type": v.mime_type, "size": v.size,
        "status": v.status.value, "created_at": ts(v.created_at), "error": v.error,
        **renditions_json(a, v, sign),
    }


def renditions_json(a: Asset, v: Version, sign: Sign = unsigned) -> dict[str, Any]:
    """`formats` (several formats at the version's own size) and `srcset` (its widths),
    each null when the version has none. Their URLs carry `v` like the version's own:
    a `format=` URL pins its encoding's bytes, a negotiated one all it may answer."""
    url = sign(a, version_url(a.id, v.name))

    def with_query(param: str) -> str:
        return f"{url}{'&' if '?' in url else '?'}{param}"

    own = [r for r in v.all_encodings if r.srcset_width is None]
    formats = {r.format: {"url": pinned(with_query(f"format={r.format}"), r.sha256),
                          "mime_type": r.mime_type, "size": r.size, "width": r.width,
                          "height": r.height}
               for r in own} if len(own) > 1 else None
    widths = sorted({(r.srcset_width, r.width) for r in v.all_encodings if r.srcset_width})
    srcset = ", ".join(f"{pinned(with_query(f'w={w}'), url_sha256(v, w))} {actual}w"
                       for w, actual in widths) or None
    return {"formats": formats, "srcset": srcset}


def asset_json(a: Asset, sign: Sign = unsigned) -> dict[str, Any]:
    return {
        "id": str(a.id), "pool": a.pool, "type": a.type.value, "filename": a.filename,
        "mime_type": a.mime_type, "size": a.size, "sha256": a.sha256,
        "width": a.width, "height": a.height, "gallery": a.gallery,
        "converter": a.converter, "metadata": a.metadata, "attached_to": list(a.attached_to),
        "hidden": a.hidden, "creator": a.creator, "modified_by": a.modified_by,
        "created_at": ts(a.created_at), "modified_at": ts(a.modified_at),
        "url": asset_url(a.id),
        "content_url": pinned(sign(a, f"{asset_url(a.id)}/content"), a.sha256),
        "versions": {v.name: version_json(a, v, sign) for v in a.versions},
        "placeholder": placeholder_json(a.placeholder),
    }


def placeholder_json(p: Placeholder | None) -> dict[str, str] | None:
    if p is None:
        return None
    return {"thumbhash": p.thumbhash, "blurhash": p.blurhash, "color": p.color}


def write_json(
    a: Asset,
    sign: Sign = unsigned,
    *,
    created: Iterable[str] = (),
    modified: Iterable[str] = (),
    removed: Iterable[str] = (),
    changed: bool = True,
) -> dict[str, Any]:
    """An Asset plus `updated_resources` (always the four keys; the pool changed unless
    `changed` is false)."""
    return {**asset_json(a, sign), "updated_resources": {
        "created": list(created), "modified": list(modified), "removed": list(removed),
        "changed_descendants": [pool_url(a.pool)] if changed else [],
    }}


def direct_upload_url(upload_id: UUID | str) -> str:
    return f"/api/direct-uploads/{upload_id}"


def direct_upload_json(upload: DirectUpload, url: str, headers: Mapping[str, str]
                       ) -> dict[str, Any]:
    return {
        "id": str(upload.id), "pool": upload.pool, "filename": upload.filename,
        "size": upload.size, "mime_type": upload.mime_type, "upload_url": url,
        "upload_method": "PUT", "upload_headers": dict(headers),
        "upload_expires_at": ts(upload.url_expires_at), "expires_at": ts(upload.expires_at),
        "complete_url": f"{direct_upload_url(upload.id)}/complete",
    }


def page_json(page: Page, sign: Sign = unsigned) -> dict[str, Any]:
    return {"items": [asset_json(a, sign) for a in page.items],
            "next_cursor": page.next_cursor}


def pool_json(p: Pool) -> dict[str, Any]:
    return {"name": p.name, "title": p.title, "asset_types": [t.value for t in p.asset_types],
            "max_size": p.max_size, "converter": p.converter, "public": p.public,
            "transforms": p.transforms, "url": pool_url(p.name),
            "assets_url": f"{pool_url(p.name)}/assets"}


def gallery_json(g: Gallery, sign: Sign = unsigned) -> dict[str, Any]:
    return {"id": g.id, "images": [asset_json(a, sign) for a in g.images]}


def converter_json(c: Converter) -> dict[str, Any]:
    return c.to_json()
