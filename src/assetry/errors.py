"""The domain error tree; it knows nothing of HTTP, SQL or libvips.

    AssetryError
    ├── NotFound ── PoolNotFound, AssetNotFound, VersionNotFound, GalleryNotFound,
    │               ConverterNotFound, BlobNotFound, UploadNotFound, TransformsDisabled,
    │               DirectUploadNotFound
    ├── Conflict ── TypeMismatch, PoolNotEmpty, ConverterExists, NotAnImage, OffsetMismatch,
    │               DirectUploadsUnavailable, NotUploaded, DirectUploadBusy
    ├── Invalid (bad request shape) ── FieldInvalid
    ├── Unprocessable ── UndecodableImage, TooManyPixels, InvalidConverter, RenderFailed,
    │                    UnsafeUrl, InvalidTransform
    ├── UpstreamError, UpstreamTimeout (a URL import's remote server)
    ├── UnsupportedType
    ├── TooLarge
    ├── Unauthenticated (no or bad credentials), Forbidden (not allowed)
    ├── Hidden, UploadExpired
    ├── ChecksumMismatch (a resumable upload's chunk)
    ├── BackendUnavailable
    └── ConfigError

Each class's docstring is its default message. Callers that need data (ids, limits,
the failing field) find it in attributes.
"""

from __future__ import annotations

from datetime import datetime


class AssetryError(Exception):
    """Unexpected Assetry error."""

    #: the request field at fault, when one is
    field: str | None = None

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())
        if field is not None:
            self.field = field

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFound(AssetryError):
    """The requested object does not exist."""


class PoolNotFound(NotFound):
    """No pool has this name."""


class AssetNotFound(NotFound):
    """No asset has this id."""


class VersionNotFound(NotFound):
    """The asset has no version of this name."""


class GalleryNotFound(NotFound):
    """No image belongs to this gallery."""


class ConverterNotFound(NotFound):
    """No converter has this name."""


class BlobNotFound(NotFound):
    """No blob is stored under this key."""


class UploadNotFound(NotFound):
    """No resumable upload has this id (in this pool, for this token)."""


class DirectUploadNotFound(NotFound):
    """No direct upload has this id, or it has expired."""


class Unauthenticated(AssetryError):
    """Credentials are required: send `Authorization: Bearer <token>`."""


class Forbidden(AssetryError):
    """The caller may not do this."""


class Conflict(AssetryError):
    """The request conflicts with the current state."""


class TypeMismatch(Conflict):
    """A replacement's type differs from the asset's type."""


class PoolNotEmpty(Conflict):
    """The pool still holds assets."""


class ConverterExists(Conflict):
    """A converter with this name exists already."""


class NotAnImage(Conflict):
    """Only images have versions."""


class OffsetMismatch(Conflict):
    """Upload-Offset is not the resumable upload's current offset."""


class DirectUploadsUnavailable(Conflict):
    """Direct uploads need an S3 blob store that can presign URLs."""


class NotUploaded(Conflict):
    """Nothing has been PUT to the direct upload's URL yet."""


class DirectUploadBusy(Conflict):
    """Another request is completing this direct upload."""


class Invalid(AssetryError):
    """The request is malformed."""


class Unprocessable(AssetryError):
    """The request is well-formed but cannot be carried out."""


class UndecodableImage(Unprocessable):
    """The bytes do not decode as an image."""


class TooManyPixels(Unprocessable):
    """The image has more pixels than allowed."""


class InvalidConverter(Unprocessable):
    """The converter spec cannot be carried out."""


class RenderFailed(Unprocessable):
    """The version could not be rendered."""


class InvalidTransform(Unprocessable):
    """The transform asks for something outside what may be rendered."""


class TransformsDisabled(NotFound):
    """The asset's pool does not serve on-the-fly transforms."""


class UnsupportedType(AssetryError):
    """The content type is not allowed here."""


class TooLarge(AssetryError):
    """The body is larger than allowed."""

    def __init__(self, message: str | None = None, *, limit: int, size: int | None = None,
                 field: str = "file") -> None:
        super().__init__(message, field=field)
        self.limit = limit
        self.size = size


class Hidden(AssetryError):
    """The asset is hidden."""

    def __init__(self, *, modified_by: str | None, modification_date: datetime) -> None:
        super().__init__()
        self.modified_by = modified_by
        self.modification_date = modification_date


class UploadExpired(AssetryError):
    """The resumable upload has expired; start a new one."""


class ChecksumMismatch(AssetryError):
    """The chunk does not match its Upload-Checksum; it was discarded."""

    field: str | None = "Upload-Checksum"


class BackendUnavailable(AssetryError):
    """A storage or database back-end could not be reached; retrying may help."""


class Overloaded(AssetryError):
    """Rendering is at capacity: the work was refused rather than queued without bound.

    `retry_after` is a hint, in whole seconds, for when capacity is likely to be back."""

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ConfigError(AssetryError):
    """The configuration is invalid; raised at startup, never mid-request."""


class UnsafeUrl(Unprocessable):
    """The URL may not be fetched."""

    field: str | None = "url"


class UpstreamError(AssetryError):
    """The remote server answered with an error."""

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message, field="url")
        #: the remote HTTP status, or None when there was no (usable) answer
        self.status = status


class UpstreamTimeout(AssetryError):
    """The remote server did not answer in time."""

    field: str | None = "url"
