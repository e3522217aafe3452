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
    mean of the pixels it covers: a box filter by a whole factor, then a linear one for
    the rest, which never ring past the colours they average as lanczos does, so areas
    of one colour keep it exactly.

    The box filter does nearly all the shrinking because it reads each pixel once and
    adds: half the cost of a linear resize of the whole image (or of reading every k-th
    pixel first), which the upload's render pays on every image
    (bench/bench_placeholder.py).

    With alpha the mean is taken premultiplied, so that transparent pixels lend no colour
    to their neighbours. Premultiplying is float work on every pixel, so it is done on
    every k-th pixel of every k-th row (k keeps 4 samples per output pixel and side):
    about a millisecond for a 1 MP image instead of ten."""
    scale = min(1.0, SAMPLE_SIDE / max(image.width, image.height))
    if scale >= 1:
        return image
    if image.bands < 4:
        return _shrunk(image, scale).cast("uchar")
    step = max(1, int(1 / (scale * 4)))
    if step > 1:
        image = image.subsample(step, step)
        scale = min(1.0, SAMPLE_SIDE / max(image.width, image.height))
    shrunk = image.premultiply().resize(scale, kernel="linear").unpremultiply()
    return shrunk.cast("uchar").copy(interpretation="srgb")


def _shrunk(image: pyvips.Image, scale: float) -> pyvips.Image:
    """`image` at `scale` (< 1), sized as `resize` sizes it: box-shrunk by the largest
    whole factor that stays above the target, then linearly reduced the rest of the way
    (by a factor between 1/2 and 1, which the linear kernel averages without gaps)."""
    width = max(1, round(image.width * scale))
    height = max(1, round(image.height * scale))
    factor = int(min(image.width / width, image.height / height))
    if factor > 1:
        image = image.shrink(factor, factor)
    if (image.width, image.height) == (width, height):
        return image
    return image.resize(width / image.width, vscale=height / image.height, kernel="linear")


def placeholder(image: pyvips.Image) -> Placeholder:
    """The placeholders of `image`: upright, 8-bit sRGB with or without alpha, at any
    size. Raises pyvips.Error."""
    small = sample(image).copy_memory()  # evaluated once; the steps below reuse it
    width, height = int(small.width), int(small.height)
    if small.bands >= 4:
        rgba = bytes(small.extract_band(0, n=4).write_to_memory())
        # BlurHash has no alpha: transparent areas show as white, as in a JPEG version.
        rgb = bytes(small.flatten(background=_WHITE).cast("uchar").write_to_memory())
    else:
        # One read of the sample; the opaque RGBA is spelled out here, as pipelines to
        # read a 32 x 24 image cost more to set up than the pixels take to copy.
        rgb = bytes((small if small.bands == 3 else small.extract_band(0, n=3))
                    .write_to_memory())
        rgba = _opaque(rgb)
    across, down = BLURHASH_COMPONENTS
    return Placeholder(
        thumbhash=base64.b64encode(thumbhash.encode(width, height, rgba)).decode("ascii"),
        blurhash=fast_blurhash.encode(rgb, across, down, width, height),
        color=dominant_color(rgba),
    )


def _opaque(rgb: bytes) -> bytes:
    """RGB pixels as RGBA, every pixel fully opaque."""
    rgba = bytearray(b"\xff" * (len(rgb) // 3 * 4))
    for band in range(3):
        rgba[band::4] = rgb[band::3]
    return bytes(rgba)
