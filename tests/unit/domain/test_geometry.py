"""Table tests of domain.geometry: the Plan a spec and a source size give."""

from __future__ import annotations

from typing import Any

import pytest

from assetry.domain.converter import Fit, Gravity, Operation, VersionSpec
from assetry.domain.geometry import (
    Box,
    Placement,
    Plan,
    Point,
    Size,
    decode_scale,
    place_overlay,
    plan,
    srcset,
)


def spec(width: int | None, height: int | None, **kwargs: Any) -> VersionSpec:
    return VersionSpec(name="v", width=width, height=height, **kwargs)


def op(name: str, **params: object) -> Operation:
    return Operation(op=name, params=tuple(params.items()))


@pytest.mark.parametrize(
    ("source", "target", "crop", "resize"),
    [
        ((840, 700), (200, 100), Box(0, 140, 840, 420), (200, 100)),
        ((1000, 400), (200, 100), Box(100, 0, 800, 400), (200, 100)),
        ((800, 400), (200, 100), None, (200, 100)),
        ((999, 500), (200, 100), None, (200, 100)),  # round(499.5) is 500: no crop
        ((1500, 500), (500, 250), Box(250, 0, 1000, 500), (500, 250)),
        ((800, 563), (800, 800), Box(118, 0, 563, 563), (563, 563)),  # no upscale
        ((36, 38), (100, 100), Box(0, 1, 36, 36), (36, 36)),
        ((4000, 3000), (300, 300), Box(500, 0, 3000, 3000), (300, 300)),
    ],
)
def test_plan_cover_crops_centred(
    source: tuple[int, int], target: tuple[int, int], crop: Box | None, resize: tuple[int, int]
) -> None:
    p = plan(Size(*source), spec(*target))
    assert p.crop == crop
    assert p.resize == Size(*resize)
    assert p.canvas is None
    assert p.output == Size(*resize)
    assert not p.attention


def test_plan_cover_upscale_fills_target() -> None:
    p = plan(Size(36, 38), spec(100, 100, upscale=True))
    assert p.crop == Box(0, 1, 36, 36)
    assert p.resize == Size(100, 100)
    assert p.scale == pytest.approx(100 / 36)


@pytest.mark.parametrize(
    ("fit", "source", "target", "upscale", "resize", "canvas"),
    [
        (Fit.CONTAIN, (800, 400), (200, 200), False, (200, 100), (200, 200)),
        (Fit.CONTAIN, (100, 50), (200, 200), False, (100, 50), (200, 200)),
        (Fit.CONTAIN, (100, 50), (200, 200), True, (200, 100), (200, 200)),
        (Fit.INSIDE, (800, 400), (200, 200), False, (200, 100), None),
        (Fit.INSIDE, (800, 400), (None, 100), False, (200, 100), None),
        (Fit.INSIDE, (800, 400), (300, None), False, (300, 150), None),
        (Fit.INSIDE, (100, 50), (200, 200), False, (100, 50), None),
        (Fit.FILL, (800, 400), (300, 300), False, (300, 300), None),
        (Fit.FILL, (100, 50), (300, 300), False, (100, 50), None),
        (Fit.FILL, (100, 50), (300, 300), True, (300, 300), None),
    ],
)
def test_plan_fit_sizes(
    fit: Fit,
    source: tuple[int, int],
    target: tuple[int | None, int | None],
    upscale: bool,
    resize: tuple[int, int],
    canvas: tuple[int, int] | None,
) -> None:
    p = plan(Size(*source), spec(*target, fit=fit, upscale=upscale))
    assert p.crop is None
    assert p.resize == Size(*resize)
    assert p.canvas == (Size(*canvas) if canvas else None)
    assert p.output == (Size(*canvas) if canvas else Size(*resize))


@pytest.mark.parametrize(
    ("operations", "virtual"),
    [
        ((op("rotate", angle=90),), Size(300, 400)),
        ((op("rotate", angle=180),), Size(400, 300)),
        ((op("rotate", angle=270),), Size(300, 400)),
        ((op("rotate", angle=90), op("rotate", angle=90)), Size(400, 300)),
        ((op("flip", axis="horizontal"), op("blur", sigma=2.0), op("grayscale")), Size(400, 300)),
        ((op("scale", factor=0.5),), Size(200, 150)),
        ((op("aspect_crop", ratio=(1.0, 1.0), shift=(0.5, 0.5)),), Size(300, 300)),
    ],
)
def test_plan_operations_give_virtual_size(
    operations: tuple[Operation, ...], virtual: Size
) -> None:
    p = plan(Size(400, 300), spec(100, 100, fit=Fit.INSIDE, operations=operations))
    assert p.virtual == virtual
    assert len(p.steps) == len(operations)
    assert p.steps[-1].size_after == virtual


