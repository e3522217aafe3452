"""Media types we know: which are images, which are safe inline, what each format is called."""

from __future__ import annotations

import re
import unicodedata

IMAGE_TYPES: frozenset[str] = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "image/avif", "image/heic", "image/heif", "image/tiff",
})

#: output format name -> MIME type
FORMAT_MIME: dict[str, str] = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
    "avif": "image/avif", "gif": "image/gif", "tiff": "image/tiff",
}

def format_of(mime_type: str) -> str:
    """The output format name of a MIME type we write (`bin` for any other)."""
    return next((k for k, v in FORMAT_MIME.items() if v == mime_type), "bin")


#: the format a `format: same` version is written in, by original type. HEIC/HEIF have no
#: encoder here, so they become JPEG; TIFF stays TIFF.
SAME_FORMAT: dict[str, str] = {
    "image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "image/avif": "avif", "image/heic": "jpeg", "image/heif": "jpeg", "image/tiff": "tiff",
}

#: `file` assets of these types may be shown inline; everything else is an attachment.
#: Never text/html, image/svg+xml, PDF (viewers run scripts and forms) or anything else
#: a browser would execute.
SAFE_INLINE: frozenset[str] = IMAGE_TYPES | frozenset({
    "text/plain", "audio/mpeg", "audio/ogg", "audio/wav", "video/mp4", "video/webm",
})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE = re.compile(r'[<>:"|?*\\/]')


def sanitize_filename(raw: str | None, *, fallback: str = "upload") -> str:
    """A display name with no path parts, no control characters and at most 255 bytes."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL.sub("", name)
    name = _UNSAFE.sub("_", name).strip(" .")
    while len(name.encode()) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:-1] + dot + ext) if dot and len(ext) < 16 and stem else name[:-1]
    return name or fallback


def same_kind(declared: str, sniffed: str) -> bool:
    """Whether a client's declared type agrees with the sniffed one (aliases allowed)."""
    aliases = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
               "image/heif": "image/heic", "image/heic-sequence": "image/heic"}
    base = declared.split(";", 1)[0].strip().lower()

    def norm(t: str) -> str:
        return aliases.get(t, t)

    return norm(base) == norm(sniffed)
