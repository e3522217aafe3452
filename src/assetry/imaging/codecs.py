"""Which image formats this installation reads and writes, found by trying each one.

A codec listed by libvips may still be missing its encoder or decoder library (an AVIF
build without AV1, a HEIF build without HEVC), so every format is written and read back
through the same code paths uploads and renders take, on an 8x8 image.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyvips

from assetry.domain.media import FORMAT_MIME
from assetry.imaging import heif
from assetry.imaging.pipeline import encode


@dataclass(frozen=True, slots=True)
class Codec:
    """One format: whether uploads of it decode, and whether versions can be made in it."""

    format: str  #: jpeg, png, gif, webp, avif, tiff or heic
    reads: bool
    writes: bool
    note: str = ""  #: why not, or through what


@dataclass(frozen=True, slots=True)
class Codecs:
    libvips: str
    pyvips: str
    libheif: str | None  #: pillow-heif's libheif, which decodes HEIC uploads
    heic_decoder: str | None  #: the HEVC decoder libheif has, if any
    formats: tuple[Codec, ...]
    #: every suffix libvips itself can save to (Assetry offers the formats above only)
    suffixes: tuple[str, ...]


def probe() -> Codecs:
    """Try every format Assetry reads or writes. Never raises: a failure is a "no"."""
    formats = [_vips_codec(fmt) for fmt in FORMAT_MIME]
    heic, libheif, decoder = _heic_codec()
    formats.append(heic)
    return Codecs(
        libvips=f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
        pyvips=str(pyvips.__version__), libheif=libheif, heic_decoder=decoder,
        formats=tuple(formats), suffixes=tuple(sorted(set(pyvips.get_suffixes()))))


def _test_image() -> pyvips.Image:
    return (pyvips.Image.black(8, 8, bands=3) + [200, 40, 90]).cast("uchar").copy(
        interpretation="srgb")


def _vips_codec(fmt: str) -> Codec:
    try:
        data = encode(_test_image(), fmt, 80)
    except (pyvips.Error, KeyError) as exc:
        return Codec(fmt, reads=_loader_exists(fmt), writes=False,
                     note=f"cannot write: {_first_line(exc)}")
    try:
        decoded = pyvips.Image.new_from_buffer(data, "", fail_on="error")
        ok = (decoded.width, decoded.height) == (8, 8) and decoded.avg() > 0
    except pyvips.Error as exc:
        return Codec(fmt, reads=False, writes=True, note=f"cannot read: {_first_line(exc)}")
    return Codec(fmt, reads=ok, writes=True)


def _loader_exists(fmt: str) -> bool:
    nickname = {"jpeg": "jpegload_source", "png": "pngload_source", "gif": "gifload_source",
                "webp": "webpload_source", "tiff": "tiffload_source",
                "avif": "heifload_source"}[fmt]
    return bool(pyvips.type_find("VipsOperation", nickname))


def _heic_codec() -> tuple[Codec, str | None, str | None]:
    try:
        import pillow_heif
        from PIL import Image
    except ImportError as exc:
        return Codec("heic", reads=False, writes=False, note=str(exc)), None, None
    info = pillow_heif.libheif_info()
    decoders = info.get("decoders") or {}
    decoder = next(iter(decoders.values()), None) if decoders else None
    libheif = str(info.get("libheif")) if info.get("libheif") else None
    note = "decoded by pillow-heif; versions are never written as HEIC"
    try:
        # An HEVC encoder comes with some libheif builds only; without one, the decoder
        # is all that can be reported.
        buffer = io.BytesIO()
        pillow_heif.from_pillow(Image.new("RGB", (8, 8), (200, 40, 90))).save(buffer)
        image = heif.to_vips(heif.open_heif(buffer.getvalue()))
        reads = (image.width, image.height) == (8, 8)
    except Exception as exc:  # any failure of the codec is a "no", whatever raised it
        reads = decoder is not None
        note = f"{note}; could not round-trip a test image: {_first_line(exc)}"
    return Codec("heic", reads=reads, writes=False, note=note), libheif, decoder


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "detail", None) or exc).strip()
    return next((line for line in text.splitlines() if line.strip()), type(exc).__name__)

