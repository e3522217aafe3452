"""Converters: named, stored recipes of versions, parsed and validated before they are stored.

A spec that cannot be carried out is refused here (InvalidConverter, naming the field),
never later when an image is rendered. What needs stored data to check (that an overlay's
asset exists and is an image) is checked by the converter service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from assetry.errors import InvalidConverter

NAME_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_DIMENSION = 10_000
MAX_VERSIONS = 32
MAX_OPERATIONS = 16
MAX_WIDTHS = 16
MAX_OVERLAY_MARGIN = 1000


class Fit(StrEnum):
    COVER = "cover"  #: scale to cover the box, then crop the overflow
    CONTAIN = "contain"  #: scale to fit inside the box, then pad to exactly the box
    INSIDE = "inside"  #: scale to fit inside the box; no padding
    FILL = "fill"  #: stretch to exactly the box, ignoring the aspect ratio


class Gravity(StrEnum):
    CENTRE = "centre"
    ATTENTION = "attention"  #: libvips' saliency-based crop
    FOCAL = "focal"  #: centre on the asset's metadata.focal_point {x, y} in 0..1


class Anchor(StrEnum):
    """Where an overlay sits on the version: a compass point, or the centre."""

    CENTRE = "centre"
    NORTH = "north"
    NORTH_EAST = "north-east"
    EAST = "east"
    SOUTH_EAST = "south-east"
    SOUTH = "south"
    SOUTH_WEST = "south-west"
    WEST = "west"
    NORTH_WEST = "north-west"


class OutputFormat(StrEnum):
    SAME = "same"
    AUTO = "auto"  #: AVIF, WebP and a fallback, chosen per request by Accept
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    AVIF = "avif"
    GIF = "gif"
    TIFF = "tiff"


@dataclass(frozen=True, slots=True)
class Operation:
    """One pre-resize step: `op` names it, `params` holds its validated arguments."""

    op: str
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> Any:
        return dict(self.params)[name]

    def to_json(self) -> dict[str, Any]:
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params}
        return {"op": self.op, **params}


#: operations applied to the finished version (after the fit), not to the working image
POST_FIT_OPERATIONS = frozenset({"overlay"})


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """How one version is made. `to_json()` round-trips through `parse_version`.

    `widths` are extra output widths for a srcset (ascending, unique); `source` names
    another version of the same converter whose pixels this one is made from."""

    name: str
    width: int | None
    height: int | None
    fit: Fit = Fit.COVER
    gravity: Gravity = Gravity.CENTRE
    format: OutputFormat = OutputFormat.SAME
    quality: int = 80
    upscale: bool = False
    operations: tuple[Operation, ...] = ()
    widths: tuple[int, ...] = ()
    source: str | None = None

    @property
    def overlays(self) -> tuple[Operation, ...]:
        """The overlay operations, in order (they come after every other operation)."""
        return tuple(o for o in self.operations if o.op in POST_FIT_OPERATIONS)

    @property
    def steps(self) -> tuple[Operation, ...]:
        """The operations applied to the working image before the fit."""
        return tuple(o for o in self.operations if o.op not in POST_FIT_OPERATIONS)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "fit": self.fit.value,
            "gravity": self.gravity.value,
            "format": self.format.value,
            "quality": self.quality,
            "upscale": self.upscale,
            "operations": [o.to_json() for o in self.operations],
            "widths": list(self.widths),
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Converter:
    """A named list of version specs."""

    name: str
    versions: tuple[VersionSpec, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "versions": [v.to_json() for v in self.versions]}


DEFAULT_CONVERTER = Converter(
    name="default",
    versions=(
        VersionSpec(name="detail", width=800, height=800),
        VersionSpec(name="thumbnail", width=100, height=100),
    ),
)


def parse_format(value: Any) -> OutputFormat:
    """An output format name, None for the default (`same`): the one check of the
    `format` of converter specs and of transform URLs. Raises ValueError saying what is
    accepted."""
    if value is None:
        return OutputFormat.SAME
    try:
        return OutputFormat(value)
    except ValueError:
        raise ValueError(f"must be one of {', '.join(f.value for f in OutputFormat)}") from None


def _fail(path: str, message: str) -> InvalidConverter:
    return InvalidConverter(f"{path}: {message}", field=path)


def _int(value: Any, path: str, lo: int, hi: int, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be an integer from {lo} to {hi}")
    if not lo <= value <= hi:
        raise _fail(path, f"must be from {lo} to {hi}, not {value}")
    return value


def _number(value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"must be a number from {lo} to {hi}")
    if not lo <= value <= hi:
        raise _fail(path, f"must be from {lo} to {hi}, not {value}")
    return float(value)


def _enum(enum: type[StrEnum], value: Any, path: str, default: StrEnum) -> Any:
    if value is None:
        return default
    try:
        return enum(value)
    except ValueError:
        raise _fail(path, f"must be one of {', '.join(e.value for e in enum)}") from None


def _pair(value: Any, path: str, lo: float, hi: float) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _fail(path, "must be a list of two numbers")
    return (_number(value[0], f"{path}[0]", lo, hi), _number(value[1], f"{path}[1]", lo, hi))


def _operation(raw: Any, path: str) -> Operation:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("op"), str):
        raise _fail(path, 'must be an object with an "op" name')
    op = raw["op"]
    extra = set(raw) - {"op", *_OP_PARAMS.get(op, ())}
    if op not in _OP_PARAMS:
        known = ", ".join(sorted(_OP_PARAMS))
        raise _fail(f"{path}.op", f"unknown operation {op!r}; known: {known}")
    if extra:
        raise _fail(path, f"unknown parameter(s) {sorted(extra)} for {op}")
    params: list[tuple[str, Any]] = []
    if op == "rotate":
        angle = raw.get("angle")
        if angle not in (90, 180, 270) or isinstance(angle, bool):
            raise _fail(f"{path}.angle", "must be 90, 180 or 270")
        params.append(("angle", angle))
    elif op == "flip":
        axis = raw.get("axis")
        if axis not in ("horizontal", "vertical"):
            raise _fail(f"{path}.axis", "must be horizontal or vertical")
        params.append(("axis", axis))
    elif op == "blur":
        params.append(("sigma", _number(raw.get("sigma"), f"{path}.sigma", 0.1, 100)))
    elif op == "background":
        color = raw.get("color")
        if not isinstance(color, list | tuple) or len(color) != 3:
            raise _fail(f"{path}.color", "must be [r, g, b]")
        params.append(
            ("color", tuple(_int(c, f"{path}.color[{i}]", 0, 255) for i, c in enumerate(color)))
        )
    elif op == "scale":
        params.append(("factor", _number(raw.get("factor"), f"{path}.factor", 0.01, 1.0)))
    elif op == "aspect_crop":
        ratio = _pair(raw.get("ratio"), f"{path}.ratio", 0.01, 100)
        if ratio[0] <= 0 or ratio[1] <= 0:
            raise _fail(f"{path}.ratio", "must be positive")
        params.append(("ratio", ratio))
        params.append(("shift", _pair(raw.get("shift", [0.5, 0.5]), f"{path}.shift", 0, 1)))
    elif op == "overlay":
        params.extend(_overlay(raw, path))
    return Operation(op=op, params=tuple(params))


def _overlay(raw: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    """An overlay's parameters, normalised: the asset id in canonical UUID form."""
    asset = raw.get("asset")
    try:
        asset_id = str(UUID(asset)) if isinstance(asset, str) else None
    except ValueError:
        asset_id = None
    if asset_id is None:
        raise _fail(f"{path}.asset", "must be the id of an image asset")
    gravity = _enum(Anchor, raw.get("gravity"), f"{path}.gravity", Anchor.SOUTH_EAST)
    return [
        ("asset", asset_id),
        ("gravity", gravity.value),
        ("opacity", _number(raw.get("opacity", 1.0), f"{path}.opacity", 0.01, 1.0)),
        ("scale", _number(raw.get("scale", 0.2), f"{path}.scale", 0.01, 1.0)),
        ("margin", _int(raw.get("margin", 0), f"{path}.margin", 0, MAX_OVERLAY_MARGIN)),
    ]


