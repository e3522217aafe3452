"""Geometry before pixels: a version spec and a source size give a Plan. No I/O, no pixels.

Sizes and boxes are in the pixels of the *virtual* image: the upright original after the
spec's operations (a `scale` operation shrinks the virtual image). The imaging adapter
carries a Plan out on whatever decoded resolution it holds, scaling boxes to it.

The `cover` crop reproduces the original system's arithmetic exactly (round half to
even, centred), so 840x700 -> 200x100 crops (0, 140, 840, 420) and 999x500 does not crop.

Overlays are placed on the finished version, in its output pixels; srcset widths are
planned like the version itself with the box scaled to each width.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from assetry.domain.converter import Anchor, Fit, Gravity, Operation, VersionSpec


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Box:
    left: int
    top: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Point:
    """A relative position: x and y in 0..1 from the top-left corner."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Step:
    """One pre-resize operation, resolved: `box` is set for crops (virtual pixels)."""

    op: str
    operation: Operation
    box: Box | None = None
    size_after: Size | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """One overlay on the finished version: its asset, the box it is resized to and drawn
    in (output pixels), and its opacity."""

    asset: str
    box: Box
    opacity: float


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do to an upright source to make one version.

    steps   the operations, in order, with crop boxes resolved
    virtual the size after the steps (what `crop` is measured in)
    crop    the region of the virtual image that becomes the output (None: all of it)
    attention  the crop's position is chosen by saliency at render time (size is `crop`'s)
    resize  the size the cropped region is resized to
    canvas  the final size when the output is padded (fit contain), else None
    scale   the resolution needed, as a fraction of the original's (>= 1 means full size)
    overlays  what is drawn on the output, in order
    """

    steps: tuple[Step, ...]
    virtual: Size
    crop: Box | None
    attention: bool
    resize: Size
    canvas: Size | None
    scale: float
    overlays: tuple[Placement, ...] = ()

    @property
    def output(self) -> Size:
        return self.canvas or self.resize

    @property
    def upscales(self) -> bool:
        """Whether the resize makes the (cropped) working image larger on either side."""
        region = Size(self.crop.width, self.crop.height) if self.crop else self.virtual
        return self.resize.width > region.width or self.resize.height > region.height


def _aspect_box(size: Size, ratio: tuple[float, float], shift: tuple[float, float]) -> Box:
    # The original system's aspect_crop: keep the full side that already fits and split the
    # leftover by `shift` (integer part), so 1600x900 at 1:1 gives (350, 0, 900, 900).
    a, b = ratio
    if size.width / size.height < a / b:
        h = max(1, int(size.width * b / a))
        return Box(0, int((size.height - h) * shift[1]), size.width, h)
    w = max(1, int(size.height * a / b))
    return Box(int((size.width - w) * shift[0]), 0, w, size.height)


def resolve_operations(source: Size, operations: tuple[Operation, ...]) -> tuple[
    tuple[Step, ...], Size, float
]:
    """Resolve operations on `source`: the steps, the virtual size, and its scale factor."""
    steps: list[Step] = []
    size, factor = source, 1.0
    for operation in operations:
        box = None
        if operation.op == "rotate" and operation.param("angle") in (90, 270):
            size = Size(size.height, size.width)
        elif operation.op == "scale":
            f = operation.param("factor")
            size = Size(max(1, round(size.width * f)), max(1, round(size.height * f)))
            factor *= f
        elif operation.op == "aspect_crop":
            box = _aspect_box(size, operation.param("ratio"), operation.param("shift"))
            size = Size(box.width, box.height)
        steps.append(Step(op=operation.op, operation=operation, box=box, size_after=size))
    return tuple(steps), size, factor


def cover_box(source: Size, target: Size, focal: Point | None = None) -> Box:
    """The region of `source` with `target`'s aspect ratio, centred (or on `focal`)."""
    target_aspect = target.width / target.height
    if target_aspect > source.width / source.height:
        w, h = source.width, min(source.height, max(1, round(source.width / target_aspect)))
    else:
        w, h = min(source.width, max(1, round(source.height * target_aspect))), source.height
    if focal is None:
        left, top = round((source.width - w) / 2), round((source.height - h) / 2)
    else:
        left = min(max(round(focal.x * source.width - w / 2), 0), source.width - w)
        top = min(max(round(focal.y * source.height - h / 2), 0), source.height - h)
    return Box(left, top, w, h)