def test_plan_rotate_swaps_cover_crop() -> None:
    p = plan(Size(840, 700), spec(100, 200, operations=(op("rotate", angle=90),)))
    assert p.virtual == Size(700, 840)
    assert p.crop == Box(140, 0, 420, 840)


def test_plan_scale_factor_lowers_needed_resolution() -> None:
    p = plan(Size(4000, 2000), spec(1000, None, fit=Fit.INSIDE,
                                    operations=(op("scale", factor=0.5),)))
    assert p.virtual == Size(2000, 1000)
    assert p.resize == Size(1000, 500)
    assert p.scale == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("source", "ratio", "shift", "box"),
    [
        ((1600, 900), (1.0, 1.0), (0.5, 0.5), Box(350, 0, 900, 900)),
        ((1600, 900), (1.0, 1.0), (0.0, 0.5), Box(0, 0, 900, 900)),
        ((1600, 900), (1.0, 1.0), (1.0, 0.5), Box(700, 0, 900, 900)),
        ((900, 1600), (16.0, 9.0), (0.5, 0.5), Box(0, 547, 900, 506)),
    ],
)
def test_plan_aspect_crop_box(
    source: tuple[int, int], ratio: tuple[float, float], shift: tuple[float, float], box: Box
) -> None:
    p = plan(Size(*source), spec(100, 100, fit=Fit.INSIDE,
                                 operations=(op("aspect_crop", ratio=ratio, shift=shift),)))
    assert p.steps[0].box == box
    assert p.virtual == Size(box.width, box.height)


@pytest.mark.parametrize(
    ("focal", "crop"),
    [
        (Point(0.0, 0.5), Box(0, 0, 400, 400)),
        (Point(1.0, 0.5), Box(600, 0, 400, 400)),
        (Point(0.3, 0.5), Box(100, 0, 400, 400)),
        (None, Box(300, 0, 400, 400)),  # gravity focal without a focal point: centred
    ],
)
def test_plan_focal_gravity_moves_crop(focal: Point | None, crop: Box) -> None:
    p = plan(Size(1000, 400), spec(100, 100, gravity=Gravity.FOCAL), focal)
    assert p.crop == crop


def test_plan_focal_ignored_without_focal_gravity() -> None:
    p = plan(Size(1000, 400), spec(100, 100), Point(0.0, 0.0))
    assert p.crop == Box(300, 0, 400, 400)


@pytest.mark.parametrize(
    ("source", "gravity", "attention"),
    [
        ((1000, 400), Gravity.ATTENTION, True),
        ((800, 400), Gravity.ATTENTION, False),  # nothing to crop, nothing to choose
        ((1000, 400), Gravity.CENTRE, False),
    ],
)
def test_plan_attention_only_when_cropping(
    source: tuple[int, int], gravity: Gravity, attention: bool
) -> None:
    assert plan(Size(*source), spec(200, 100, gravity=gravity)).attention is attention


@pytest.mark.parametrize(
    ("source", "target", "scale"),
    [
        ((4000, 3000), (1200, 630), 0.3),
        ((4000, 3000), (300, 300), 0.1),
        ((840, 700), (200, 100), 200 / 840),
        ((100, 100), (200, 200), 1.0),  # no upscale: the region itself
    ],
)
def test_plan_scale_is_needed_resolution(
    source: tuple[int, int], target: tuple[int, int], scale: float
) -> None:
    assert plan(Size(*source), spec(*target)).scale == pytest.approx(scale)


def _plans(*scales: float) -> list[Plan]:
    base = plan(Size(100, 100), spec(10, 10))
    return [Plan(base.steps, base.virtual, base.crop, base.attention, base.resize,
                 base.canvas, s) for s in scales]


@pytest.mark.parametrize(
    ("scales", "expected"),
    [((0.3, 0.1), 0.3), ((0.1,), 0.1), ((0.5, 2.0), 1.0), ((), 1.0)],
)
def test_decode_scale_covers_every_plan(scales: tuple[float, ...], expected: float) -> None:
    assert decode_scale(_plans(*scales)) == pytest.approx(expected)


# -- srcset widths and overlays (issue 7) ---------------------------------------------------

LOGO = "0b2cb56e-8c2e-4b7a-9d3e-0d8f5f8f1a11"


