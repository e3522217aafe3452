"""Carrying a geometry Plan out on an already decoded image, and encoding the result.

The decoded image may be smaller than the virtual image the Plan is measured in (it was
shrunk on load to the one resolution every version needs), so each box is scaled by the
ratio of actual to virtual pixels, tracked through the steps. Overlays are drawn last,
on the finished output, where the Plan placed them.
"""

from __future__ import annotations

from collections.abc import Callable

import pyvips

from assetry.domain.geometry import Box, Placement, Plan, Size, Step

#: gives an overlay's pixels for one placement: 8-bit sRGB + alpha, exactly the box's
#: size, its alpha already scaled by the opacity
Marks = Callable[[Placement], pyvips.Image]

#: output formats that can carry an alpha channel (GIF as 1-bit transparency)
ALPHA_FORMATS = frozenset({"png", "webp", "avif", "gif", "tiff"})
_WHITE = (255, 255, 255)
_ROTATIONS = {90: "d90", 180: "d180", 270: "d270"}  # clockwise, as libvips counts


def to_srgb_uchar(image: pyvips.Image) -> pyvips.Image:
    """`image` as 8-bit sRGB (alpha kept): greyscale, 16-bit, float and CMYK converted."""
    if image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def carry_out(image: pyvips.Image, plan: Plan, source: Size, *, alpha: bool,
              origin: tuple[int, int] | None = None, marks: Marks | None = None
              ) -> pyvips.Image:
    """Apply `plan` to `image`, a decode (at any resolution) of the upright `source`.

    Returns exactly `plan.output` pixels, 8-bit sRGB. `alpha` says whether the output
    format can keep transparency; it picks the colour of a `contain` canvas. `origin`
    fixes where an attention crop is taken (every frame of an animation is cropped where
    the first one was); `marks` gives the pixels of the plan's overlays.
    """
    image = _working(image, plan, source)
    if not alpha and image.hasalpha():
        # The output is flattened on white anyway (as_stored); flattening first is the
        # same picture, since compositing on one colour commutes with a linear resize
        # (the corpus' alpha PNG: 0.4-0.5 levels apart on average, 4 at most), and the
        # resize then works on 3 bands of uchar instead of 4 premultiplied floats: a
        # 300x300 JPEG from a 1200x900 RGBA decode took 22 ms of CPU instead of 55.
        # After the steps: a `background` step flattens on its own colour.
        image = image.flatten(background=list(_WHITE))
    if plan.crop is not None:
        box = _scaled(plan.crop, *_ratio(image, plan.virtual), image)
        if plan.attention and origin is None:
            image = image.smartcrop(box.width, box.height, interesting="attention")
        else:
            left, top = origin or (box.left, box.top)
            image = image.crop(left, top, box.width, box.height)
    image = _resize(image, plan.resize)
    if plan.canvas is not None:
        image = _embed(image, plan.canvas, transparent=alpha and image.hasalpha())
    image = to_srgb_uchar(image)
    for placement in plan.overlays:
        assert marks is not None, "a plan with overlays needs their pixels"
        image = _draw(image, marks(placement), placement.box)
    return image


