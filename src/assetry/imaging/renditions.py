"""Every rendition of every requested version, from one decoded image.

A version is carried out once per size it is stored at (its own, and each srcset width),
frame by frame for an animation that its format keeps, and each of those outputs is
encoded once per format it is stored in (one, or three for `format: auto`). A version
made from another (`source`) starts from that version's finished pixels, never from a
second decode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

import pyvips

from assetry.domain.formats import ANIMATED_FORMATS, auto_formats, equivalent_quality
from assetry.domain.geometry import Plan, Size
from assetry.domain.media import FORMAT_MIME
from assetry.domain.ports import Encoded, Rendered, RenderFailure, RenderRequest
from assetry.imaging.animation import Frames
from assetry.imaging.pipeline import (
    ALPHA_FORMATS,
    Marks,
    as_stored,
    attention_origin,
    carry_out,
    encode,
    has_transparency,
)

AUTO = "auto"


def animates(fmt: str) -> bool:
    """Whether a version written as `fmt` keeps an animation's frames."""
    return fmt in ANIMATED_FORMATS or fmt == AUTO


def render_all(decoded: Frames, source: Size, requests: Sequence[RenderRequest],
               marks: Marks, reason: Callable[[pyvips.Error], str]
               ) -> list[Rendered | RenderFailure]:
    """One result per request with `keep`, in order. `decoded` is the upright original
    (all its frames when some request keeps them), `source` its full upright size;
    `reason` words a libvips error for a RenderFailure."""
    made: dict[UUID, Frames] = {}
    failed: dict[UUID, str] = {}
    results: list[Rendered | RenderFailure] = []
    for request in requests:
        try:
            result = _render(decoded, source, request, made, failed, marks)
        except pyvips.Error as exc:
            result = RenderFailure(request.version_id, reason(exc))
        if isinstance(result, RenderFailure):
            failed[request.version_id] = result.reason
        if request.keep:
            assert result is not None
            results.append(result)
    return results


def _render(decoded: Frames, source: Size, request: RenderRequest, made: dict[UUID, Frames],
            failed: dict[UUID, str], marks: Marks) -> Rendered | RenderFailure | None:
    """The renditions of one request (None for one that is only a source)."""
    if request.format != AUTO and request.format not in FORMAT_MIME:
        return RenderFailure(request.version_id, f"unknown output format {request.format!r}")
    base, base_size = decoded, source
    if request.source is not None:
        if request.source in failed:
            return RenderFailure(request.version_id,
                                 f"its source version failed: {failed[request.source]}")
        base = made[request.source]
        base_size = Size(base.width, base.height)
    if not animates(request.format):
        base = base.first()
    alpha = request.format == AUTO or request.format in ALPHA_FORMATS
    pixels = _carry(base, request.plan, base_size, alpha, marks)
    made[request.version_id] = (
        pixels if request.format == AUTO else pixels.map(lambda f: as_stored(f, request.format)))
    if not request.keep:
        return None
    formats = ((request.format,) if request.format != AUTO
               else auto_formats(alpha=has_transparency(pixels.image),
                                 animated=pixels.animated))
    own = _encode(pixels, formats, request)
    extras = [Encoded(fmt, None, data, FORMAT_MIME[fmt], pixels.width, pixels.height)
              for fmt, data in own[:-1]]
    for width, plan in request.srcset:
        # A srcset width equal to the version's own size is the version: same bytes.
        sized = pixels if plan == request.plan else _carry(base, plan, base_size, alpha, marks)
        encoded = own if plan == request.plan else _encode(sized, formats, request)
        extras += [Encoded(fmt, width, data, FORMAT_MIME[fmt], sized.width, sized.height)
                   for fmt, data in encoded]
    fallback, data = own[-1]
    return Rendered(request.version_id, data, FORMAT_MIME[fallback], pixels.width,
                    pixels.height, tuple(extras))


def _carry(frames: Frames, plan: Plan, source: Size, alpha: bool, marks: Marks) -> Frames:
    """`plan` carried out on every frame; an attention crop is placed once, on the first
    frame, so that the animation does not jump about."""
    origin = None
    if plan.attention and frames.animated:
        origin = attention_origin(frames.frame(0), plan, source)
    return frames.map(lambda f: carry_out(f, plan, source, alpha=alpha, origin=origin,
                                          marks=marks))


def _encode(pixels: Frames, formats: Sequence[str], request: RenderRequest
            ) -> list[tuple[str, bytes]]:
    """The pixels in each format, in order; auto's WebP and AVIF at the quality that
    looks like its JPEG's, with the encoder settings that quality was measured with."""
    image = pixels.for_saving()
    if request.format != AUTO:
        return [(fmt, encode(image, fmt, request.quality)) for fmt in formats]
    return [(fmt, encode(image, fmt, equivalent_quality(fmt, request.quality), fast=True))
            for fmt in formats]
