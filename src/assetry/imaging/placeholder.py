"""Placeholders of an image already decoded: a small sample, then ThumbHash, BlurHash and
the dominant colour from it (no second decode of the original)."""

from __future__ import annotations

import base64

import fast_blurhash
import pyvips

from assetry.domain import thumbhash
from assetry.domain.placeholder import (
    BLURHASH_COMPONENTS,
    SAMPLE_SIDE,
    Placeholder,
    dominant_color,
)

_WHITE = [255, 255, 255]


def sample(image: pyvips.Image) -> pyvips.Image:
    """`image` shrunk to fit SAMPLE_SIDE x SAMPLE_SIDE (never enlarged), each pixel the
    mean of the pixels it covers: a box and linear filter, which never rings past the
    colours it averages as lanczos does, so areas of one colour keep it exactly. Alpha
    is premultiplied around it, so transparent pixels lend no colour to their
    neighbours."""
    scale = min(1.0, SAMPLE_SIDE / max(image.width, image.height))
    if scale >= 1:
        return image
    if image.bands < 4:
        return image.resize(scale, kernel="linear").cast("uchar")
    shrunk = image.premultiply().resize(scale, kernel="linear").unpremultiply()
    return shrunk.cast("uchar").copy(interpretation="srgb")


def placeholder(image: pyvips.Image) -> Placeholder:
    """The placeholders of `image`: upright, 8-bit sRGB with or without alpha, at any
    size. Raises pyvips.Error."""
    small = sample(image)
    rgb = small.extract_band(0, n=3)
    opaque = (pyvips.Image.black(small.width, small.height) + 255).cast("uchar")
    alpha = small.extract_band(3) if small.bands >= 4 else opaque
    rgba = bytes(rgb.bandjoin(alpha).write_to_memory())
    width, height = int(small.width), int(small.height)
    # BlurHash has no alpha: transparent areas show as white, as in a JPEG version.
    flat = small.flatten(background=_WHITE) if small.bands >= 4 else rgb
    across, down = BLURHASH_COMPONENTS
    return Placeholder(
        thumbhash=base64.b64encode(thumbhash.encode(width, height, rgba)).decode("ascii"),
        blurhash=fast_blurhash.encode(bytes(flat.cast("uchar").write_to_memory()), across,
                                      down, width, height),
        color=dominant_color(rgba),
    )