def attention_origin(image: pyvips.Image, plan: Plan, source: Size) -> tuple[int, int]:
    """Where libvips' attention crop of `plan` falls on `image` (the top-left corner, in
    the working image's pixels), so that other frames can be cropped at the same place."""
    assert plan.crop is not None
    image = _working(image, plan, source)
    box = _scaled(plan.crop, *_ratio(image, plan.virtual), image)
    _, found = image.smartcrop(box.width, box.height, interesting="attention",
                               attention_x=True, attention_y=True)
    # libvips centres the crop on the attention point, kept inside the image
    left = min(max(found["attention_x"] - box.width // 2, 0), int(image.width) - box.width)
    top = min(max(found["attention_y"] - box.height // 2, 0), int(image.height) - box.height)
    return left, top


def has_transparency(image: pyvips.Image) -> bool:
    """Whether any pixel is less than opaque (an alpha band of all 255 does not count)."""
    return bool(image.hasalpha()) and image.extract_band(image.bands - 1).min() < 255


def as_stored(image: pyvips.Image, fmt: str) -> pyvips.Image:
    """The pixels a version of format `fmt` shows: alpha flattened on white when the
    format cannot keep it (what `encode` writes), for versions made from this one."""
    if fmt not in ALPHA_FORMATS and image.hasalpha():
        return image.flatten(background=list(_WHITE))
    return image


def encode(image: pyvips.Image, fmt: str, quality: int, *, fast: bool = False) -> bytes:
    """Encode `image` as `fmt`, with no metadata at all (no EXIF, GPS, XMP or ICC).
    `fast` picks the quicker setting where an encoder has one worth taking (AVIF).

    Raises KeyError for an unknown format.
    """
    save = _FAST_SAVERS.get(fmt, _SAVERS[fmt]) if fast else _SAVERS[fmt]
    return bytes(save(to_srgb_uchar(as_stored(image, fmt)), quality))


_SAVERS: dict[str, Callable[[pyvips.Image, int], bytes]] = {
    "jpeg": lambda im, q: im.jpegsave_buffer(Q=q, interlace=True, keep="none"),
    "png": lambda im, q: im.pngsave_buffer(keep="none"),
    "webp": lambda im, q: im.webpsave_buffer(Q=q, keep="none"),
    # The AV1 encoder's default effort (4) takes seconds per megapixel; 2 is ~10x faster
    # for a few percent more bytes.
    "avif": lambda im, q: im.heifsave_buffer(Q=q, compression="av1", effort=2, keep="none"),
    # Palette quantisation is slow at the default effort (7) for photos.
    "gif": lambda im, q: im.gifsave_buffer(effort=3, keep="none"),
    "tiff": lambda im, q: im.tiffsave_buffer(compression="deflate", keep="none"),
}

#: `format: auto` stores AVIF beside WebP and JPEG, in the upload's request: effort 0 is
#: about 8x faster than 2 for about the same bytes at the quality it is measured to need
#: (bench/quality_equivalence.py measures with these settings).
_FAST_SAVERS: dict[str, Callable[[pyvips.Image, int], bytes]] = {
    "avif": lambda im, q: im.heifsave_buffer(Q=q, compression="av1", effort=0, keep="none"),
}


def _working(image: pyvips.Image, plan: Plan, source: Size) -> pyvips.Image:
    """`image` after the plan's steps (the operations before the fit)."""
    virtual = source
    for step in plan.steps:
        image = _step(image, step, _ratio(image, virtual))
        virtual = step.size_after or virtual
    return image


def _draw(image: pyvips.Image, mark: pyvips.Image, box: Box) -> pyvips.Image:
    """`mark` (RGBA, box-sized) composited over `image` at the box, in sRGB."""
    out = image.composite2(mark, "over", x=box.left, y=box.top,
                           compositing_space="srgb")
    out = to_srgb_uchar(out)
    # Drawing on an opaque image leaves it opaque: keep its band count.
    return out if image.hasalpha() else out.extract_band(0, n=image.bands)


def resized(image: pyvips.Image, target: Size) -> pyvips.Image:
    """`image` resized to exactly `target` (each side scaled on its own)."""
    return _resize(image, target)


def _ratio(image: pyvips.Image, virtual: Size) -> tuple[float, float]:
    return image.width / virtual.width, image.height / virtual.height


def _step(image: pyvips.Image, step: Step, ratio: tuple[float, float]) -> pyvips.Image:
    op = step.op
    if op == "rotate":
        return image.rot(_ROTATIONS[step.operation.param("angle")])
    if op == "flip":
        horizontal = step.operation.param("axis") == "horizontal"
        return image.fliphor() if horizontal else image.flipver()
    if op == "blur":
        # sigma is in virtual pixels; at a lower decoded resolution the same look needs less
        sigma = step.operation.param("sigma") * (ratio[0] + ratio[1]) / 2
        if sigma < 0.2:  # under a fifth of a pixel a blur changes nothing visible
            return image
        return _premultiplied(image, lambda im: im.gaussblur(sigma))
    if op == "grayscale":
        return image.colourspace("b-w").colourspace("srgb")  # alpha rides along
    if op == "background":
        if not image.hasalpha():
            return image
        return image.flatten(background=list(step.operation.param("color")))
    if op == "aspect_crop":
        assert step.box is not None
        box = _scaled(step.box, *ratio, image)
        return image.crop(box.left, box.top, box.width, box.height)
    # "scale" only changes the virtual resolution: the final resize absorbs it.
    return image


def _scaled(box: Box, rx: float, ry: float, image: pyvips.Image) -> Box:
    """`box` (virtual pixels) in `image`'s pixels, kept inside the image."""
    width, height = int(image.width), int(image.height)
    left = min(round(box.left * rx), width - 1)
    top = min(round(box.top * ry), height - 1)
    right = min(max(round((box.left + box.width) * rx), left + 1), width)
    bottom = min(max(round((box.top + box.height) * ry), top + 1), height)
    return Box(left, top, right - left, bottom - top)


def _resize(image: pyvips.Image, target: Size) -> pyvips.Image:
    if (image.width, image.height) == (target.width, target.height):
        return image
    hscale, vscale = target.width / image.width, target.height / image.height
    image = _premultiplied(
        image, lambda im: im.resize(hscale, vscale=vscale, kernel="lanczos3")
    )
    if (image.width, image.height) != (target.width, target.height):
        # libvips rounds the output size; pad or trim the odd pixel by edge copying
        image = image.crop(0, 0, min(image.width, target.width), min(image.height, target.height))
        image = image.embed(0, 0, target.width, target.height, extend="copy")
    return image


def _premultiplied(
    image: pyvips.Image, fn: Callable[[pyvips.Image], pyvips.Image]
) -> pyvips.Image:
    # Filtering straight (unpremultiplied) RGBA drags the colour of invisible pixels into
    # the visible edge; premultiply around the filter, then back to the original format.
    # The premultiplied pixels are filtered in that format too, as libvips' thumbnail
    # does (bit for bit the same): rounding a premultiplied value moves the picture as
    # composited by at most half a level, and filtering uchar rather than float took
    # 17 ms instead of 32 for 300x300 from 900x900 RGBA. Only nearly transparent
    # pixels' own colour moves more (up to 8 levels at alpha 8 or so), unseen.
    if not image.hasalpha():
        return fn(image)
    return fn(image.premultiply().cast(image.format)).unpremultiply().cast(image.format)


def _embed(image: pyvips.Image, canvas: Size, *, transparent: bool) -> pyvips.Image:
    left = (canvas.width - image.width) // 2
    top = (canvas.height - image.height) // 2
    if image.hasalpha():
        background = [0, 0, 0, 0] if transparent else [*_WHITE, 255]
    else:
        background = [255] * image.bands
    return image.embed(left, top, canvas.width, canvas.height, extend="background",
                       background=background)
