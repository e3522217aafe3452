"""VipsProcessor: the ImageProcessor port on libvips, locked down to the formats we accept."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import pyvips

from assetry.domain.geometry import Plan, Size
from assetry.domain.placeholder import Placeholder
from assetry.domain.ports import (
    Decoded,
    ImageInfo,
    OverlaySource,
    Rendered,
    RenderFailure,
    RenderRequest,
)
from assetry.errors import TooManyPixels, UndecodableImage
from assetry.imaging import heif, icc
from assetry.imaging.animation import Frames
from assetry.imaging.error_buffer import ErrorBuffer
from assetry.imaging.overlay import OverlayImages
from assetry.imaging.pipeline import to_srgb_uchar
from assetry.imaging.placeholder import placeholder as placeholder_of
from assetry.imaging.renditions import animates, render_all
from assetry.imaging.sniff import sniff
from assetry.process import HEAP

#: the only loader families left unblocked (each base class covers file/buffer/source)
ALLOWED_LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp",
    "VipsForeignLoadTiff",
    "VipsForeignLoadHeif",
)
#: libvips loader nickname (as in the `vips-loader` field) -> the type it decodes
_LOADER_MIME = {
    "jpegload": "image/jpeg", "pngload": "image/png", "gifload": "image/gif",
    "webpload": "image/webp", "tiffload": "image/tiff", "heifload": "image/avif",
}
_ANIMATED = frozenset({"image/gif", "image/webp"})


def harden() -> None:
    """Block every libvips loader but ours, and keep libvips' operation cache out of the
    way. Idempotent; libvips settings are per process, so this runs at import."""
    pyvips.block_untrusted_set(True)
    # SVG, PDF, matrix, CSV, raw, vips and the like never get to parse uploads.
    pyvips.operation_block_set("VipsForeignLoad", True)
    for name in ALLOWED_LOADERS:
        pyvips.operation_block_set(name, False)
    # Every render decodes fresh bytes, so cached operations are never reused; they
    # would only hold decoded pixels in memory.
    pyvips.cache_set_max(0)


harden()


class VipsProcessor:
    """The ImageProcessor port. Stateless; safe to share between threads."""

    def __init__(self) -> None:
        harden()

    def sniff(self, path: Path) -> str:
        """The MIME type of the file's bytes (see `assetry.imaging.sniff.sniff`)."""
        with _LIBVIPS.shared():  # trying loaders clears libvips' error buffer
            return sniff(path)

    def inspect(self, path: Path, mime_type: str, *, max_pixels: int) -> ImageInfo:
        """Header only: the loader must be the one for `mime_type`, and width x height x
        frames must be within `max_pixels`. No pixel is decoded (`render` proves the
        rest). Raises TooManyPixels, UndecodableImage."""
        try:
            with _LIBVIPS.shared():
                return self._inspect(path, mime_type, max_pixels)
        except UndecodableImage as first:
            with HEAP.working(), _LIBVIPS.alone():  # the same reason every time
                self._inspect(path, mime_type, max_pixels)
            raise first from None  # read alone, the header passed: keep what was seen

    def _inspect(self, path: Path, mime_type: str, max_pixels: int) -> ImageInfo:
        if mime_type in heif.HEIF_TYPES:
            width, height, frames = heif.dimensions(heif.open_heif(path))
            _check_pixels(width, height, frames, max_pixels)
            return ImageInfo(mime_type=mime_type, width=width, height=height, frames=frames)
        try:
            image = _open(path)
            _check_loader(image, mime_type)
            width, height = int(image.width), int(image.height)
            frames = _frames(image)
            _check_pixels(width, height, frames, max_pixels)
        except pyvips.Error as exc:
            raise UndecodableImage(f"not a decodable {mime_type}: {_reason(exc)}") from exc
        if _orientation(image) >= 5:
            width, height = height, width
        return ImageInfo(mime_type=mime_type, width=width, height=height, frames=frames)

    def render(
        self, path: Path, mime_type: str, requests: Sequence[RenderRequest], scale: float,
        placeholder: bool = False, overlays: Mapping[str, OverlaySource] | None = None,
    ) -> Decoded[Rendered | RenderFailure]:
        """Decode the file once at `scale` (shrink-on-load) and make every requested
        version from it. The decode reads the whole stream with fail_on=error, so it is
        also the proof that the image is whole: a JPEG's entropy decoder reads every
        scan even at 1/8 scale. An animation keeps every frame when some version's
        format does (GIF, WebP, auto), else gives its first frame, every frame being
        decoded once to prove it. Overlay images are decoded once each, at the size
        they are drawn. With `placeholder`, the placeholders are made from the same
        decoded pixels (an animation's first frame). Raises UndecodableImage.
        """
        keep_frames = _keep_frames(requests)
        try:
            with HEAP.working(), _LIBVIPS.shared():
                return _render(path, mime_type, requests, scale, placeholder, overlays,
                               keep_frames)
        except UndecodableImage as first:
            with HEAP.working(), _LIBVIPS.alone():  # the same reason every time
                _decode(path, mime_type, scale, keep_frames=keep_frames)
            raise first from None  # decoded alone, it passed: keep what was seen


