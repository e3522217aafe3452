"""ThumbHash: an image's placeholder in about 25 bytes (colours, alpha, aspect ratio).

The format is Evan Wallace's (https://evanw.github.io/thumbhash/). This encoder is written
for Assetry because the PyPI ones were either slow without numpy (about 100 ms for a
100x100 image, while numpy costs every serving process some 20 MB) or came as wheels for
two Python versions only. It is checked against hashes made by the reference
implementation (tests/unit/domain/test_thumbhash.py).

The DCT is separable: each row is projected on the horizontal cosines once, then the
projections on the vertical ones, so a 32x32 image costs about half a millisecond.
"""

from __future__ import annotations

import math
from functools import cache
from operator import mul

MAX_SIDE = 100  #: the format's limit on either side of the encoded image


def encode(width: int, height: int, rgba: bytes) -> bytes:
    """The ThumbHash of `rgba`, `width` x `height` pixels of 8-bit straight
    (non-premultiplied) RGBA, row by row. Raises ValueError for a size outside
    1..100 or a buffer of the wrong length."""
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise ValueError(f"{width}x{height} does not fit in {MAX_SIDE}x{MAX_SIDE}")
    if len(rgba) != width * height * 4:
        raise ValueError(f"{len(rgba)} bytes are not {width}x{height} RGBA pixels")
    alpha = [a / 255 for a in rgba[3::4]]
    total = sum(alpha)
    has_alpha = total < width * height
    l_limit = 5 if has_alpha else 7  # fewer luminance terms leave room for alpha
    longest = max(width, height)
    lx = max(1, _round(l_limit * width / longest))
    ly = max(1, _round(l_limit * height / longest))
    if has_alpha:
        red, green, blue = _atop_average(rgba, alpha, total)
    else:  # the same values without the compositing: a / 255 * v with a == 1
        red, green, blue = ([_UNIT[v] for v in rgba[i::4]] for i in range(3))
    # Luminance and two chroma axes: yellow-blue and red-green.
    lum = [(r + g + b) / 3 for r, g, b in zip(red, green, blue, strict=True)]
    yb = [(r + g) / 2 - b for r, g, b in zip(red, green, blue, strict=True)]
    rg = [r - g for r, g in zip(red, green, strict=True)]

    l_dc, l_ac, l_scale = _channel(lum, width, height, max(3, lx), max(3, ly))
    p_dc, p_ac, p_scale = _channel(yb, width, height, 3, 3)
    q_dc, q_ac, q_scale = _channel(rg, width, height, 3, 3)
    landscape = width > height
    header24 = (_round(63 * l_dc) | _round(31.5 + 31.5 * p_dc) << 6
                | _round(31.5 + 31.5 * q_dc) << 12 | _round(31 * l_scale) << 18
                | int(has_alpha) << 23)
    header16 = ((ly if landscape else lx) | _round(63 * p_scale) << 3
                | _round(63 * q_scale) << 9 | int(landscape) << 15)
    out = bytearray([header24 & 255, header24 >> 8 & 255, header24 >> 16,
                     header16 & 255, header16 >> 8])
    terms = [l_ac, p_ac, q_ac]
    if has_alpha:
        a_dc, a_ac, a_scale = _channel(alpha, width, height, 5, 5)
        out.append(_round(15 * a_dc) | _round(15 * a_scale) << 4)
        terms.append(a_ac)
    nibbles = [_round(15 * f) for ac in terms for f in ac]
    for i in range(0, len(nibbles), 2):
        high = nibbles[i + 1] if i + 1 < len(nibbles) else 0
        out.append(nibbles[i] | high << 4)
    return bytes(out)


#: v / 255 as the reference computes it for an opaque pixel (alpha / 255 * v, alpha 1)
_UNIT = tuple(1.0 / 255 * v for v in range(256))


def _atop_average(rgba: bytes, alpha: list[float], total: float
                  ) -> tuple[list[float], list[float], list[float]]:
    """R, G, B in 0..1 of every pixel composited atop the image's alpha-weighted average
    colour (so that transparent pixels take on the colour around them)."""
    bands = [rgba[i::4] for i in range(3)]
    avg = [sum(a / 255 * v for a, v in zip(alpha, band, strict=True)) / total if total
           else 0.0 for band in bands]
    red, green, blue = (
        [mean * (1 - a) + a / 255 * v for a, v in zip(alpha, band, strict=True)]
        for mean, band in zip(avg, bands, strict=True))
    return red, green, blue


def _round(x: float) -> int:
    """Halves round up, as the reference's Math.round does (Python's round is to even)."""
    return math.floor(x + 0.5)


@cache
def _cosines(n: int, k: int) -> tuple[tuple[float, ...], ...]:
    """cos(pi / n * c * (i + 0.5)) for c < k, i < n: the DCT-II basis along one side."""
    return tuple(tuple(math.cos(math.pi / n * c * (i + 0.5)) for i in range(n))
                 for c in range(k))


def _channel(channel: list[float], width: int, height: int, nx: int, ny: int
             ) -> tuple[float, list[float], float]:
    """DC, normalised AC terms (0..1, in the format's triangular order) and AC scale."""
    rows = [channel[y * width:(y + 1) * width] for y in range(height)]
    across = [[sum(map(mul, row, basis)) for row in rows] for basis in _cosines(width, nx)]
    down = _cosines(height, ny)
    dc, ac, scale = 0.0, [], 0.0
    for cy in range(ny):
        cx = 0
        while cx * ny < nx * (ny - cy):
            f = sum(map(mul, across[cx], down[cy])) / (width * height)
            if cx or cy:
                ac.append(f)
                scale = max(scale, abs(f))
            else:
                dc = f
            cx += 1
    if scale:
        ac = [0.5 + 0.5 / scale * f for f in ac]
    return dc, ac, scale
