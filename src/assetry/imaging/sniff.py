"""Content-type sniffing from a file's bytes, never its name."""

from __future__ import annotations

from pathlib import Path

import pyvips

#: libvips loader class prefix -> MIME type. Only loaders we decode are listed, so a file
#: found by any other loader (SVG, PDF, CSV, matrix...) falls through to libmagic and can
#: never come back as an image type, whether or not the loaders are blocked.
_LOADER_MIME: dict[str, str] = {
    "VipsForeignLoadJpeg": "image/jpeg",
    "VipsForeignLoadPng": "image/png",
    "VipsForeignLoadNsgif": "image/gif",
    "VipsForeignLoadWebp": "image/webp",
    "VipsForeignLoadTiff": "image/tiff",
}
_HEIF_LOADER = "VipsForeignLoadHeif"
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
UNKNOWN = "application/octet-stream"
EMPTY = "application/x-empty"


def sniff(path: Path) -> str:
    """The MIME type of the bytes at `path`.

    Images we decode are recognised by libvips' own loader detection (so "is an image"
    agrees with "libvips will try to load it"); anything else by libmagic, or puremagic
    when libmagic is missing. An empty file is application/x-empty, unrecognised bytes
    application/octet-stream.
    """
    if path.stat().st_size == 0:
        return EMPTY
    loader = _find_loader(path)
    if loader is not None:
        if loader.startswith(_HEIF_LOADER):
            return heif_brand_mime(path) or _magic(path)
        for prefix, mime in _LOADER_MIME.items():
            if loader.startswith(prefix):
                return mime
    return _magic(path)


def _find_loader(path: Path) -> str | None:
    # find_load_source reads only the first bytes (each loader's is_a), skips blocked
    # loaders and names the class, e.g. "VipsForeignLoadPngSource". A Source, because
    # libvips would read a trailing "[...]" in a file name as load options.
    try:
        source = pyvips.Source.new_from_file(str(path))
    except pyvips.Error:
        return None
    found = pyvips.vips_lib.vips_foreign_find_load_source(source.pointer)
    if found == pyvips.ffi.NULL:
        pyvips.vips_lib.vips_error_clear()
        return None
    return str(pyvips.ffi.string(found).decode())


def heif_brand_mime(path: Path) -> str | None:
    """image/avif or image/heic, from the ISO-BMFF `ftyp` major and compatible brands;
    None without a well-formed `ftyp` box."""
    with path.open("rb") as f:
        head = f.read(256)
    size = int.from_bytes(head[0:4], "big")
    if head[4:8] != b"ftyp" or size < 16:
        return None
    body = head[8:min(size, len(head))]
    brands = {body[0:4]} | {body[i:i + 4] for i in range(8, len(body) - 3, 4)}
    # AV1 wins: an AVIF may list mif1/miaf too, but a HEVC file never lists avif.
    return "image/avif" if brands & _AVIF_BRANDS else "image/heic"


def _magic(path: Path) -> str:
    try:
        import magic
    except ImportError:  # libmagic is not installed: the pure-Python tables
        return _puremagic(path)
    try:
        return str(magic.from_file(str(path), mime=True)) or UNKNOWN
    except (magic.MagicException, OSError):
        return UNKNOWN


def _puremagic(path: Path) -> str:
    import puremagic

    try:
        # magic_stream, not magic_file: the latter lets the file name sway the guess.
        with path.open("rb") as f:
            matches = puremagic.magic_stream(f)
    except (puremagic.PureError, ValueError, OSError):
        return UNKNOWN
    mimes = [m.mime_type for m in matches if m.mime_type]
    return str(mimes[0]) if mimes else UNKNOWN
