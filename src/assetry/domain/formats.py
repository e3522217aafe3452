"""What each output format can do, which formats `format: auto` stores, and at what quality.

`format: auto` stores AVIF, WebP and a fallback the browser can always show. Their
qualities are not the spec's number copied over: the same number means different visual
quality in each codec (peers ship AVIF files bigger than WebP for that reason). The
spec's `quality` is the JPEG quality of the fallback, and WebP and AVIF get the quality
that looks the same, measured by `bench/quality_equivalence.py` (docs/converters.md says
how).
"""

from __future__ import annotations

from itertools import pairwise

#: formats whose encoder keeps every frame of an animation
ANIMATED_FORMATS = frozenset({"gif", "webp"})

#: `format: auto`'s formats, most preferred first; AVIF and WebP are served only to
#: clients whose Accept names them (domain/negotiation.py)
NEGOTIATED_FORMATS = ("avif", "webp")

#: (JPEG quality, equivalent quality) pairs, ascending, interpolated in between. 60, 80
#: and 90 are measured (bench/quality_equivalence.py: the lowest quality whose SSIM
#: reaches the JPEG's, median of six corpus samples at version sizes, libvips 8.18.7,
#: with auto's encoder settings: AVIF at effort 0); 1 and 100 are anchors.
EQUIVALENT_QUALITY: dict[str, tuple[tuple[int, int], ...]] = {
    "webp": ((1, 1), (60, 42), (80, 68), (90, 82), (100, 100)),
    "avif": ((1, 1), (60, 53), (80, 64), (90, 76), (100, 100)),
}


def auto_formats(*, alpha: bool, animated: bool) -> tuple[str, ...]:
    """The formats a `format: auto` rendition is stored in, most preferred first; the
    last is the fallback served to clients that name neither AVIF nor WebP.

    An animation leaves AVIF out (this encoder would keep only its first frame) and
    falls back to GIF; a still image falls back to PNG when it has transparent pixels,
    else to JPEG."""
    if animated:
        return ("webp", "gif")
    return (*NEGOTIATED_FORMATS, "png" if alpha else "jpeg")


def equivalent_quality(fmt: str, jpeg_quality: int) -> int:
    """The `fmt` quality that looks like JPEG at `jpeg_quality` (1-100); formats without
    a measured table (JPEG itself, PNG, GIF) get `jpeg_quality` unchanged."""
    table = EQUIVALENT_QUALITY.get(fmt)
    if table is None:
        return jpeg_quality
    for (q0, e0), (q1, e1) in pairwise(table):
        if q0 <= jpeg_quality <= q1:
            return round(e0 + (e1 - e0) * (jpeg_quality - q0) / (q1 - q0))
    return table[-1][1] if jpeg_quality > table[-1][0] else table[0][1]
