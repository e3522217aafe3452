"""Table tests of domain.geometry: the Plan a spec and a source size give."""

from __future__ import annotations

from typing import Any

import pytest

from assetry.domain.converter import Fit, Gravity, Operation, VersionSpec
from assetry.domain.geometry import Box, Plan, Point, Size, decode_scale, plan


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
