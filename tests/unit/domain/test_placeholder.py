"""The dominant colour, and the decode scale placeholders need."""

from __future__ import annotations

import pytest

from assetry.domain.geometry import Size
from assetry.domain.placeholder import SAMPLE_SIDE, dominant_color, min_decode_scale


def pixels(*runs: tuple[int, tuple[int, int, int, int]]) -> bytes:
    """RGBA bytes: `count` pixels of each colour, in order."""
    return b"".join(bytes(rgba) * count for count, rgba in runs)


def test_dominant_color_of_a_solid_image_is_that_colour() -> None:
    assert dominant_color(pixels((1024, (40, 120, 200, 255)))) == "#2878c8"


def test_dominant_color_of_two_colours_is_the_larger_one_not_a_blend() -> None:
    red, blue = (255, 0, 0, 255), (0, 0, 255, 255)
    assert dominant_color(pixels((700, red), (300, blue))) == "#ff0000"
    assert dominant_color(pixels((300, red), (700, blue))) == "#0000ff"


def test_dominant_color_is_the_mean_of_the_winning_cell() -> None:
    # 10 and 20 share a 32-level cell; 200 is in another, smaller one
    near = pixels((2, (10, 10, 10, 255)), (2, (20, 20, 20, 255)), (3, (200, 200, 200, 255)))
    assert dominant_color(near) == "#0f0f0f"  # 15, the mean of 10, 10, 20, 20


def test_dominant_color_rounds_half_up() -> None:
    assert dominant_color(pixels((1, (10, 0, 0, 255)), (1, (11, 0, 0, 255)))) == "#0b0000"


def test_dominant_color_leaves_out_mostly_transparent_pixels() -> None:
    logo = pixels((100, (0, 160, 0, 255)), (900, (0, 0, 0, 0)), (50, (255, 255, 255, 100)))
    assert dominant_color(logo) == "#00a000"


def test_dominant_color_of_a_fully_transparent_image_uses_every_pixel() -> None:
    assert dominant_color(pixels((4, (9, 9, 9, 0)), (1, (250, 0, 0, 0)))) == "#090909"


def test_dominant_color_ties_go_to_the_lowest_cell() -> None:
    assert dominant_color(pixels((5, (250, 0, 0, 255)), (5, (0, 0, 250, 255)))) == "#0000fa"


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02"])
def test_dominant_color_refuses_what_is_not_rgba(data: bytes) -> None:
    with pytest.raises(ValueError, match="RGBA"):
        dominant_color(data)


@pytest.mark.parametrize(("source", "scale"), [
    (Size(4000, 3000), SAMPLE_SIDE / 4000),
    (Size(300, 3200), SAMPLE_SIDE / 3200),
    (Size(20, 10), 1.0),
])
def test_min_decode_scale_keeps_a_full_sample(source: Size, scale: float) -> None:
    assert min_decode_scale(source) == pytest.approx(scale)
