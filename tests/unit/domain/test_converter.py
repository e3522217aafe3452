"""Converter specs: what parse_converter accepts, what it refuses (and which field), and
how override() merges per-call settings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from assetry.domain.converter import (
    DEFAULT_CONVERTER,
    Fit,
    Gravity,
    Operation,
    OutputFormat,
    lineage,
    override,
    parse_converter,
    render_order,
)
from assetry.errors import InvalidConverter

DEFAULT_JSON: dict[str, Any] = {
    "versions": [
        {"name": "detail", "width": 800, "height": 800},
        {"name": "thumbnail", "width": 100, "height": 100},
    ]
}


def test_parse_converter_accepts_default_json() -> None:
    assert parse_converter("default", DEFAULT_JSON) == DEFAULT_CONVERTER


def test_parse_converter_round_trips_to_json() -> None:
    assert parse_converter("default", DEFAULT_CONVERTER.to_json()) == DEFAULT_CONVERTER


def test_parse_converter_reads_every_field() -> None:
    raw = {"versions": [{
        "name": "hero", "width": 1200, "height": 630, "fit": "contain", "gravity": "attention",
        "format": "webp", "quality": 70, "upscale": True,
        "operations": [
            {"op": "rotate", "angle": 90}, {"op": "flip", "axis": "vertical"},
            {"op": "blur", "sigma": 2}, {"op": "grayscale"},
            {"op": "background", "color": [10, 20, 30]}, {"op": "scale", "factor": 0.5},
            {"op": "aspect_crop", "ratio": [16, 9]},
        ],
    }]}
    v = parse_converter("site", raw).versions[0]
    assert (v.width, v.height, v.fit, v.gravity, v.format, v.quality, v.upscale) == (
        1200, 630, Fit.CONTAIN, Gravity.ATTENTION, OutputFormat.WEBP, 70, True
    )
    assert [o.op for o in v.operations] == [
        "rotate", "flip", "blur", "grayscale", "background", "scale", "aspect_crop"
    ]
    assert v.operations[2] == Operation("blur", (("sigma", 2.0),))
    assert v.operations[4].param("color") == (10, 20, 30)
    assert v.operations[6].param("shift") == (0.5, 0.5)


LOGO = "0b2cb56e-8c2e-4b7a-9d3e-0d8f5f8f1a11"


def _version(**fields: Any) -> dict[str, Any]:
    return {"versions": [{"name": "v", "width": 100, "height": 100, **fields}]}


#: refusals of the fields issue 7 added (format auto, widths, source, overlay)
BAD_WEB_FIELDS: list[tuple[Any, str]] = [
    (_version(format="avif-ish"), "versions[0].format"),
    (_version(widths=320), "versions[0].widths"),
    (_version(widths=[320, 320]), "versions[0].widths"),
    (_version(widths=[0]), "versions[0].widths[0]"),
    (_version(widths=[320, 10_001]), "versions[0].widths[1]"),
    (_version(widths=list(range(1, 18))), "versions[0].widths"),
    (_version(source="Bad Name"), "versions[0].source"),
    (_version(source="missing"), "versions[0].source"),
    (_version(source="v"), "versions[0].source"),
    ({"versions": [{"name": "a", "width": 1, "height": 1, "source": "b"},
                   {"name": "b", "width": 1, "height": 1, "source": "c"},
                   {"name": "c", "width": 1, "height": 1, "source": "a"}]},
     "versions[0].source"),
    (_version(operations=[{"op": "overlay"}]), "versions[0].operations[0].asset"),
    (_version(operations=[{"op": "overlay", "asset": "logo.png"}]),
     "versions[0].operations[0].asset"),
    (_version(operations=[{"op": "overlay", "asset": LOGO, "gravity": "top"}]),
     "versions[0].operations[0].gravity"),
    (_version(operations=[{"op": "overlay", "asset": LOGO, "opacity": 0}]),
     "versions[0].operations[0].opacity"),
    (_version(operations=[{"op": "overlay", "asset": LOGO, "scale": 1.5}]),
     "versions[0].operations[0].scale"),
    (_version(operations=[{"op": "overlay", "asset": LOGO, "margin": -1}]),
     "versions[0].operations[0].margin"),
    (_version(operations=[{"op": "overlay", "asset": LOGO, "size": 3}]),
     "versions[0].operations[0]"),
    (_version(operations=[{"op": "overlay", "asset": LOGO}, {"op": "grayscale"}]),
     "versions[0].operations[1]"),
]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (_version(fit="stretch"), "versions[0].fit"),
        (_version(width=0), "versions[0].width"),
        (_version(width=10_001), "versions[0].width"),
        (_version(width="100"), "versions[0].width"),
        (_version(height=None), "versions[0]"),  # cover needs both
        (_version(width=None, height=None, fit="inside"), "versions[0]"),
        (_version(operations=[{"op": "sharpen"}]), "versions[0].operations[0].op"),
        (_version(operations=[{"op": "rotate", "angle": 45}]), "versions[0].operations[0].angle"),
        (_version(operations=[{"op": "rotate", "angle": True}]),
         "versions[0].operations[0].angle"),
        (_version(operations=[{"op": "rotate", "angle": 90, "x": 1}]),
         "versions[0].operations[0]"),
        (_version(operations=[{"op": "blur", "sigma": 0}]), "versions[0].operations[0].sigma"),
        (_version(operations=[{"op": "background", "color": [0, 0, 256]}]),
         "versions[0].operations[0].color[2]"),
        (_version(operations=[{"op": "scale", "factor": 1.5}]),
         "versions[0].operations[0].factor"),
        (_version(operations=[{"op": "aspect_crop", "ratio": [1]}]),
         "versions[0].operations[0].ratio"),
        (_version(operations=[{"op": "grayscale"}] * 17), "versions[0].operations"),
        (_version(quality=101), "versions[0].quality"),
        (_version(quality=0), "versions[0].quality"),
        (_version(upscale="yes"), "versions[0].upscale"),
        (_version(format="bmp"), "versions[0].format"),
        (_version(gravity="north"), "versions[0].gravity"),
        (_version(name="Bad Name"), "versions[0].name"),
        (_version(colour="red"), "versions[0]"),
        ({"versions": [DEFAULT_JSON["versions"][0]] * 2}, "versions"),
        ({"versions": []}, "versions"),
        ({"versions": [{"name": "v", "width": 1, "height": 1}] * 33}, "versions"),
        ([], "body"),
        ({"name": "other", "versions": DEFAULT_JSON["versions"]}, "name"),
        *BAD_WEB_FIELDS,
    ],
)
def test_parse_converter_refuses_bad_spec_naming_field(raw: Any, field: str) -> None:
    with pytest.raises(InvalidConverter) as caught:
        parse_converter("default", raw)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")


def test_parse_converter_refuses_bad_name() -> None:
    with pytest.raises(InvalidConverter) as caught:
        parse_converter("Default!", DEFAULT_JSON)
    assert caught.value.field == "name"


def test_override_empty_settings_keep_converter() -> None:
    assert override(DEFAULT_CONVERTER, None) is DEFAULT_CONVERTER
    assert override(DEFAULT_CONVERTER, {}) is DEFAULT_CONVERTER


def test_override_merges_fields_of_named_versions() -> None:
    merged = override(DEFAULT_CONVERTER,
                      {"versions": {"thumbnail": {"width": 50, "format": "png"}}})
    detail, thumbnail = merged.versions
    assert detail == DEFAULT_CONVERTER.versions[0]
    assert (thumbnail.name, thumbnail.width, thumbnail.height, thumbnail.format) == (
        "thumbnail", 50, 100, OutputFormat.PNG
    )


def test_override_cannot_rename_version() -> None:
    merged = override(DEFAULT_CONVERTER, {"versions": {"detail": {"name": "other"}}})
    assert [v.name for v in merged.versions] == ["detail", "thumbnail"]


def test_override_list_replaces_every_version() -> None:
    merged = override(DEFAULT_CONVERTER,
                      {"versions": [{"name": "only", "width": 10, "height": 10}]})
    assert [v.name for v in merged.versions] == ["only"]
    assert merged.name == "default"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"versions": {"nope": {"width": 1}}}, "settings.versions"),
        ({"versions": {"detail": {"quality": 101}}}, "versions[0].quality"),
        ({"versions": {"detail": "big"}}, "settings.versions.detail"),
        ({"versions": 3}, "settings.versions"),
        ({"other": 1}, "settings"),
        ({"versions": []}, "versions"),
    ],
)
def test_override_refuses_bad_settings(settings: Any, field: str) -> None:
    before = copy.deepcopy(DEFAULT_CONVERTER)
    with pytest.raises(InvalidConverter) as caught:
        override(DEFAULT_CONVERTER, settings)
    assert caught.value.field == field
    assert before == DEFAULT_CONVERTER


# -- format auto, widths, source, overlay (issue 7) ----------------------------------------


def test_parse_converter_reads_the_web_fields() -> None:
    raw = {"versions": [
        {"name": "hero", "width": 1280, "height": 720, "format": "auto",
         "widths": [1280, 320, 640],
         "operations": [{"op": "grayscale"},
                        {"op": "overlay", "asset": LOGO.upper(), "gravity": "north-west",
                         "opacity": 0.5, "scale": 0.25, "margin": 16}]},
        {"name": "thumb", "width": 100, "height": 100, "source": "hero"},
    ]}
    hero, thumb = parse_converter("web", raw).versions
    assert hero.format is OutputFormat.AUTO
    assert hero.widths == (320, 640, 1280)  # stored ascending, as a srcset lists them
    assert hero.overlays == (Operation("overlay", (
        ("asset", LOGO), ("gravity", "north-west"), ("opacity", 0.5), ("scale", 0.25),
        ("margin", 16))),)
    assert [o.op for o in hero.steps] == ["grayscale"]
    assert (thumb.source, thumb.widths) == ("hero", ())
    assert parse_converter("web", parse_converter("web", raw).to_json()) == \
        parse_converter("web", raw)


def test_overlay_defaults() -> None:
    [v] = parse_converter("w", _version(operations=[{"op": "overlay", "asset": LOGO}])).versions
    assert dict(v.operations[0].params) == {"asset": LOGO, "gravity": "south-east",
                                            "opacity": 1.0, "scale": 0.2, "margin": 0}


def test_new_fields_default_to_nothing_and_show_in_json() -> None:
    [v] = parse_converter("w", _version()).versions
    assert (v.widths, v.source) == ((), None)
    assert v.to_json()["widths"] == [] and v.to_json()["source"] is None


def test_a_cycle_is_named_in_the_refusal() -> None:
    raw = {"versions": [{"name": "a", "width": 1, "height": 1, "source": "b"},
                        {"name": "b", "width": 1, "height": 1, "source": "a"}]}
    with pytest.raises(InvalidConverter, match="the sources form a cycle: a -> b -> a"):
        parse_converter("web", raw)


def test_render_order_puts_sources_first_each_once() -> None:
    raw = {"versions": [{"name": "c", "width": 1, "height": 1, "source": "b"},
                        {"name": "a", "width": 1, "height": 1},
                        {"name": "b", "width": 1, "height": 1, "source": "a"},
                        {"name": "d", "width": 1, "height": 1, "source": "a"}]}
    specs = {s.name: s for s in parse_converter("web", raw).versions}
    assert render_order(["c", "d"], specs) == ["a", "b", "c", "d"]
    assert [s.name for s in lineage(specs["c"], specs)] == ["b", "a"]


def test_override_keeps_the_source_rules() -> None:
    stored = parse_converter("web", {"versions": [
        {"name": "a", "width": 10, "height": 10},
        {"name": "b", "width": 5, "height": 5, "source": "a"}]})
    with pytest.raises(InvalidConverter) as caught:
        override(stored, {"versions": {"a": {"source": "b"}}})
    assert caught.value.field == "versions[0].source"
