"""Placeholders from decoded images (real libvips), and the BlurHash encoder we depend on.

The expected BlurHashes were made by woltapp's reference C encoder (the `blurhash-python`
package) on exactly the pixels made here; fast-blurhash also reproduces the reference's
published vectors (`LlMF%n00%#MwS|WCWEM{R*bbWBbH` for its tests/pic2.png), which was
checked when it was chosen.
"""

from __future__ import annotations

import base64
from pathlib import Path
from uuid import uuid4

import fast_blurhash
import pytest
import pyvips

from assetry.domain import thumbhash
from assetry.domain.converter import VersionSpec
from assetry.domain.geometry import Size, plan
from assetry.domain.placeholder import SAMPLE_SIDE
from assetry.domain.ports import RenderRequest
from assetry.imaging.placeholder import placeholder, sample
from assetry.imaging.vips import VipsProcessor
from tests.unit.domain.test_thumbhash import lcg_rgba

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def rgb_of(rgba: bytes) -> bytes:
    return bytes(v for i, v in enumerate(rgba) if i % 4 != 3)


def gradient_rgb(width: int, height: int) -> bytes:
    return bytes(v for y in range(height) for x in range(width)
                 for v in (x * 255 // (width - 1), y * 255 // (height - 1), (x * y) % 256))


@pytest.mark.parametrize(("width", "height", "pixels", "expected"), [
    (32, 24, rgb_of(lcg_rgba(32, 24, 7, alpha=False)), "L9Heh6XpoZ?E~Vrg$+a9+HN6xIJ7"),
    (32, 24, gradient_rgb(32, 24), "L$HewC2lwtX4l@WBjwe@gFfmfTfi"),
    (32, 24, bytes([40, 120, 200]) * (32 * 24), "L74r1CkufQkupMflfQflfQfQfQfQ"),
], ids=["noise", "gradient", "solid"])
def test_fast_blurhash_matches_the_reference_encoder(
    width: int, height: int, pixels: bytes, expected: str
) -> None:
    assert fast_blurhash.encode(pixels, 4, 3, width, height) == expected


def solid(width: int, height: int, colour: tuple[int, ...]) -> pyvips.Image:
    image = (pyvips.Image.black(width, height, bands=len(colour)) + list(colour)).cast("uchar")
    return image.copy(interpretation="srgb")


def blurhash_average(blurhash: str) -> tuple[int, int, int]:
    """The sRGB average colour a BlurHash carries (its DC term)."""
    value = 0
    for char in blurhash[2:6]:
        value = value * 83 + _BASE83.index(char)
    return value >> 16, value >> 8 & 255, value & 255


def test_placeholder_of_a_solid_image() -> None:
    made = placeholder(solid(640, 480, (40, 120, 200)))
    assert made.color == "#2878c8"
    assert made.blurhash == "L74r1CkufQkupMflfQflfQfQfQfQ"
    assert blurhash_average(made.blurhash) == (40, 120, 200)
    hashed = base64.b64decode(made.thumbhash)
    assert hashed[2] >> 7 == 0 and hashed[4] >> 7 == 1  # no alpha; landscape


def test_placeholder_is_the_hash_of_a_small_sample() -> None:
    image = pyvips.Image.new_from_memory(lcg_rgba(100, 75, 1, alpha=False), 100, 75, 4,
                                         "uchar").copy(interpretation="srgb")
    made = placeholder(image)
    small = sample(image)
    assert (small.width, small.height) == (SAMPLE_SIDE, 24)
    expected = thumbhash.encode(32, 24, bytes(small.write_to_memory()))
    assert base64.b64decode(made.thumbhash) == expected


@pytest.mark.parametrize(("width", "height"), [
    (1200, 900), (4000, 3000), (641, 480), (33, 17), (5000, 20), (20, 5000), (97, 96)])
def test_sample_fits_the_side_keeping_the_shape_and_the_mean(width: int, height: int) -> None:
    # two colours side by side: the sample's mean is theirs, whatever the size
    left = width // 2
    image = solid(width, height, (200, 40, 10)).insert(
        solid(width - left, height, (0, 100, 250)), left, 0)
    small = sample(image)
    scale = SAMPLE_SIDE / max(width, height)
    assert (small.width, small.height) == (max(1, round(width * scale)),
                                           max(1, round(height * scale)))
    assert small.format == "uchar" and small.bands == 3
    share = left / width
    for band, (a, b) in enumerate(((200, 0), (40, 100), (10, 250))):
        assert small.extract_band(band).avg() == pytest.approx(a * share + b * (1 - share),
                                                               abs=4)


def test_placeholder_color_is_the_larger_of_two_colours() -> None:
    image = solid(1000, 400, (255, 0, 0)).insert(solid(300, 400, (0, 0, 255)), 700, 0)
    assert placeholder(image).color == "#ff0000"
    image = solid(1000, 400, (255, 0, 0)).insert(solid(700, 400, (0, 0, 255)), 300, 0)
    assert placeholder(image).color == "#0000ff"


def test_placeholder_of_a_transparent_image() -> None:
    # a green square in the middle of a fully transparent black canvas
    canvas = solid(200, 200, (0, 0, 0, 0)).insert(solid(100, 100, (0, 160, 0, 255)), 50, 50)
    made = placeholder(canvas)
    assert made.color == "#00a000"  # the transparent pixels are not the dominant colour
    assert base64.b64decode(made.thumbhash)[2] >> 7 == 1  # the alpha flag
    red, green, blue = blurhash_average(made.blurhash)
    assert red > 150 and blue > 150 and green > red  # flattened on white, not on black


def test_placeholder_never_enlarges_a_tiny_image() -> None:
    made = placeholder(solid(3, 2, (10, 20, 30)))
    assert made.color == "#0a141e"
    assert base64.b64decode(made.thumbhash)[4] >> 7 == 1  # still landscape


def test_render_makes_placeholders_from_its_own_decode_only_when_asked(tmp_path: Path) -> None:
    processor = VipsProcessor()
    path = tmp_path / "photo.png"
    solid(400, 300, (200, 30, 60)).write_to_file(str(path))
    source = Size(400, 300)
    request = RenderRequest(uuid4(), plan(source, VersionSpec(name="t", width=40, height=30)),
                            "png", 80)
    plain = processor.render(path, "image/png", [request], 0.1)
    assert plain.placeholder is None and len(plain) == 1
    made = processor.render(path, "image/png", [request], 0.1, placeholder=True)
    assert len(made) == 1 and made[0].width == 40  # the versions are unchanged
    assert made.placeholder is not None and made.placeholder.color == "#c81e3c"