#: every libvips call of the processor runs in it, so that failures can be explained alone
_LIBVIPS = ErrorBuffer()


def _render(path: Path, mime_type: str, requests: Sequence[RenderRequest], scale: float,
            placeholder: bool, overlays: Mapping[str, OverlaySource] | None,
            keep_frames: bool) -> Decoded[Rendered | RenderFailure]:
    marks = OverlayImages(overlays or {}, _plans(requests), _decode_still)
    frames, source = _decode(path, mime_type, scale, keep_frames=keep_frames)
    return Decoded(render_all(frames, source, requests, marks, _reason),
                   placeholder=_placeholder(frames.first().image) if placeholder else None)


def _open(path: Path, **options: Any) -> pyvips.Image:
    # From a Source, not new_from_file: libvips would read a trailing "[...]" in the file
    # name as load options.
    return pyvips.Image.new_from_source(
        pyvips.Source.new_from_file(str(path)), "", access="sequential", fail_on="error",
        **options,
    )


def _plans(requests: Sequence[RenderRequest]) -> list[Plan]:
    """Every plan of the requests: each version's own and its srcset widths'."""
    return [p for r in requests for p in (r.plan, *(plan for _, plan in r.srcset))]


def _keep_frames(requests: Sequence[RenderRequest]) -> bool:
    """Whether some version keeps an animation's frames: its format animates, and so
    does every version it is made from."""
    keeps: dict[UUID, bool] = {}
    for r in requests:
        keeps[r.version_id] = animates(r.format) and (r.source is None or keeps[r.source])
    return any(keeps.values())


def _decode_still(path: Path, mime_type: str, scale: float) -> pyvips.Image:
    """The first frame of an image file at about `scale` (overlays)."""
    return _decode(path, mime_type, scale, keep_frames=False)[0].image


def _decode(path: Path, mime_type: str, scale: float, *, keep_frames: bool
            ) -> tuple[Frames, Size]:
    """The upright image, 8-bit sRGB, in memory, at about `scale` (every frame of an
    animation with `keep_frames`, else the first); and the upright size of the original.
    thumbnail is used even at full size: it auto-rotates, shrinks each frame alike, and
    imports CMYK and embedded ICC profiles into sRGB, on one path for every scale."""
    try:
        if mime_type in heif.HEIF_TYPES:
            # Only the primary image is ever rendered, so only it is decoded.
            base = heif.to_vips(heif.open_heif(path))
            source = Size(int(base.width), int(base.height))
            width, height = _target(source, scale)
            image = base.thumbnail_image(width, height=height, size="down", **_profile(base))
        else:
            header = _open(path)
            source = Size(int(header.width), int(header.height))
            if _orientation(header) >= 5:
                source = Size(source.height, source.width)
            options = "fail_on=error"
            if _frames(header) > 1 and mime_type in _ANIMATED:
                if keep_frames:
                    options += ",n=-1"  # every frame, each shrunk alike: decoding is the check
                else:
                    # Later frames are never rendered, so this is their only check.
                    _open(path, n=-1).avg()
            width, height = _target(source, scale)
            shrink = jpeg_shrink(source, Size(width, height)) if mime_type == "image/jpeg" else 1
            if shrink > 1:
                # libjpeg scales in the DCT while it decodes; thumbnail then finishes
                # (auto-rotation and colour as below) from the smaller image.
                image = _open(path, shrink=shrink).thumbnail_image(
                    width, height=height, size="down", **_profile(header))
            else:
                # Otherwise the first page only. A TIFF's other pages may differ in size
                # (previews, masks) and are never rendered.
                image = pyvips.Image.thumbnail_source(
                    pyvips.Source.new_from_file(str(path)), width, height=height,
                    size="down", option_string=options, **_profile(header))
        return Frames.of(to_srgb_uchar(image).copy_memory()), source
    except pyvips.Error as exc:
        raise UndecodableImage(f"not a decodable {mime_type}: {_reason(exc)}") from exc