def overlay(**params: object) -> Operation:
    defaults: dict[str, object] = {"asset": LOGO, "gravity": "south-east", "opacity": 1.0,
                                   "scale": 0.2, "margin": 0}
    return op("overlay", **{**defaults, **params})


def test_srcset_keeps_widths_the_source_fills_at_the_version_aspect() -> None:
    s = spec(1280, 720, widths=(320, 640, 1280, 4000, 6000))
    main = plan(Size(4000, 3000), s)
    kept = srcset(Size(4000, 3000), s, main)
    # 6000 would upscale the 4000x2250 crop: dropped; 4000 is the crop itself
    assert [(w, p.output) for w, p in kept] == [
        (320, Size(320, 180)), (640, Size(640, 360)), (1280, Size(1280, 720)),
        (4000, Size(4000, 2250))]
    assert all(p.crop == main.crop for _, p in kept)  # the same region, only smaller
    assert dict(kept)[1280] == main
    assert decode_scale([p for _, p in kept]) == 1.0


def test_srcset_drops_widths_above_a_small_source_whatever_upscale_says() -> None:
    s = spec(1280, 720, widths=(320, 640, 1280), upscale=True)
    main = plan(Size(1000, 800), s)
    assert main.output == Size(1280, 720)  # the version itself may upscale
    assert [w for w, _ in srcset(Size(1000, 800), s, main)] == [320, 640]


@pytest.mark.parametrize(("fit", "output"), [
    (Fit.INSIDE, Size(400, 300)), (Fit.CONTAIN, Size(400, 400)), (Fit.FILL, Size(400, 400)),
])
def test_srcset_each_fit_gives_the_asked_width(fit: Fit, output: Size) -> None:
    s = spec(800, 800, fit=fit, widths=(400,))
    [(width, p)] = srcset(Size(1600, 1200), s, plan(Size(1600, 1200), s))
    assert (width, p.output) == (400, output)


def test_srcset_of_a_height_only_inside_version() -> None:
    s = spec(None, 600, fit=Fit.INSIDE, widths=(200, 2000))
    [(width, p)] = srcset(Size(1600, 1200), s, plan(Size(1600, 1200), s))
    assert (width, p.output) == (200, Size(200, 150))


def test_plan_leaves_overlays_out_of_the_steps_and_places_them_on_the_output() -> None:
    s = spec(400, 300, operations=(op("grayscale"), overlay(margin=10)))
    p = plan(Size(800, 600), s, overlays={LOGO: Size(200, 100)})
    assert [step.op for step in p.steps] == ["grayscale"]
    # 0.2 x 400 = 80 wide, 40 high (the logo's 2:1), 10 px in from the bottom right
    assert p.overlays == (Placement(LOGO, Box(310, 250, 80, 40), 1.0),)


@pytest.mark.parametrize(("gravity", "left", "top"), [
    ("north-west", 8, 8), ("north", 160, 8), ("north-east", 312, 8), ("west", 8, 130),
    ("centre", 160, 130), ("east", 312, 130), ("south-west", 8, 252), ("south", 160, 252),
    ("south-east", 312, 252),
])
def test_overlay_gravity(gravity: str, left: int, top: int) -> None:
    placed = place_overlay(Size(400, 300), Size(100, 50), overlay(gravity=gravity, margin=8))
    assert placed.box == Box(left, top, 80, 40)


def test_overlay_shrinks_to_fit_inside_the_margins() -> None:
    # a tall logo at scale 1.0 of a wide banner: 300 wide would be 600 high
    placed = place_overlay(Size(300, 100), Size(100, 200), overlay(scale=1.0, margin=10))
    assert placed.box == Box(250, 10, 40, 80)


def test_srcset_scales_overlay_margins_with_the_width() -> None:
    s = spec(800, 600, widths=(400,), operations=(overlay(margin=20, opacity=0.5),))
    sizes = {LOGO: Size(100, 100)}
    main = plan(Size(1600, 1200), s, overlays=sizes)
    [(_, half)] = srcset(Size(1600, 1200), s, main, overlays=sizes)
    assert main.overlays[0].box == Box(620, 420, 160, 160)
    assert half.overlays[0].box == Box(310, 210, 80, 80)
    assert half.overlays[0].opacity == 0.5


def test_plan_upscales() -> None:
    assert not plan(Size(400, 300), spec(200, 200)).upscales
    assert plan(Size(100, 100), spec(200, 200, upscale=True)).upscales
