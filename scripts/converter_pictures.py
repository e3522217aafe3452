"""Make the pictures of docs/converters.md from the corpus photos, through Assetry's own
render path (domain planning + VipsProcessor.render), so each shows what that spec does.

Run: python scripts/converter_pictures.py   (with assetry installed, or PYTHONPATH=src)
It writes docs/pictures/*.jpg|png|gif (replacing them) and prints the byte sizes the
format pictures quote. The corpus is read where ASSETRY_CORPUS (or ../shared/corpus) is.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import pyvips

from assetry.domain.converter import parse_version, render_order
from assetry.domain.geometry import Point, Size, decode_scale, plan, srcset
from assetry.domain.ports import OverlaySource, Rendered, RenderRequest
from assetry.imaging.vips import VipsProcessor
from assetry.services.rendering import output_format

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("ASSETRY_CORPUS", ROOT / ".." / "shared" / "corpus"))
OUT = ROOT / "docs" / "pictures"
ELEPHANTS, FOREST, ALPHA = (CORPUS / n for n in ("photo_12mp.jpg", "photo_b_12mp.jpg",
                                                   "alpha_3mp.png"))
LOGO_ID = "00000000-0000-4000-8000-00000000000a"  # the overlay's stand-in asset id
GREY = [235, 235, 235]  #: what transparency shows as
PAGE = 200  #: the grey the pictures sit on, so a version's white padding shows

processor = VipsProcessor()


def source(path: Path) -> tuple[Path, str, Size]:
    info = processor.inspect(path, processor.sniff(path), max_pixels=10**9)
    return path, info.mime_type, Size(info.width, info.height)


def render(file: Path, specs: Sequence[Mapping[str, Any]], *, focal: Point | None = None,
           overlays: Mapping[str, OverlaySource] | None = None) -> dict[str, Rendered]:
    """Every spec of a converter rendered from one decode of `file`, as the Renderer
    does it (sources first, chained versions planned on their source)."""
    path, mime, size = source(file)
    parsed = {s["name"]: parse_version(s, s["name"]) for s in specs}
    sizes = {k: v.size for k, v in (overlays or {}).items()}
    requests: dict[str, RenderRequest] = {}
    for spec in (parsed[n] for n in render_order(list(parsed), parsed)):
        base = size if spec.source is None else requests[spec.source].plan.output
        main = plan(base, spec, focal, sizes)
        requests[spec.name] = RenderRequest(
            uuid4(), main, output_format(spec, mime), spec.quality,
            srcset(base, spec, main, focal, sizes),
            source=None if spec.source is None else requests[spec.source].version_id)
    scale = decode_scale([p for r in requests.values() if r.source is None
                          for p in (r.plan, *(q for _, q in r.srcset))])
    results = processor.render(path, mime, list(requests.values()), scale, overlays=overlays)
    by_id = {r.version_id: r for r in results if isinstance(r, Rendered)}
    failed = [r for r in results if not isinstance(r, Rendered)]
    if failed:
        raise RuntimeError(f"render failed: {failed}")
    return {n: by_id[r.version_id] for n, r in requests.items()}


def image(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "")


def flat(im: pyvips.Image) -> pyvips.Image:
    """On a light grey checker-free background, so transparency shows as grey."""
    im = im.colourspace("srgb") if im.interpretation != "srgb" else im
    return im.flatten(background=GREY) if im.hasalpha() else im


def canvas(width: int, height: int) -> pyvips.Image:
    return (pyvips.Image.black(width, height, bands=3) + PAGE).cast("uchar")


def captioned(im: pyvips.Image, caption: str) -> pyvips.Image:
    """`im` above a line of text, on the page grey."""
    im = flat(im).cast("uchar")
    text = pyvips.Image.text(caption, dpi=96, font="sans")
    width = max(im.width, text.width) + 8
    page = canvas(width, im.height + text.height + 10).insert(im, (width - im.width) // 2, 0)
    ink = (PAGE - text * PAGE / 255).cast("uchar")  # black text on the page grey
    return page.insert(ink.bandjoin([ink, ink]), 4, im.height + 5).copy(interpretation="srgb")


def row(images: Sequence[pyvips.Image], gap: int = 12) -> pyvips.Image:
    """Side by side, tops aligned, on the page grey."""
    height = max(im.height for im in images)
    width = sum(im.width for im in images) + gap * (len(images) - 1)
    page = canvas(width, height)
    x = 0
    for im in images:
        page = page.insert(flat(im).cast("uchar"), x, 0)
        x += im.width + gap
    return page.copy(interpretation="srgb")


def save(im: pyvips.Image, name: str) -> None:
    path = OUT / name
    if name.endswith(".png"):
        im.pngsave(str(path), compression=9, keep="none")
    else:
        im.jpegsave(str(path), Q=82, keep="none", optimize_coding=True)
    print(f"  {path.relative_to(ROOT)}  {im.width}x{im.height}  {path.stat().st_size:,} B")


def spec(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, **fields}


# -- the pictures -------------------------------------------------------------------------


def fits() -> None:
    for fit in ("cover", "contain", "inside", "fill"):
        [out] = render(FOREST, [spec("v", width=300, height=150, fit=fit)]).values()
        save(captioned(image(out.data), f"fit {fit}: 4000x3000 -> {out.width}x{out.height}"),
             f"fit-{fit}.jpg")


def gravities() -> None:
    for gravity, focal in (("centre", None), ("attention", None), ("focal", Point(0.85, 0.5))):
        [out] = render(ELEPHANTS, [spec("v", width=120, height=200, gravity=gravity)],
                       focal=focal).values()
        note = " (focal_point x 0.85)" if focal else ""
        save(captioned(image(out.data), f"{gravity}{note}"), f"gravity-{gravity}.jpg")


def operations(logo: OverlaySource) -> None:
    cases: dict[str, tuple[Path, list[dict[str, Any]], dict[str, Any]]] = {
        "none": (FOREST, [], {}),
        "rotate": (FOREST, [{"op": "rotate", "angle": 90}], {}),
        "flip": (FOREST, [{"op": "flip", "axis": "horizontal"}], {}),
        "blur": (FOREST, [{"op": "blur", "sigma": 12}], {}),
        "grayscale": (FOREST, [{"op": "grayscale"}], {}),
        "background": (ALPHA, [{"op": "background", "color": [255, 170, 40]}], {}),
        "scale": (FOREST, [{"op": "scale", "factor": 0.05}], {}),
        "aspect_crop": (FOREST, [{"op": "aspect_crop", "ratio": [1, 1],
                                  "shift": [0.1, 0.5]}], {}),
        "overlay": (ELEPHANTS, [{"op": "overlay", "asset": LOGO_ID, "gravity": "south-east",
                                 "opacity": 0.8, "scale": 0.35, "margin": 12}], {}),
    }
    for name, (file, ops, extra) in cases.items():
        fit = {"fit": "inside"} if name in ("rotate", "aspect_crop", "scale") else {}
        [out] = render(file, [spec("v", width=240, height=240 if fit else 180,
                                   format="png", operations=ops, **fit, **extra)],
                       overlays={LOGO_ID: logo}).values()
        label = name if ops else "(no operation)"
        save(captioned(image(out.data), f"{label}: {out.width}x{out.height}"),
             f"op-{name}.jpg")


def formats() -> None:
    """A 2x zoom of the same 120x90 detail of each format's version at quality 80."""
    names = ("jpeg", "webp", "avif", "png", "gif", "tiff")
    outs = render(ELEPHANTS, [spec(f, width=480, height=360, format=f) for f in names])
    tiles = []
    for fmt, out in outs.items():
        detail = image(out.data).crop(180, 130, 120, 90).resize(2, kernel="nearest")
        tiles.append(captioned(detail, f"{fmt} {len(out.data) // 1024} KiB"))
        print(f"    {fmt:5} {out.width}x{out.height} {len(out.data):,} B")
    save(row(tiles), "formats.png")


