"""Direct uploads: a client PUTs the bytes straight to the S3 store through a presigned
URL, then asks Assetry to ingest them. What one is, what a request for one must say, and
when it lapses; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from assetry.errors import Invalid

#: the fields a request may carry: the file's facts, then what an upload's form may say
FIELDS = frozenset({"filename", "size", "mime_type", "type", "gallery", "converter",
                    "metadata"})
#: the upload fields kept until completion, when they go to the ingest as a form's would
FORM_FIELDS = ("type", "gallery", "converter", "metadata")


@dataclass(frozen=True, slots=True)
class DirectUploadRequest:
    """A checked request body (the form fields are checked further by the ingest)."""

    filename: str
    size: int  #: the exact number of bytes the client will PUT
    mime_type: str | None = None
    form: Mapping[str, Any] = field(default_factory=dict)  #: type, gallery, converter, metadata


@dataclass(frozen=True, slots=True)
class DirectUpload:
    """An announced upload: its object may exist in the store under `blob_key` once the
    client has PUT it; completing it makes an asset of it."""

    id: UUID
    pool: str
    creator: str | None  #: the token that started it; only it (or an admin) completes it
    filename: str
    size: int
    mime_type: str | None
    form: Mapping[str, Any]
    blob_key: str
    created_at: datetime
    url_expires_at: datetime  #: the presigned PUT URL works until then
    expires_at: datetime  #: completing works until then; then `assetry gc` removes it
    claimed_at: datetime | None = None  #: set while a `complete` is ingesting it

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def lifetimes(created_at: datetime, ttl: int) -> tuple[datetime, datetime]:
    """(url_expires_at, expires_at) of an upload started at `created_at`: the URL works
    for `ttl` seconds, completing for twice that, so a PUT that began just before the
    URL expired can still finish and be completed."""
    return created_at + timedelta(seconds=ttl), created_at + timedelta(seconds=2 * ttl)


def parse_request(body: Mapping[str, Any]) -> DirectUploadRequest:
    """Check the shape of `POST …/direct-uploads`: `filename` (required), `size` (bytes,
    required), `mime_type`, and an upload's optional form fields. Raises Invalid."""
    if unknown := sorted(set(body) - FIELDS):
        raise Invalid(f"unknown field(s) {unknown}", field=unknown[0])
    filename = body.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise Invalid("required: the file's name", field="filename")
    size = body.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise Invalid("required: the file's exact size in bytes (0 or more)", field="size")
    mime_type = body.get("mime_type")
    if mime_type is not None and not isinstance(mime_type, str):
        raise Invalid("must be a media type such as image/jpeg", field="mime_type")
    for name in ("type", "gallery", "converter"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise Invalid("must be a string", field=name)
    return DirectUploadRequest(
        filename=filename, size=size, mime_type=mime_type or None,
        form={name: body[name] for name in FORM_FIELDS if body.get(name) is not None})