_OP_PARAMS: dict[str, tuple[str, ...]] = {
    "rotate": ("angle",),
    "flip": ("axis",),
    "blur": ("sigma",),
    "grayscale": (),
    "background": ("color",),
    "scale": ("factor",),
    "aspect_crop": ("ratio", "shift"),
    "overlay": ("asset", "gravity", "opacity", "scale", "margin"),
}

_VERSION_KEYS = {"name", "width", "height", "fit", "gravity", "format", "quality", "upscale",
                 "operations", "widths", "source"}


def _widths(raw: Any, path: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_WIDTHS:
        raise _fail(path, f"must be a list of at most {MAX_WIDTHS} widths")
    widths = [_int(w, f"{path}[{i}]", 1, MAX_DIMENSION) for i, w in enumerate(raw)]
    if len(set(widths)) != len(widths):
        raise _fail(path, "widths must be unique")
    return tuple(sorted(w for w in widths if w is not None))


def _operations(raw: Any, path: str) -> tuple[Operation, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_OPERATIONS:
        raise _fail(path, f"must be a list of at most {MAX_OPERATIONS} operations")
    ops = tuple(_operation(o, f"{path}[{i}]") for i, o in enumerate(raw))
    # An overlay is drawn on the finished version; an operation listed after it would
    # seem to apply to the overlay too, which it cannot, so the order must say so.
    seen_overlay = False
    for i, o in enumerate(ops):
        if o.op in POST_FIT_OPERATIONS:
            seen_overlay = True
        elif seen_overlay:
            raise _fail(f"{path}[{i}]", "overlays come after every other operation")
    return ops


def parse_version(raw: Any, path: str = "versions[0]") -> VersionSpec:
    """Validate one version spec (JSON-shaped) and return it. Raises InvalidConverter."""
    if not isinstance(raw, Mapping):
        raise _fail(path, "must be an object")
    unknown = set(raw) - _VERSION_KEYS
    if unknown:
        raise _fail(path, f"unknown field(s) {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _fail(f"{path}.name", "must be 1-64 of a-z 0-9 - _")
    width = _int(raw.get("width"), f"{path}.width", 1, MAX_DIMENSION, optional=True)
    height = _int(raw.get("height"), f"{path}.height", 1, MAX_DIMENSION, optional=True)
    fit = _enum(Fit, raw.get("fit"), f"{path}.fit", Fit.COVER)
    if width is None and height is None:
        raise _fail(path, "needs a width, a height or both")
    if fit is not Fit.INSIDE and (width is None or height is None):
        raise _fail(path, f"fit {fit.value} needs both width and height")
    gravity = _enum(Gravity, raw.get("gravity"), f"{path}.gravity", Gravity.CENTRE)
    try:
        fmt = parse_format(raw.get("format"))
    except ValueError as exc:
        raise _fail(f"{path}.format", str(exc)) from None
    quality = _int(raw.get("quality", 80), f"{path}.quality", 1, 100)
    upscale = raw.get("upscale", False)
    if not isinstance(upscale, bool):
        raise _fail(f"{path}.upscale", "must be true or false")
    ops = _operations(raw.get("operations", []), f"{path}.operations")
    widths = _widths(raw.get("widths"), f"{path}.widths")
    source = raw.get("source")
    if source is not None and (not isinstance(source, str) or not NAME_RE.match(source)):
        raise _fail(f"{path}.source", "must name another version of this converter")
    assert quality is not None
    return VersionSpec(name=name, width=width, height=height, fit=fit, gravity=gravity,
                       format=fmt, quality=quality, upscale=upscale, operations=ops,
                       widths=widths, source=source)


def lineage(spec: VersionSpec, specs: Mapping[str, VersionSpec]) -> tuple[VersionSpec, ...]:
    """The versions `spec` is made from, nearest first (empty: made from the original).

    Raises InvalidConverter (field `source`) for a name missing from `specs` or a cycle."""
    chain: list[VersionSpec] = []
    seen = {spec.name}
    current = spec
    while current.source is not None:
        parent = specs.get(current.source)
        if parent is None:
            raise InvalidConverter(f"version {current.name!r} names {current.source!r} as "
                                   "its source, and there is no version of that name",
                                   field="source")
        if parent.name in seen:
            cycle = " -> ".join([*(s.name for s in [spec, *chain]), parent.name])
            raise InvalidConverter(f"the sources form a cycle: {cycle}", field="source")
        seen.add(parent.name)
        chain.append(parent)
        current = parent
    return tuple(chain)


def render_order(targets: Sequence[str], specs: Mapping[str, VersionSpec]) -> list[str]:
    """The names of `targets` and of every version they are made from, each once, every
    source before the versions made from it; `specs` maps version names to their specs.
    Raises InvalidConverter as `lineage` does."""
    ordered: dict[str, None] = {}
    for name in targets:
        for n in reversed((name, *(s.name for s in lineage(specs[name], specs)))):
            ordered.setdefault(n)
    return list(ordered)


def parse_converter(name: str, raw: Any) -> Converter:
    """Validate a converter body (`{"versions": [...]}`) for `name`. Raises InvalidConverter."""
    if not NAME_RE.match(name):
        raise _fail("name", "must be 1-64 of a-z 0-9 - _")
    if not isinstance(raw, Mapping):
        raise _fail("body", "must be an object")
    unknown = set(raw) - {"name", "versions"}
    if unknown:
        raise _fail(sorted(unknown)[0], f"unknown field(s) {sorted(unknown)}")
    if "name" in raw and raw["name"] != name:
        raise _fail("name", "differs from the name in the URL")
    versions = raw.get("versions")
    if not isinstance(versions, list) or not 1 <= len(versions) <= MAX_VERSIONS:
        raise _fail("versions", f"must be a list of 1 to {MAX_VERSIONS} versions")
    specs = tuple(parse_version(v, f"versions[{i}]") for i, v in enumerate(versions))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise _fail("versions", "version names must be unique")
    by_name = {s.name: s for s in specs}
    for i, s in enumerate(specs):
        try:
            lineage(s, by_name)
        except InvalidConverter as exc:
            raise _fail(f"versions[{i}].source", exc.message) from None
    return Converter(name=name, versions=specs)


def override(converter: Converter, settings: Any) -> Converter:
    """Return `converter` with per-call `settings` merged over its stored specs.

    `settings` is `{"versions": {name: {field: value}}}` (fields replace the stored ones of
    that version) or a full `{"versions": [...]}` list (replacing every version). Raises
    InvalidConverter for anything that would not validate on its own.
    """
    if not settings:
        return converter
    if not isinstance(settings, Mapping) or set(settings) - {"versions"}:
        raise _fail("settings", 'must be {"versions": {name: {...}}} or {"versions": [...]}')
    versions = settings.get("versions")
    if isinstance(versions, list):
        return parse_converter(converter.name, {"versions": versions})
    if not isinstance(versions, Mapping):
        raise _fail("settings.versions", "must be an object keyed by version name or a list")
    stored = {v.name: v for v in converter.versions}
    unknown = set(versions) - set(stored)
    if unknown:
        raise _fail("settings.versions", f"no version(s) {sorted(unknown)} in {converter.name}")
    merged = []
    for v in converter.versions:
        patch = versions.get(v.name, {})
        if not isinstance(patch, Mapping):
            raise _fail(f"settings.versions.{v.name}", "must be an object")
        merged.append({**v.to_json(), **patch, "name": v.name})
    return parse_converter(converter.name, {"versions": merged})