def auto() -> None:
    [out] = render(ELEPHANTS, [spec("hero", width=480, height=360, format="auto")]).values()
    by_format = {"jpeg": out.data, **{e.format: e.data for e in out.extras}}
    tiles = []
    for fmt in ("avif", "webp", "jpeg"):
        data = by_format[fmt]
        detail = image(data).crop(180, 130, 120, 90).resize(2, kernel="nearest")
        tiles.append(captioned(detail, f"{fmt} {len(data) // 1024} KiB"))
        print(f"    auto {fmt:5} {len(data):,} B")
    save(row(tiles), "format-auto.png")


def widths() -> None:
    [out] = render(FOREST, [spec("card", width=320, height=180, format="jpeg",
                                 widths=[80, 160, 320, 8000])]).values()
    tiles = [captioned(image(e.data), f"?w={e.srcset_width}") for e in out.extras]
    save(row(tiles), "widths.jpg")


def chained() -> None:
    outs = render(ELEPHANTS, [
        spec("poster", width=300, height=200, operations=[{"op": "grayscale"}]),
        spec("thumb", width=90, height=90, source="poster")])
    save(row([captioned(image(outs["poster"].data), "poster"),
              captioned(image(outs["thumb"].data), "thumb (source: poster)")]),
         "source.jpg")


def animation(tmp: Path) -> None:
    """An animation made from the corpus photo (six frames panning across it), then a
    GIF version and a JPEG version of it."""
    photo = pyvips.Image.thumbnail(str(ELEPHANTS), 900).copy_memory()
    frames = [photo.crop(i * 100, 100, 400, 300) for i in range(6)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 300)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [200] * 6)
    strip.set_type(pyvips.GValue.gint_type, "loop", 0)
    path = tmp / "pan.webp"
    strip.webpsave(str(path), Q=90)
    outs = render(path, [spec("gif", width=160, height=160, format="gif"),
                              spec("still", width=160, height=160, format="jpeg")])
    (OUT / "animation.gif").write_bytes(outs["gif"].data)
    print(f"  docs/pictures/animation.gif  {len(outs['gif'].data):,} B")
    save(captioned(image(outs["still"].data), "format jpeg: first frame"),
         "animation-still.jpg")


def main() -> int:
    if not ELEPHANTS.exists():
        print(f"the corpus is not at {CORPUS} (set ASSETRY_CORPUS)", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    _, logo_mime, logo_size = source(ALPHA)
    logo = OverlaySource(path=CORPUS / ALPHA, mime_type=logo_mime, size=logo_size)
    with tempfile.TemporaryDirectory() as tmp:
        for make in (fits, gravities, lambda: operations(logo), formats, auto, widths,
                     chained, lambda: animation(Path(tmp))):
            make()
    return 0


if __name__ == "__main__":
    sys.exit(main())