def place_overlay(output: Size, overlay: Size, operation: Operation, margin_scale: float = 1.0
                  ) -> Placement:
    """Where an overlay operation draws an image of size `overlay` on a version of size
    `output`: `scale` x the version's width (aspect kept), shrunk further to fit inside
    the margins, at its compass `gravity`. `margin_scale` scales the margin (srcset
    widths keep the look of the version)."""
    margin = round(operation.param("margin") * margin_scale)
    width = max(1, round(output.width * operation.param("scale")))
    height = max(1, round(width * overlay.height / overlay.width))
    room = Size(max(1, output.width - 2 * margin), max(1, output.height - 2 * margin))
    if width > room.width or height > room.height:
        shrink = min(room.width / width, room.height / height)
        width, height = max(1, int(width * shrink)), max(1, int(height * shrink))
    anchor = Anchor(operation.param("gravity"))
    horizontal = ("west" if anchor.value.endswith("west")
                  else "east" if anchor.value.endswith("east") else "centre")
    vertical = ("north" if anchor.value.startswith("north")
                else "south" if anchor.value.startswith("south") else "centre")
    left = {"west": margin, "east": output.width - width - margin}.get(
        horizontal, (output.width - width) // 2)
    top = {"north": margin, "south": output.height - height - margin}.get(
        vertical, (output.height - height) // 2)
    return Placement(asset=operation.param("asset"),
                     box=Box(max(0, left), max(0, top), width, height),
                     opacity=operation.param("opacity"))


def plan(source: Size, spec: VersionSpec, focal: Point | None = None,
         overlays: Mapping[str, Size] | None = None, *, margin_scale: float = 1.0) -> Plan:
    """Plan `spec` on an upright `source`. `focal` is used only with gravity focal;
    `overlays` gives the upright size of each overlay asset the spec names (an overlay
    whose size is not given raises KeyError)."""
    steps, virtual, factor = resolve_operations(source, spec.steps)
    tw, th = spec.width, spec.height
    crop: Box | None = None
    canvas: Size | None = None
    if spec.fit is Fit.COVER:
        assert tw is not None and th is not None
        point = focal if spec.gravity is Gravity.FOCAL else None
        box = cover_box(virtual, Size(tw, th), point)
        if (box.width, box.height) != (virtual.width, virtual.height):
            crop = box
        region = Size(box.width, box.height)
        s = tw / region.width
        resize = Size(tw, th) if spec.upscale or s <= 1 else region
    elif spec.fit is Fit.FILL:
        assert tw is not None and th is not None
        region = virtual
        resize = (
            Size(tw, th) if spec.upscale
            else Size(min(tw, virtual.width), min(th, virtual.height))
        )
    else:
        region = virtual
        scales = [t / v for t, v in ((tw, virtual.width), (th, virtual.height)) if t is not None]
        s = min(scales)
        if not spec.upscale:
            s = min(s, 1.0)
        resize = Size(max(1, round(virtual.width * s)), max(1, round(virtual.height * s)))
        if spec.fit is Fit.CONTAIN:
            assert tw is not None and th is not None
            canvas = Size(tw, th)
    needed = max(resize.width / region.width, resize.height / region.height) * factor
    output = canvas or resize
    return Plan(
        steps=steps,
        virtual=virtual,
        crop=crop,
        attention=crop is not None and spec.gravity is Gravity.ATTENTION,
        resize=resize,
        canvas=canvas,
        scale=needed,
        overlays=tuple(place_overlay(output, (overlays or {})[o.param("asset")], o,
                                     margin_scale) for o in spec.overlays),
    )


def srcset(source: Size, spec: VersionSpec, main: Plan, focal: Point | None = None,
           overlays: Mapping[str, Size] | None = None) -> tuple[tuple[int, Plan], ...]:
    """A plan for each of `spec.widths` that the source can fill without upscaling (the
    others are dropped, whatever `upscale` says), ascending. Each is the version with its
    box scaled to that output width: same fit, gravity and aspect ratio (for `inside`,
    the source's). `main` is the version's own plan (margins scale with its width); the
    plan of a width equal to the version's own is equal to `main`."""
    kept: list[tuple[int, Plan]] = []
    for width in spec.widths:
        if spec.fit is Fit.INSIDE:
            scaled = replace(spec, width=width, height=None, upscale=True)
        else:
            assert spec.width is not None and spec.height is not None
            height = max(1, round(width * spec.height / spec.width))
            scaled = replace(spec, width=width, height=height, upscale=True)
        p = plan(source, scaled, focal, overlays,
                 margin_scale=width / main.output.width)
        if p.upscales:
            continue
        kept.append((width, p))
    return tuple(kept)


def decode_scale(plans: list[Plan]) -> float:
    """The one resolution (fraction of the original, at most 1) that covers every plan."""
    return min(1.0, max((p.scale for p in plans), default=1.0))
