"""HEIC/HEIF through pillow-heif: the pyvips-binary libvips reads their headers but has no
HEVC decoder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyvips

from assetry.errors import UndecodableImage

#: the types decoded here rather than by libvips (AVIF is AV1, which libvips decodes)
HEIF_TYPES = frozenset({"image/heic", "image/heif"})


def open_heif(source: Path | bytes) -> Any:
    """The parsed container; no pixels are decoded yet. Raises UndecodableImage."""
    # Imported on first use: libheif and its codecs cost every serving process ~5 MB,
    # and many installations never see a HEIC.
    import pillow_heif

    try:
        # 8-bit output: everything downstream is sRGB uchar anyway.
        return pillow_heif.open_heif(source, convert_hdr_to_8bit=True)
    except (ValueError, RuntimeError, OSError) as exc:  # libheif reports via ValueError
        raise UndecodableImage(f"not a decodable HEIF image: {exc}") from exc


def dimensions(heif: Any) -> tuple[int, int, int]:
    """(width, height, frames): the primary image's size as displayed (libheif applies
    the container's rotation and mirroring), and how many top-level images there are."""
    width, height = heif.size
    return int(width), int(height), len(heif)


def to_vips(heif: Any) -> pyvips.Image:
    """Decode the primary image into a uchar pyvips image (grey or RGB, alpha kept), its
    ICC profile (if any) attached. Raises UndecodableImage."""
    try:
        pixels = heif.data  # the decode happens here, on first access
        mode, stride = str(heif.mode), int(heif.stride)
    except (ValueError, RuntimeError, OSError) as exc:
        raise UndecodableImage(f"HEIF image does not decode: {exc}") from exc
    bands = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}.get(mode)
    if bands is None:
        raise UndecodableImage(f"unexpected HEIF pixel mode {mode}")
    width, height = heif.size
    row = width * bands
    if stride != row:  # libheif pads rows; libvips wants them packed
        view = memoryview(pixels)
        pixels = b"".join(view[y * stride:y * stride + row] for y in range(height))
    image = pyvips.Image.new_from_memory(pixels, width, height, bands, "uchar")
    image = image.copy(interpretation="srgb" if bands >= 3 else "b-w")
    profile = heif.info.get("icc_profile")
    if profile:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(profile))
    return image