#: the least factor left for the resize after a JPEG's shrink-on-load
JPEG_SHRINK_MARGIN = 1.5


def jpeg_shrink(source: Size, target: Size) -> int:
    """The factor (1, 2, 4 or 8) a JPEG of upright size `source` is decoded at for
    `target`: the largest that leaves at least JPEG_SHRINK_MARGIN for the resize after.

    libjpeg shrinks in the DCT as it decodes, so decoding at 1/2 skips most of the work
    of a full decode (a 12 MP photo for 1200 px: 115 ms of CPU instead of 156). libvips'
    own `thumbnail` leaves a margin of 2, which for a 12 MP photo and 1200 px means a
    full-size decode; against a full-size decode resized with lanczos3, the versions of
    a 1/2 decode (margin 1.67) score SSIM 0.9976 and a mean CIEDE2000 of 0.48, where JPEG
    q80 alone scores 0.925 and 2.53 (bench/decode_scale.py). A margin under 1.5 (1/4 of a
    24 MP photo for 1200 px, 1.25) scored 0.977 and 1.00: kept out."""
    need = min(source.width / target.width, source.height / target.height)
    return next((f for f in (8, 4, 2) if need / f >= JPEG_SHRINK_MARGIN), 1)


def _placeholder(image: pyvips.Image) -> Placeholder | None:
    try:
        return placeholder_of(image)
    except pyvips.Error:
        # A placeholder is a nicety: an image whose versions render is never refused for it.
        return None


def _target(source: Size, scale: float) -> tuple[int, int]:
    if scale >= 1:
        return source.width, source.height
    # the epsilon keeps 4000 * 0.3 = 1200.0000000000002 from becoming 1201
    return (max(1, math.ceil(source.width * scale - 1e-9)),
            max(1, math.ceil(source.height * scale - 1e-9)))


def _profile(image: pyvips.Image) -> dict[str, str]:
    # thumbnail converts CMYK to sRGB on its own, but leaves other profiles (Display P3,
    # Adobe RGB) attached to unconverted pixels; the profile is stripped on save, so
    # convert those pixels too. Pixels whose profile is sRGB are sRGB already.
    if not image.get_typeof("icc-profile-data"):
        return {}
    return {} if icc.is_srgb(image.get("icc-profile-data")) else {"export_profile": "srgb"}


def _frames(image: pyvips.Image) -> int:
    return int(image.get("n-pages")) if image.get_typeof("n-pages") else 1


def _orientation(image: pyvips.Image) -> int:
    return int(image.get("orientation")) if image.get_typeof("orientation") else 1


def _check_loader(image: pyvips.Image, mime_type: str) -> None:
    loader = str(image.get("vips-loader")).removesuffix("_buffer").removesuffix("_source")
    actual = _LOADER_MIME.get(loader)
    if actual == "image/avif" and image.get("heif-compression") != "av1":
        actual = "image/heic"  # HEVC, which this libvips cannot decode
    if actual != mime_type:
        raise UndecodableImage(f"the bytes are {actual or 'not an image we read'}, "
                               f"not {mime_type}")


def _check_pixels(width: int, height: int, frames: int, max_pixels: int) -> None:
    total = width * height * frames
    if total > max_pixels:
        shape = f"{width}x{height}" + (f"x{frames} frames" if frames > 1 else "")
        raise TooManyPixels(f"{shape} is {total:,} pixels; the limit is {max_pixels:,}")


def _reason(exc: pyvips.Error) -> str:
    # pyvips puts libvips' own explanation in `detail`; its last line is the most specific.
    lines = [line.strip() for line in str(exc.detail or exc.message).splitlines()]
    return next((line for line in reversed(lines) if line), "libvips error")
