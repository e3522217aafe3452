"""On-the-fly transforms: the query of GET /api/assets/{id}/render, its canonical form, the
string its signature covers, and the limits a render must stay within.

    /api/assets/{id}/render?w=640&h=480&fit=cover&format=webp&q=75&sig=...

`sig` is an HMAC-SHA256 (base64url, no padding) of `signature_base(asset_id, params)`:
the asset id, a newline, and every parameter but `sig`, sorted, percent-encoded. Only
holders of the URL signing key can mint such URLs, which bounds the CPU and storage
strangers can make the service spend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote
from uuid import UUID

from assetry.domain.converter import Fit, Gravity, OutputFormat, VersionSpec, parse_format
from assetry.errors import InvalidTransform

MAX_SIDE = 4096  #: the most pixels on either side of a transform's output
PARAMS = frozenset({"w", "h", "fit", "gravity", "format", "q", "exp"})
SIGNATURE = "sig"


@dataclass(frozen=True, slots=True)
class Transform:
    """One render of an image, as the query asked for it, defaults filled in."""

    width: int | None
    height: int | None
    fit: Fit
    gravity: Gravity
    format: OutputFormat
    quality: int

    @property
    def name(self) -> str:
        """The canonical spec, every field spelled out: the stored result's version name,
        so that two URLs asking for the same render share it. At most 61 characters."""
        fields = {"fit": self.fit.value, "format": self.format.value,
                  "gravity": self.gravity.value, "q": str(self.quality)}
        if self.width is not None:
            fields["w"] = str(self.width)
        if self.height is not None:
            fields["h"] = str(self.height)
        return "&".join(f"{k}={fields[k]}" for k in sorted(fields))

    def spec(self) -> VersionSpec:
        """The version spec that renders it (never upscaled, like converter versions)."""
        return VersionSpec(name="transform", width=self.width, height=self.height,
                           fit=self.fit, gravity=self.gravity, format=self.format,
                           quality=self.quality, upscale=False)


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """Every parameter but `sig`, sorted by name then value, each `name=value` percent-
    encoded (RFC 3986 unreserved characters kept), joined by `&`."""
    pairs = sorted((k, v) for k, v in params if k != SIGNATURE)
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)


def signature_base(asset_id: UUID, params: Iterable[tuple[str, str]]) -> str:
    """What a transform URL's signature covers: the asset id, a newline, the canonical
    query. (Signed byte URLs cover a path, which starts with "/": the two never collide.)"""
    return f"{asset_id}\n{canonical_query(params)}"


def parse(params: Iterable[tuple[str, str]]) -> Transform:
    """The transform a query asks for (`sig` and `exp` are not part of it). Raises
    InvalidTransform naming the parameter: unknown or repeated parameters, sides that
    are not integers from 1 to MAX_SIDE, an unknown fit, gravity or format, a quality
    outside 1..100, or a fit that needs both sides given one."""
    values: dict[str, str] = {}
    for key, value in params:
        if key == SIGNATURE:
            continue
        if key not in PARAMS:
            raise InvalidTransform(f"unknown parameter {key!r}; known: "
                                   f"{', '.join(sorted(PARAMS | {SIGNATURE}))}", field=key)
        if key in values:
            raise InvalidTransform(f"{key} is given twice", field=key)
        values[key] = value
    width = _side(values, "w")
    height = _side(values, "h")
    if width is None and height is None:
        raise InvalidTransform("needs w, h or both", field="w")
    fit = _choice(Fit, values.get("fit"), "fit",
                  Fit.COVER if width is not None and height is not None else Fit.INSIDE)
    if fit is not Fit.INSIDE and (width is None or height is None):
        raise InvalidTransform(f"fit {fit.value} needs both w and h", field="fit")
    gravity = _choice(Gravity, values.get("gravity"), "gravity", Gravity.CENTRE)
    try:
        fmt = parse_format(values.get("format"))
    except ValueError as exc:
        raise InvalidTransform(f"format {exc}", field="format") from None
    quality = _integer(values, "q", 1, 100)
    return Transform(width=width, height=height, fit=fit, gravity=gravity, format=fmt,
                     quality=80 if quality is None else quality)


def expiry(params: Iterable[tuple[str, str]]) -> int | None:
    """The optional `exp` parameter (Unix time after which the URL is refused). Raises
    InvalidTransform when it is not a whole number."""
    values = dict(params)
    if "exp" not in values:
        return None
    if not values["exp"].isdigit():
        raise InvalidTransform("exp must be a Unix time in whole seconds", field="exp")
    return int(values["exp"])


def _encode(text: str) -> str:
    return quote(text, safe="-._~")


def _integer(values: dict[str, str], key: str, lo: int, hi: int) -> int | None:
    raw = values.get(key)
    if raw is None:
        return None
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise InvalidTransform(f"{key} must be an integer from {lo} to {hi}, not {raw!r}",
                               field=key)
    return int(raw)


def _side(values: dict[str, str], key: str) -> int | None:
    return _integer(values, key, 1, MAX_SIDE)


E = TypeVar("E", Fit, Gravity)


def _choice(enum: type[E], raw: str | None, key: str, default: E) -> E:
    if raw is None:
        return default
    try:
        return enum(raw)
    except ValueError:
        raise InvalidTransform(f"{key} must be one of {', '.join(e.value for e in enum)}, "
                               f"not {raw!r}", field=key) from None
