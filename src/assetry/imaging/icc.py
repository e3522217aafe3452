"""Whether an embedded ICC profile describes sRGB, so that its pixels need no conversion.

Many PNGs and JPEGs exported for the web carry an sRGB profile (most often the 3,144-byte
"sRGB IEC61966-2.1" one). Converting their pixels from that profile to libvips' sRGB
through lcms changes them by rounding only, and costs as much as the rest of a PNG's
decode (about 200 M instructions for a 1200x900 output: bench_ingest's alpha PNG). A
profile counts as sRGB when it is an RGB profile whose colorants are sRGB's primaries
(adapted to D50, as every ICC profile stores them) and whose three tone curves follow
sRGB's, both within what 8-bit output can tell apart; anything else, or anything this
parser does not understand, is converted as before.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

#: sRGB's primaries as an ICC profile stores them (rXYZ, gXYZ, bXYZ: D50-adapted XYZ)
SRGB_COLORANTS = (
    (0.4361, 0.2225, 0.0139),
    (0.3851, 0.7169, 0.0971),
    (0.1431, 0.0606, 0.7141),
)
#: how far a colorant's X, Y or Z may be from sRGB's (profiles round them differently;
#: Display P3's differ by 0.08)
COLORANT_TOLERANCE = 0.002
#: how far a tone curve may be from sRGB's, as a fraction of full scale: under half an
#: 8-bit level (a 2.2 gamma curve is 0.03 away in the shadows)
CURVE_TOLERANCE = 0.5 / 255
_HEADER = 128
_CURVE_SAMPLES = 33


def is_srgb(profile: bytes) -> bool:
    """Whether `profile` (an ICC profile's bytes) describes sRGB. False for anything
    malformed, truncated or of a kind not checked here."""
    try:
        if len(profile) < _HEADER + 4 or profile[16:20] != b"RGB ":
            return False
        tags = _tags(profile)
        colorants = [_xyz(tags[name]) for name in (b"rXYZ", b"gXYZ", b"bXYZ")]
        if any(abs(a - b) > COLORANT_TOLERANCE
               for got, want in zip(colorants, SRGB_COLORANTS, strict=True)
               for a, b in zip(got, want, strict=True)):
            return False
        return all(_follows_srgb(tags[name]) for name in (b"rTRC", b"gTRC", b"bTRC"))
    except (KeyError, struct.error, ValueError, ArithmeticError):
        return False


def srgb_curve(x: float) -> float:
    """sRGB's transfer function (IEC 61966-2-1): encoded 0..1 to linear 0..1."""
    return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4


def _tags(profile: bytes) -> dict[bytes, bytes]:
    (count,) = struct.unpack_from(">I", profile, _HEADER)
    tags = {}
    for i in range(min(count, 256)):
        signature, offset, size = struct.unpack_from(">4sII", profile, _HEADER + 4 + 12 * i)
        if offset + size > len(profile):
            raise ValueError("a tag runs past the end of the profile")
        tags[signature] = profile[offset:offset + size]
    return tags


def _xyz(tag: bytes) -> tuple[float, float, float]:
    if tag[:4] != b"XYZ ":
        raise ValueError("not an XYZ tag")
    x, y, z = struct.unpack_from(">3i", tag, 8)
    return x / 65536, y / 65536, z / 65536


def _follows_srgb(tag: bytes) -> bool:
    curve = _curve(tag)
    return all(abs(curve(x) - srgb_curve(x)) <= CURVE_TOLERANCE
               for x in (i / (_CURVE_SAMPLES - 1) for i in range(_CURVE_SAMPLES)))


def _curve(tag: bytes) -> Callable[[float], float]:
    """The tone curve of a `curv` or `para` tag, as a function of 0..1."""
    kind = tag[:4]
    if kind == b"curv":
        n: int = struct.unpack_from(">I", tag, 8)[0]
        if n < 2:
            raise ValueError("an identity or pure gamma curve is not sRGB's")
        table: tuple[int, ...] = struct.unpack_from(f">{n}H", tag, 12)

        def sampled(x: float) -> float:
            at = x * (n - 1)
            i = min(int(at), n - 2)
            return (table[i] + (table[i + 1] - table[i]) * (at - i)) / 65535

        return sampled
    if kind == b"para":
        (function,) = struct.unpack_from(">H", tag, 8)
        if function != 3:
            raise ValueError("only sRGB's own parametric form is checked")
        g, a, b, c, d = (float(v) / 65536 for v in struct.unpack_from(">5i", tag, 12))

        def parametric(x: float) -> float:
            if x < d:
                return c * x
            base = a * x + b
            # a negative base to a fractional power is complex: no tone curve at all
            return math.nan if base < 0 else float(base ** g)

        return parametric
    raise ValueError("not a tone curve")
