"""imaging/icc.py: which embedded profiles count as sRGB (their pixels are left as they
are). Real profiles from libvips' own set, and hand-built ones for the curve forms."""

from __future__ import annotations

import struct

import pytest
import pyvips

from assetry.imaging.icc import SRGB_COLORANTS, is_srgb, srgb_curve


def libvips_profile(name: str) -> bytes:
    """The bytes of one of libvips' built-in profiles (srgb, p3, cmyk)."""
    image = pyvips.Image.black(2, 2, bands=3).cast("uchar").copy(interpretation="srgb")
    return bytes(image.icc_transform(name, input_profile="srgb").get("icc-profile-data"))


def xyz_tag(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ \0\0\0\0" + struct.pack(">3i", *(round(v * 65536) for v in xyz))


def curv_tag(values: list[float]) -> bytes:
    return (b"curv\0\0\0\0" + struct.pack(">I", len(values))
            + struct.pack(f">{len(values)}H", *(round(v * 65535) for v in values)))


def built(colorants: tuple[tuple[float, float, float], ...], trc: bytes,
          space: bytes = b"RGB ") -> bytes:
    """A minimal ICC profile: header, tag table, colorants and one curve for all three."""
    tags = [(b"rXYZ", xyz_tag(colorants[0])), (b"gXYZ", xyz_tag(colorants[1])),
            (b"bXYZ", xyz_tag(colorants[2])), (b"rTRC", trc), (b"gTRC", trc),
            (b"bTRC", trc)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, body in tags:
        table += struct.pack(">4sII", signature, offset + len(data), len(body))
        data += body
    header = bytearray(128)
    header[12:24] = b"mntr" + space + b"XYZ "
    header[36:40] = b"acsp"
    profile = bytes(header) + struct.pack(">I", len(tags)) + table + data
    return struct.pack(">I", len(profile)) + profile[4:]


SRGB_TABLE = [srgb_curve(i / 1023) for i in range(1024)]


def test_libvips_srgb_profile_is_srgb() -> None:
    assert is_srgb(libvips_profile("srgb"))


@pytest.mark.parametrize("name", ["p3", "cmyk"])
def test_other_libvips_profiles_are_not(name: str) -> None:
    assert not is_srgb(libvips_profile(name))


def test_a_sampled_srgb_curve_with_srgb_primaries_is_srgb() -> None:
    # the form of the common 3,144-byte "sRGB IEC61966-2.1" profile
    assert is_srgb(built(SRGB_COLORANTS, curv_tag(SRGB_TABLE)))


def test_primaries_a_little_off_are_not_srgb() -> None:
    red, green, blue = SRGB_COLORANTS
    shifted = ((red[0] + 0.01, red[1], red[2]), green, blue)
    assert not is_srgb(built(shifted, curv_tag(SRGB_TABLE)))


@pytest.mark.parametrize("trc", [
    curv_tag([(i / 1023) ** 2.2 for i in range(1024)]),  # gamma 2.2: not sRGB's curve
    b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233),  # a pure gamma, stored as one value
    b"curv\0\0\0\0" + struct.pack(">I", 0),  # identity: linear light
], ids=["gamma-2.2", "pure-gamma", "linear"])
def test_srgb_primaries_with_another_curve_are_not_srgb(trc: bytes) -> None:
    assert not is_srgb(built(SRGB_COLORANTS, trc))


def para_tag(g: float, a: float, b: float, c: float, d: float) -> bytes:
    return (b"para\0\0\0\0" + struct.pack(">HH", 3, 0)
            + struct.pack(">5i", *(round(v * 65536) for v in (g, a, b, c, d))))


def test_srgb_s_own_parametric_curve_is_srgb() -> None:
    assert is_srgb(built(SRGB_COLORANTS, para_tag(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92,
                                                  0.04045)))


@pytest.mark.parametrize("params", [
    (2.4, -1.0, 0.0, 0.0774, 0.04045),  # a negative base: a complex power
    (30000.0, 1.0, 0.5, 0.0774, 0.0),  # a power that overflows
    (-2.4, 1.0, 0.0, 0.0774, 0.0),  # zero to a negative power
], ids=["complex", "overflow", "zero-division"])
def test_a_nonsensical_parametric_curve_is_not_srgb_and_raises_nothing(
        params: tuple[float, float, float, float, float]) -> None:
    # the bytes of an upload: whatever they say, the answer is False, never an error
    assert not is_srgb(built(SRGB_COLORANTS, para_tag(*params)))


def test_a_grey_profile_is_not_srgb() -> None:
    assert not is_srgb(built(SRGB_COLORANTS, curv_tag(SRGB_TABLE), space=b"GRAY"))


@pytest.mark.parametrize("cut", [0, 50, 140, 200])
def test_truncated_or_garbage_profiles_are_not_srgb(cut: int) -> None:
    assert not is_srgb(built(SRGB_COLORANTS, curv_tag(SRGB_TABLE))[:cut])
    assert not is_srgb(b"\xff" * 400)
