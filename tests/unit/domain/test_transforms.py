"""Transform URLs: the canonical query, what the signature covers, the limits."""

from __future__ import annotations

from uuid import UUID

import pytest

from assetry.domain.converter import Fit, Gravity, OutputFormat
from assetry.domain.transforms import (
    MAX_SIDE,
    Transform,
    canonical_query,
    expiry,
    parse,
    signature_base,
)
from assetry.errors import InvalidTransform

ID = UUID("7b0f2c1e-0000-4000-8000-000000000000")


def test_canonical_query_sorts_encodes_and_leaves_out_sig() -> None:
    params = [("w", "640"), ("sig", "x"), ("format", "webp"), ("h", "480"), ("q", "a b&c")]
    assert canonical_query(params) == "format=webp&h=480&q=a%20b%26c&w=640"
    assert signature_base(ID, params) == f"{ID}\nformat=webp&h=480&q=a%20b%26c&w=640"
    assert signature_base(ID, reversed(params)) == signature_base(ID, params)


@pytest.mark.parametrize(("params", "expected"), [
    ({"w": "640"}, Transform(640, None, Fit.INSIDE, Gravity.CENTRE, OutputFormat.SAME, 80)),
    ({"w": "640", "h": "480"},
     Transform(640, 480, Fit.COVER, Gravity.CENTRE, OutputFormat.SAME, 80)),
    ({"h": "10", "w": "20", "fit": "fill", "gravity": "attention", "format": "avif", "q": "55",
      "exp": "99", "sig": "ignored"},
     Transform(20, 10, Fit.FILL, Gravity.ATTENTION, OutputFormat.AVIF, 55)),
])
def test_parse_fills_in_defaults(params: dict[str, str], expected: Transform) -> None:
    assert parse(params.items()) == expected


@pytest.mark.parametrize(("params", "field"), [
    ({}, "w"), ({"w": "0"}, "w"), ({"w": str(MAX_SIDE + 1)}, "w"), ({"w": "1.5"}, "w"),
    ({"w": "-3"}, "w"), ({"h": "x"}, "h"), ({"w": "5", "fit": "cover"}, "fit"),
    ({"w": "5", "fit": "stretch"}, "fit"), ({"w": "5", "gravity": "north"}, "gravity"),
    ({"w": "5", "format": "bmp"}, "format"), ({"w": "5", "q": "0"}, "q"),
    ({"w": "5", "dpr": "2"}, "dpr"),
])
def test_parse_refuses_what_cannot_be_rendered(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidTransform) as caught:
        parse(params.items())
    assert caught.value.field == field


def test_parse_refuses_a_repeated_parameter() -> None:
    with pytest.raises(InvalidTransform, match="twice"):
        parse([("w", "5"), ("w", "6")])


def test_the_name_is_canonical_and_fits_a_version_name() -> None:
    a = parse([("w", "640"), ("format", "webp")])
    b = parse([("format", "webp"), ("w", "640"), ("fit", "inside"), ("q", "80")])
    assert a.name == b.name == "fit=inside&format=webp&gravity=centre&q=80&w=640"
    longest = parse([("w", str(MAX_SIDE)), ("h", str(MAX_SIDE)), ("fit", "contain"),
                     ("gravity", "attention"), ("format", "jpeg"), ("q", "100")])
    assert len(longest.name) <= 64  # versions.name is a String(64)
    assert longest.spec().upscale is False and longest.spec().width == MAX_SIDE


def test_expiry() -> None:
    assert expiry([("w", "5")]) is None
    assert expiry([("exp", "1795320000")]) == 1795320000
    with pytest.raises(InvalidTransform):
        expiry([("exp", "soon")])
