"""The ThumbHash encoder against hashes made by the reference implementation.

The expected hashes were made by `rgbaToThumbHash` of evanw/thumbhash's js/thumbhash.js
(run under node) on exactly the pixels `lcg_rgba` and `gradient_rgba` make here. Images
whose cosine terms are all but zero (a solid colour, a symmetric pattern) are left out on
purpose: there the reference implementations themselves disagree (the JS one computes in
float64, the Rust one in float32), as the sign of rounding noise decides those terms.
"""

from __future__ import annotations

import base64

import pytest

from assetry.domain import thumbhash


def lcg_rgba(width: int, height: int, seed: int, *, alpha: bool) -> bytes:
    """Pseudo-random RGBA bytes from a linear congruential generator, easy to repeat in JS."""
    state, out = seed, bytearray()
    for _ in range(width * height):
        pixel = []
        for _ in range(4):
            state = (state * 1103515245 + 12345) % 2147483648
            pixel.append((state >> 16) % 256)
        if not alpha:
            pixel[3] = 255
        out += bytes(pixel)
    return bytes(out)


def gradient_rgba(width: int, height: int) -> bytes:
    return bytes(v for y in range(height) for x in range(width)
                 for v in (x * 255 // (width - 1), y * 255 // (height - 1), (x * y) % 256, 255))


@pytest.mark.parametrize(("width", "height", "pixels", "expected"), [
    (100, 75, lcg_rgba(100, 75, 1, alpha=False), "IAgCBYAjl2RlZjuMVrs5sF85W7/M"),
    (32, 24, lcg_rgba(32, 24, 2, alpha=False), "4PcBDYKjyVVfuoBwOKR0WfipGfvK"),
    (24, 32, lcg_rgba(24, 32, 3, alpha=True), "IOiBBAIIR8GnBniXBVOZMtB1NYeWqIZACQ=="),
    (100, 100, lcg_rgba(100, 100, 4, alpha=True), "3/eBBQAIq0d8ZWD4pJ+GmPqnqHRWaKUH1A=="),
    (7, 31, lcg_rgba(7, 31, 5, alpha=False), "XugFEgJghVhLXHt2WYDmd/g="),
    (100, 75, gradient_rgba(100, 75), "HwgKLZpwdndwd3d3d2d3d5CACfh3"),
], ids=["noise-landscape", "noise-small", "noise-alpha-portrait", "noise-alpha-100",
        "noise-narrow", "gradient"])
def test_encode_matches_the_reference_implementation(
    width: int, height: int, pixels: bytes, expected: str
) -> None:
    assert base64.b64encode(thumbhash.encode(width, height, pixels)).decode() == expected


def test_encode_sets_the_alpha_flag_only_with_transparency() -> None:
    opaque = thumbhash.encode(32, 24, lcg_rgba(32, 24, 2, alpha=False))
    translucent = thumbhash.encode(24, 32, lcg_rgba(24, 32, 3, alpha=True))
    assert opaque[2] >> 7 == 0 and translucent[2] >> 7 == 1  # bit 23 of the header


def test_encode_records_the_orientation() -> None:
    # bit 15 of the second header word says "landscape"
    assert thumbhash.encode(32, 24, lcg_rgba(32, 24, 2, alpha=False))[4] >> 7 == 1
    assert thumbhash.encode(24, 32, lcg_rgba(24, 32, 2, alpha=False))[4] >> 7 == 0


def test_encode_fully_transparent_image() -> None:
    pixels = bytes([10, 20, 30, 0]) * (16 * 16)
    assert thumbhash.encode(16, 16, pixels)[2] >> 7 == 1  # no division by a zero alpha sum


@pytest.mark.parametrize(("width", "height", "length"), [
    (101, 10, 101 * 10 * 4), (0, 10, 0), (10, 10, 10 * 10 * 3),
])
def test_encode_refuses_sizes_outside_the_format(width: int, height: int, length: int) -> None:
    with pytest.raises(ValueError, match=r"fit in|RGBA pixels"):
        thumbhash.encode(width, height, bytes(length))
