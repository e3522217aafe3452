"""Placeholders: what a page shows while an image loads (ThumbHash, BlurHash, one colour).

They are made at ingest from a small sample of the image the upload's one decode already
holds in memory (imaging/placeholder.py); nothing here touches pixels of the original.
"""

from __future__ import annotations

from dataclasses import dataclass

from assetry.domain.geometry import Size

#: the sample the placeholders are computed from fits in SAMPLE_SIDE x SAMPLE_SIDE: ample
#: for the few cosine terms either hash keeps, and it keeps their cost near a millisecond
SAMPLE_SIDE = 32
#: BlurHash terms across and down: the format's common default
BLURHASH_COMPONENTS = (4, 3)
#: a cell of the dominant-colour grid is 32 levels wide in each of R, G and B
_CELL_BITS = 5


@dataclass(frozen=True, slots=True)
class Placeholder:
    """An image's placeholders; `color` is "#rrggbb"."""

    thumbhash: str  #: base64 (standard alphabet, padded) of the ThumbHash bytes
    blurhash: str
    color: str


def min_decode_scale(source: Size) -> float:
    """The smallest decode scale that still gives a full SAMPLE_SIDE sample (a decode made
    only for a tiny thumbnail would otherwise leave a sample of a few pixels)."""
    return min(1.0, SAMPLE_SIDE / max(source.width, source.height))


def dominant_color(rgba: bytes) -> str:
    """The colour most of the image is: cut sRGB into 8 x 8 x 8 cells, take the cell that
    holds the most pixels (ties: the lowest in R, then G, then B), and return the mean of
    the pixels in it as "#rrggbb". Pixels less than half opaque are left out, unless
    every pixel is.

    A solid image gives its own colour; an image that is 70% one colour gives that
    colour, not a blend (an average would)."""
    if not rgba or len(rgba) % 4:
        raise ValueError("expected RGBA pixels")
    pixels = list(zip(rgba[0::4], rgba[1::4], rgba[2::4], rgba[3::4], strict=True))
    chosen = [p for p in pixels if p[3] >= 128] or pixels
    cells: dict[int, list[int]] = {}
    for r, g, b, _ in chosen:
        key = (r >> _CELL_BITS) << 6 | (g >> _CELL_BITS) << 3 | b >> _CELL_BITS
        cell = cells.get(key)
        if cell is None:
            cells[key] = [1, r, g, b]
        else:
            cell[0] += 1
            cell[1] += r
            cell[2] += g
            cell[3] += b
    _, (count, r, g, b) = max(cells.items(), key=lambda kv: (kv[1][0], -kv[0]))
    return "#" + "".join(f"{(v * 2 + count) // (2 * count):02x}" for v in (r, g, b))
