"""VipsProcessor against real libvips (and pillow-heif): sniffing, inspecting, rendering.

Small images are made here with pyvips; the shared corpus photos are used only where a
real camera file matters (orientation, CMYK, alpha, HEIC, EXIF).
"""

from __future__ import annotations

import io
import os
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pillow_heif
import pytest
import pyvips
from PIL import Image as PILImage

from assetry.domain.converter import Fit, Gravity, Operation, VersionSpec
from assetry.domain.geometry import Plan, Size, decode_scale, plan
from assetry.domain.media import IMAGE_TYPES
from assetry.domain.ports import Rendered, RenderFailure, RenderRequest
from assetry.errors import TooManyPixels, UndecodableImage
from assetry.imaging import heif
from assetry.imaging.vips import VipsProcessor, jpeg_shrink

CORPUS = (Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus").resolve()
BIG = 100_000_000

RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)


@pytest.fixture(scope="module")
def processor() -> VipsProcessor:
    return VipsProcessor()


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        reason = f"benchmark corpus not found at {CORPUS}; corpus tests are NOT being run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        print(f"\n*** SKIPPING: {reason} ***", file=sys.stderr)
        pytest.skip(reason)
    return CORPUS


# -- helpers ------------------------------------------------------------------------------


def solid(width: int, height: int, colour: tuple[int, ...]) -> pyvips.Image:
    """A uchar image of one colour: 3 bands are sRGB, 4 bands sRGB + alpha."""
    interpretation = "srgb" if len(colour) >= 3 else "b-w"
    image = (pyvips.Image.black(width, height, bands=len(colour)) + list(colour)).cast("uchar")
    return image.copy(interpretation=interpretation)


def paint(image: pyvips.Image, box: tuple[int, int, int, int], colour: tuple[int, ...]) -> Any:
    left, top, width, height = box
    return image.insert(solid(width, height, colour), left, top)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def render(
    processor: VipsProcessor,
    data: bytes,
    mime: str,
    source: tuple[int, int],
    specs: list[VersionSpec],
    formats: list[str] | None = None,
) -> list[Rendered]:
    plans = [plan(Size(*source), s) for s in specs]
    requests = [
        RenderRequest(uuid4(), p, fmt, s.quality)
        for p, s, fmt in zip(plans, specs, formats or ["png"] * len(specs), strict=True)
    ]
    with as_file(data) as path:
        results = processor.render(path, mime, requests, decode_scale(plans))
    assert all(isinstance(r, Rendered) for r in results), results
    return results  # type: ignore[return-value]


@contextmanager
def as_file(data: bytes) -> Iterator[Path]:
    """`data` in a temporary file: the processor decodes files, never bytes."""
    fd, name = tempfile.mkstemp(suffix=".img")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        yield Path(name)
    finally:
        os.unlink(name)


def load(rendered: Rendered) -> Any:
    image = pyvips.Image.new_from_buffer(rendered.data, "")
    assert (image.width, image.height) == (rendered.width, rendered.height)
    return image


def pixel(image: pyvips.Image, x: int, y: int) -> list[int]:
    return [round(v) for v in image.getpoint(x, y)]


def near(actual: list[int], expected: tuple[int, ...], tolerance: int = 3) -> bool:
    """Whether the first len(expected) bands are each within `tolerance`."""
    assert len(actual) >= len(expected), actual
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def spec(width: int | None, height: int | None, **kwargs: Any) -> VersionSpec:
    return VersionSpec(name="v", width=width, height=height, **kwargs)


def op(name: str, **params: Any) -> Operation:
    return Operation(op=name, params=tuple(params.items()))


def png_claiming(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR (CRC fixed up) claims `width` x `height`."""
    data = bytearray(solid(1, 1, RED).pngsave_buffer())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def animated_gif(frames: int, size: int = 10) -> bytes:
    colours = [RED, GREEN, BLUE, WHITE]
    strip = pyvips.Image.arrayjoin(
        [solid(size, size, colours[i % 4]) for i in range(frames)], across=1
    ).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", size)
    return bytes(strip.gifsave_buffer())


ENCODERS: dict[str, Callable[[pyvips.Image], bytes]] = {
    "jpeg": lambda im: im.jpegsave_buffer(),
    "png": lambda im: im.pngsave_buffer(),
    "gif": lambda im: im.gifsave_buffer(),
    "webp": lambda im: im.webpsave_buffer(),
    "tiff": lambda im: im.tiffsave_buffer(),
    "avif": lambda im: im.heifsave_buffer(compression="av1", effort=0),
}


# -- hardening ----------------------------------------------------------------------------

SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
       b'height="10"><rect width="10" height="10" fill="red"/></svg>\n')
PDF = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"


@pytest.mark.parametrize("data", [SVG, PDF, b"1,2,3\n4,5,6\n", b"2 2\n1 2\n3 4\n"])
def test_libvips_refuses_blocked_formats(processor: VipsProcessor, data: bytes) -> None:
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(data, "")
    with as_file(data) as path, pytest.raises(UndecodableImage):
        processor.render(path, "image/png", [_request(spec(5, 5))], 1.0)


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_libvips_loads_allowed_formats(processor: VipsProcessor, fmt: str) -> None:
    image = pyvips.Image.new_from_buffer(ENCODERS[fmt](solid(8, 6, RED)), "")
    assert (image.width, image.height) == (8, 6)


def _request(version: VersionSpec, source: tuple[int, int] = (10, 10)) -> RenderRequest:
    return RenderRequest(uuid4(), plan(Size(*source), version), "png", 80)


# -- sniff --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "mime"),
    [
        ("a.jpg", lambda: ENCODERS["jpeg"](solid(8, 8, RED)), "image/jpeg"),
        ("a.png", lambda: ENCODERS["png"](solid(8, 8, RED)), "image/png"),
        ("a.gif", lambda: ENCODERS["gif"](solid(8, 8, RED)), "image/gif"),
        ("a.webp", lambda: ENCODERS["webp"](solid(8, 8, RED)), "image/webp"),
        ("a.tif", lambda: ENCODERS["tiff"](solid(8, 8, RED)), "image/tiff"),
        ("a.avif", lambda: ENCODERS["avif"](solid(8, 8, RED)), "image/avif"),
        ("png-named.jpg", lambda: ENCODERS["png"](solid(8, 8, RED)), "image/png"),
        ("options[shrink=2]", lambda: ENCODERS["jpeg"](solid(8, 8, RED)), "image/jpeg"),
        ("a.svg", lambda: SVG, "image/svg+xml"),
        ("svg-named.png", lambda: SVG, "image/svg+xml"),
        ("a.html", lambda: b"<!DOCTYPE html>\n<html><body><p>hi</p></body></html>\n",
         "text/html"),
        ("a.pdf", lambda: PDF, "application/pdf"),
        ("a.txt", lambda: b"just some words\n", "text/plain"),
        ("empty.jpg", lambda: b"", "application/x-empty"),
        ("noise.jpg", lambda: bytes(range(7, 256)) * 3, "application/octet-stream"),
    ],
)
def test_sniff_reads_bytes_not_name(
    processor: VipsProcessor, tmp_path: Path, name: str, make: Callable[[], bytes], mime: str
) -> None:
    assert processor.sniff(write(tmp_path, name, make())) == mime


@pytest.mark.slow
def test_sniff_corpus_heic_and_webp(processor: VipsProcessor, corpus: Path) -> None:
    assert processor.sniff(corpus / "photo_12mp.heic") == "image/heic"
    assert processor.sniff(corpus / "photo_12mp.webp") == "image/webp"


def test_sniff_svg_is_never_an_image_type(processor: VipsProcessor, tmp_path: Path) -> None:
    assert processor.sniff(write(tmp_path, "a.svg", SVG)) not in IMAGE_TYPES


# -- inspect ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(ENCODERS))
def test_inspect_reads_size_of_each_format(
    processor: VipsProcessor, tmp_path: Path, fmt: str
) -> None:
    path = write(tmp_path, "image", ENCODERS[fmt](solid(30, 20, BLUE)))
    info = processor.inspect(path, processor.sniff(path), max_pixels=BIG)
    assert (info.width, info.height, info.frames) == (30, 20, 1)


def test_inspect_reads_bracketed_file_name_as_a_name(
    processor: VipsProcessor, tmp_path: Path
) -> None:
    path = write(tmp_path, "a.jpg[shrink=2]", ENCODERS["jpeg"](solid(30, 20, BLUE)))
    info = processor.inspect(path, "image/jpeg", max_pixels=BIG)
    assert (info.width, info.height) == (30, 20)


def test_inspect_gives_upright_size_for_exif_orientation(
    processor: VipsProcessor, tmp_path: Path
) -> None:
    image = solid(64, 48, RED).copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", 6)
    path = write(tmp_path, "a.jpg", image.jpegsave_buffer())
    info = processor.inspect(path, "image/jpeg", max_pixels=BIG)
    assert (info.width, info.height) == (48, 64)


@pytest.mark.parametrize(
    ("fmt", "mime"), [("jpeg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp")]
)
def test_render_refuses_truncated_image_at_any_scale(
    processor: VipsProcessor, tmp_path: Path, fmt: str, mime: str
) -> None:
    noise = pyvips.Image.gaussnoise(300, 200).cast("uchar").colourspace("srgb")
    data = ENCODERS[fmt](noise)
    path = write(tmp_path, "cut", data[: len(data) // 2])
    if fmt != "webp":  # (libwebp checks its container's sizes when it reads the header)
        # The header is whole, so inspect (header only) passes; the decode is the proof.
        assert processor.inspect(path, mime, max_pixels=BIG).width == 300
    tiny = RenderRequest(uuid4(), plan(Size(300, 200), spec(10, 10)), "png", 80)
    for requests, scale in (([], 1e-9), ([tiny], 10 / 300), ([tiny], 1.0)):
        with pytest.raises(UndecodableImage):
            processor.render(path, mime, requests, scale)


def test_a_truncated_image_is_refused_for_the_same_reason_while_others_render(
    processor: VipsProcessor, tmp_path: Path
) -> None:
    # libvips' one error buffer per process is cleared by other renders' ordinary work;
    # the reason given must still be the decoder's, every time.
    noise = pyvips.Image.gaussnoise(300, 200).cast("uchar").colourspace("srgb")
    cut = write(tmp_path, "cut.jpg", ENCODERS["jpeg"](noise)[:2000])
    whole = write(tmp_path, "whole.jpg",
                  ENCODERS["jpeg"](pyvips.Image.gaussnoise(1800, 1200).cast("uchar")
                                   .colourspace("srgb")))
    stop = threading.Event()

    def render_whole() -> None:
        while not stop.is_set():
            processor.render(whole, "image/jpeg", [], 0.5, placeholder=True)

    others = [threading.Thread(target=render_whole) for _ in range(2)]
    for thread in others:
        thread.start()
    reasons = set()
    try:
        deadline = time.monotonic() + 20
        for _ in range(40):
            if time.monotonic() > deadline:
                break
            with pytest.raises(UndecodableImage) as refused:
                processor.render(cut, "image/jpeg", [], 0.5, placeholder=True)
            reasons.add(str(refused.value))
    finally:
        stop.set()
        for thread in others:
            thread.join()
    assert reasons == {"not a decodable image/jpeg: VipsJpeg: premature end of JPEG image"}


def test_inspect_refuses_bytes_of_another_type(processor: VipsProcessor, tmp_path: Path) -> None:
    path = write(tmp_path, "a.png", ENCODERS["png"](solid(8, 8, RED)))
    with pytest.raises(UndecodableImage, match="image/png"):
        processor.inspect(path, "image/jpeg", max_pixels=BIG)


def test_inspect_refuses_pixel_bomb_before_decoding(
    processor: VipsProcessor, tmp_path: Path
) -> None:
    # The file holds one pixel of data: decoding it would fail, so TooManyPixels (not
    # UndecodableImage) shows the cap was checked on the header alone.
    path = write(tmp_path, "bomb.png", png_claiming(20_000, 20_000))
    with pytest.raises(TooManyPixels, match="400,000,000 pixels; the limit is 50,000,000"):
        processor.inspect(path, "image/png", max_pixels=50_000_000)
    processor.inspect(path, "image/png", max_pixels=10**9)  # the header alone is fine
    with pytest.raises(UndecodableImage):
        processor.render(path, "image/png", [], 1e-9)


def test_inspect_counts_animated_gif_frames(processor: VipsProcessor, tmp_path: Path) -> None:
    path = write(tmp_path, "anim.gif", animated_gif(3))
    info = processor.inspect(path, "image/gif", max_pixels=BIG)
    assert (info.width, info.height, info.frames) == (10, 10, 3)
    with pytest.raises(TooManyPixels, match="10x10x3 frames is 300 pixels"):
        processor.inspect(path, "image/gif", max_pixels=299)


@pytest.mark.slow
def test_inspect_corpus_heic(processor: VipsProcessor, corpus: Path) -> None:
    path = corpus / "photo_12mp.heic"
    info = processor.inspect(path, "image/heic", max_pixels=BIG)
    assert (info.mime_type, info.width, info.height, info.frames) == ("image/heic", 4000, 3000, 1)
    with pytest.raises(TooManyPixels):
        processor.inspect(path, "image/heic", max_pixels=11_999_999)


def test_inspect_refuses_truncated_heic(processor: VipsProcessor, tmp_path: Path) -> None:
    path = write(tmp_path, "a.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    with pytest.raises(UndecodableImage):
        processor.inspect(path, "image/heic", max_pixels=BIG)


# -- render: geometry ---------------------------------------------------------------------


def test_render_cover_keeps_central_region(processor: VipsProcessor) -> None:
    image = paint(solid(840, 700, RED), (0, 140, 840, 420), BLUE)
    [out] = render(processor, image.pngsave_buffer(), "image/png", (840, 700), [spec(200, 100)])
    result = load(out)
    assert (out.width, out.height, out.mime_type) == (200, 100, "image/png")
    # The outermost rows may blend with the red (the boundary falls inside a decoded
    # pixel); inside them only Lanczos ringing of a few levels is allowed.
    inner = result.crop(0, 1, 200, 98)
    assert inner.extract_band(0).max() <= 8
    assert inner.extract_band(1).max() <= 8
    assert inner.extract_band(2).min() >= 247
    assert near(pixel(result, 100, 50), BLUE, 0)


def test_render_two_versions_from_one_decode(
    processor: VipsProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int]] = []
    original = pyvips.Image.thumbnail_source

    def counting(source: Any, width: int, **kwargs: Any) -> Any:
        calls.append((width, kwargs["height"]))
        return original(source, width, **kwargs)

    monkeypatch.setattr(pyvips.Image, "thumbnail_source", counting)
    image = paint(solid(1000, 500, RED), (250, 0, 500, 500), BLUE)
    big, small = render(processor, image.jpegsave_buffer(Q=95), "image/jpeg", (1000, 500),
                        [spec(400, 200), spec(50, 50)], ["jpeg", "webp"])
    assert calls == [(400, 200)]  # shrunk on load to the larger version's need
    assert (big.width, big.height, big.mime_type) == (400, 200, "image/jpeg")
    assert (small.width, small.height, small.mime_type) == (50, 50, "image/webp")
    assert near(pixel(load(small), 25, 25), BLUE, 8)
    assert near(pixel(load(big), 10, 100), RED, 8)


@pytest.mark.parametrize(
    ("version", "size"),
    [
        (spec(200, 100), (200, 100)),
        (spec(200, 200, fit=Fit.CONTAIN), (200, 200)),
        (spec(200, 200, fit=Fit.INSIDE), (200, 150)),
        (spec(150, 250, fit=Fit.FILL), (150, 250)),
        (spec(97, 31), (97, 31)),
        (spec(1000, 1000), (300, 300)),  # no upscale: the square region itself
        (spec(1000, 1000, upscale=True), (1000, 1000)),
        (spec(100, 100, gravity=Gravity.ATTENTION), (100, 100)),
        (spec(100, 100, operations=(op("rotate", angle=90),)), (100, 100)),
        (spec(300, None, fit=Fit.INSIDE, operations=(op("rotate", angle=270),)), (300, 400)),
        (spec(400, 400, fit=Fit.INSIDE, operations=(op("scale", factor=0.25),)), (100, 75)),
        (spec(90, 90, fit=Fit.INSIDE,
              operations=(op("aspect_crop", ratio=(1.0, 2.0), shift=(0.5, 0.5)),)), (45, 90)),
    ],
)
def test_render_output_has_planned_size(
    processor: VipsProcessor, version: VersionSpec, size: tuple[int, int]
) -> None:
    image = pyvips.Image.gaussnoise(400, 300).cast("uchar").colourspace("srgb")
    [out] = render(processor, image.pngsave_buffer(), "image/png", (400, 300), [version])
    assert (out.width, out.height) == size
    assert (load(out).width, load(out).height) == size


def test_render_contain_pads_white_for_jpeg(processor: VipsProcessor) -> None:
    image = solid(400, 200, BLUE)
    [out] = render(processor, image.pngsave_buffer(), "image/png", (400, 200),
                   [spec(200, 200, fit=Fit.CONTAIN)], ["jpeg"])
    result = load(out)
    assert near(pixel(result, 100, 10), WHITE, 4)
    assert near(pixel(result, 100, 100), BLUE, 8)


def test_render_contain_pads_transparent_when_alpha_survives(processor: VipsProcessor) -> None:
    image = solid(400, 200, (*BLUE, 255))
    [out] = render(processor, image.pngsave_buffer(), "image/png", (400, 200),
                   [spec(200, 200, fit=Fit.CONTAIN)], ["png"])
    result = load(out)
    assert result.bands == 4
    assert pixel(result, 100, 10)[3] == 0
    assert pixel(result, 100, 100) == [*BLUE, 255]


# -- render: operations -------------------------------------------------------------------


def halves() -> Any:
    """400x200: left half red, right half blue."""
    return paint(solid(400, 200, RED), (200, 0, 200, 200), BLUE)


@pytest.mark.parametrize(
    ("operations", "size", "probes"),
    [
        # clockwise quarter turn: the left (red) half ends on top
        ((op("rotate", angle=90),), (100, 200), {(50, 20): RED, (50, 180): BLUE}),
        ((op("rotate", angle=270),), (100, 200), {(50, 20): BLUE, (50, 180): RED}),
        ((op("rotate", angle=180),), (200, 100), {(20, 50): BLUE, (180, 50): RED}),
        ((op("flip", axis="horizontal"),), (200, 100), {(20, 50): BLUE, (180, 50): RED}),
        ((op("flip", axis="vertical"),), (200, 100), {(20, 50): RED, (180, 50): BLUE}),
        # sRGB-encoded luminance: pure red is Y 0.2126 -> 127, pure blue Y 0.0722 -> 76
        ((op("grayscale"),), (200, 100), {(20, 50): (127, 127, 127), (180, 50): (76, 76, 76)}),
        ((op("aspect_crop", ratio=(1.0, 1.0), shift=(0.0, 0.0)),), (200, 200),
         {(10, 100): RED, (190, 100): RED}),
        ((op("aspect_crop", ratio=(1.0, 1.0), shift=(1.0, 0.0)),), (200, 200),
         {(10, 100): BLUE, (190, 100): BLUE}),
        ((op("aspect_crop", ratio=(1.0, 1.0), shift=(0.5, 0.0)),), (200, 200),
         {(10, 100): RED, (190, 100): BLUE}),
        ((op("scale", factor=0.5),), (200, 100), {(20, 50): RED, (180, 50): BLUE}),
    ],
)
def test_render_operations_move_pixels(
    processor: VipsProcessor,
    operations: tuple[Operation, ...],
    size: tuple[int, int],
    probes: dict[tuple[int, int], tuple[int, int, int]],
) -> None:
    version = spec(200, 200, fit=Fit.INSIDE, operations=operations)
    [out] = render(processor, halves().pngsave_buffer(), "image/png", (400, 200), [version])
    result = load(out)
    assert (result.width, result.height) == size
    for (x, y), colour in probes.items():
        assert near(pixel(result, x, y), colour, 6), (x, y)


def test_render_background_flattens_alpha_on_colour(processor: VipsProcessor) -> None:
    image = paint(solid(100, 100, (*RED, 0)), (50, 0, 50, 100), (*BLUE, 255))
    version = spec(100, 100, operations=(op("background", color=GREEN),))
    [out] = render(processor, image.pngsave_buffer(), "image/png", (100, 100), [version])
    result = load(out)
    assert result.bands == 3
    assert pixel(result, 10, 50) == list(GREEN)
    assert pixel(result, 90, 50) == list(BLUE)


def test_render_blur_softens_edge(processor: VipsProcessor) -> None:
    plain, blurred = render(
        processor, halves().pngsave_buffer(), "image/png", (400, 200),
        [spec(400, 200), spec(400, 200, operations=(op("blur", sigma=8.0),))],
    )
    assert pixel(load(plain), 198, 100) == list(RED)
    edge = pixel(load(blurred), 198, 100)
    assert 60 < edge[0] < 200
    assert 60 < edge[2] < 200


# -- render: colour, formats, metadata ----------------------------------------------------


@pytest.mark.parametrize(
    ("image", "mime"),
    [
        (solid(60, 40, (128,)).cast("uchar"), "image/png"),  # 1-band grey
        ((solid(60, 40, (128, 64, 32)).cast("ushort") * 257).copy(interpretation="rgb16"),
         "image/png"),
        (solid(60, 40, (128,)).cast("uchar"), "image/jpeg"),
        (solid(60, 40, (128, 200)), "image/png"),  # grey + alpha
    ],
)
def test_render_output_is_srgb_uchar(
    processor: VipsProcessor, image: pyvips.Image, mime: str
) -> None:
    data = image.jpegsave_buffer() if mime == "image/jpeg" else image.pngsave_buffer()
    [out] = render(processor, data, mime, (60, 40), [spec(30, 20)])
    result = load(out)
    assert result.format == "uchar"
    assert result.interpretation == "srgb"
    assert result.bands in (3, 4)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "avif", "gif", "tiff"])
def test_render_writes_each_format(processor: VipsProcessor, fmt: str) -> None:
    [out] = render(processor, halves().pngsave_buffer(), "image/png", (400, 200),
                   [spec(120, 60)], [fmt])
    result = load(out)
    assert out.mime_type == f"image/{fmt}"
    assert (result.width, result.height) == (120, 60)
    assert near(pixel(result, 20, 30), RED, 40)
    assert near(pixel(result, 100, 30), BLUE, 40)


def test_render_jpeg_is_progressive(processor: VipsProcessor) -> None:
    [out] = render(processor, halves().pngsave_buffer(), "image/png", (400, 200),
                   [spec(100, 50)], ["jpeg"])
    assert load(out).get("jpeg-multiscan") == 1


def test_render_strips_exif_and_gps(processor: VipsProcessor) -> None:
    image = halves().copy()
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Make", "AcmeCam")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitude", "52/1 31/1 0/1")
    data = image.jpegsave_buffer()
    assert pyvips.Image.new_from_buffer(data, "").get_typeof("exif-ifd3-GPSLatitude")
    outs = render(processor, data, "image/jpeg", (400, 200), [spec(100, 50)] * 3,
                  ["jpeg", "png", "webp"])
    for out in outs:
        fields = load(out).get_fields()
        assert not [f for f in fields if f.startswith(("exif", "xmp", "iptc", "icc"))], fields


def test_render_fails_one_version_with_unknown_output_format(processor: VipsProcessor) -> None:
    bad = RenderRequest(uuid4(), plan(Size(400, 200), spec(10, 10)), "bmp", 80)
    good = RenderRequest(uuid4(), plan(Size(400, 200), spec(10, 10)), "png", 80)
    with as_file(halves().pngsave_buffer()) as path:
        failed, made = processor.render(path, "image/png", [bad, good], 0.1)
    assert isinstance(failed, RenderFailure) and "bmp" in failed.reason
    assert failed.version_id == bad.version_id
    assert isinstance(made, Rendered) and (made.width, made.height) == (10, 10)


def test_render_refuses_garbage(processor: VipsProcessor) -> None:
    with as_file(b"\xff\xd8\xff" + bytes(100)) as path, pytest.raises(UndecodableImage):
        processor.render(path, "image/jpeg", [_request(spec(5, 5))], 1)


def test_render_animated_gif_gives_first_frame(processor: VipsProcessor) -> None:
    [out] = render(processor, animated_gif(3), "image/gif", (10, 10), [spec(10, 10)])
    result = load(out)
    assert (result.width, result.height) == (10, 10)
    assert near(pixel(result, 5, 5), RED, 8)


# -- HEIC (pillow-heif) -------------------------------------------------------------------


def heic(mode: str, size: tuple[int, int], colour: int | tuple[int, ...]) -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(PILImage.new(mode, size, colour)).save(out, quality=95)
    return out.getvalue()


@pytest.mark.parametrize(
    ("mode", "colour"), [("RGB", (200, 30, 40)), ("L", 100), ("RGBA", (200, 30, 40, 255))]
)
def test_heic_sniffed_inspected_and_rendered(
    processor: VipsProcessor, tmp_path: Path, mode: str, colour: int | tuple[int, ...]
) -> None:
    path = write(tmp_path, "a.bin", heic(mode, (66, 42), colour))
    assert processor.sniff(path) == "image/heic"
    info = processor.inspect(path, "image/heic", max_pixels=BIG)
    assert (info.width, info.height, info.frames) == (66, 42, 1)
    [out] = render(processor, path.read_bytes(), "image/heic", (66, 42), [spec(33, 21)],
                   ["jpeg"])
    result = load(out)
    assert (result.width, result.height, result.bands) == (33, 21, 3)
    expected = (colour,) * 3 if isinstance(colour, int) else colour[:3]
    assert near(pixel(result, 16, 10), expected, 6)


@dataclass
class FakeHeif:
    """What heif.to_vips reads of a pillow-heif HeifFile, with padded rows."""

    size: tuple[int, int]
    mode: str
    stride: int
    data: bytes
    info: dict[str, Any] = field(default_factory=dict)


def test_heif_to_vips_drops_row_padding() -> None:
    rows = [bytes([y, 10 * x, 7]) for y in range(3) for x in range(2)]
    padded = b"".join(b"".join(rows[y * 2:y * 2 + 2]) + b"\xee\xee" for y in range(3))
    image = heif.to_vips(FakeHeif(size=(2, 3), mode="RGB", stride=8, data=padded))
    assert (image.width, image.height, image.bands) == (2, 3, 3)
    assert pixel(image, 1, 2) == [2, 10, 7]
    assert pixel(image, 0, 1) == [1, 0, 7]


def test_heif_to_vips_refuses_unknown_mode() -> None:
    with pytest.raises(UndecodableImage, match="CMYK"):
        heif.to_vips(FakeHeif(size=(1, 1), mode="CMYK", stride=4, data=bytes(4)))


# -- render: real photographs -------------------------------------------------------------


def _render_file(
    processor: VipsProcessor, path: Path, version: VersionSpec, fmt: str = "png"
) -> Any:
    mime = processor.sniff(path)
    info = processor.inspect(path, mime, max_pixels=BIG)
    p: Plan = plan(Size(info.width, info.height), version)
    request = RenderRequest(uuid4(), p, fmt, version.quality)
    [out] = processor.render(path, mime, [request], decode_scale([p]))
    assert isinstance(out, Rendered), out
    return load(out)


def mean_difference(a: pyvips.Image, b: pyvips.Image) -> float:
    assert (a.width, a.height, a.bands) == (b.width, b.height, b.bands)
    return float((a.cast("float") - b.cast("float")).abs().avg())


@pytest.mark.parametrize(("source", "target", "factor"), [
    ((4000, 3000), (1200, 900), 2),  # 3.3x: libvips' thumbnail would decode at full size
    ((6000, 4000), (1200, 800), 2),  # 5x: 1/4 would leave only 1.25 for the resize
    ((4000, 3000), (400, 300), 4),
    ((4000, 3000), (100, 75), 8),
    ((4000, 3000), (2700, 2025), 1),  # under 1.5x: no shrink-on-load at all
    ((300, 200), (300, 200), 1),
])
def test_jpeg_shrink_leaves_at_least_the_margin_for_the_resize(
    source: tuple[int, int], target: tuple[int, int], factor: int
) -> None:
    assert jpeg_shrink(Size(*source), Size(*target)) == factor
    if factor > 1:
        assert min(s / t for s, t in zip(source, target, strict=True)) / factor >= 1.5


@pytest.mark.slow
def test_render_of_a_jpeg_shrunk_on_load_looks_like_a_full_size_decode(
    processor: VipsProcessor, corpus: Path
) -> None:
    # 12 MP to 1200x630 decodes at 1/2 (libjpeg's DCT scaling), not at full size
    path = corpus / "photo_12mp.jpg"
    assert jpeg_shrink(Size(4000, 3000), Size(1200, 900)) == 2
    ours = _render_file(processor, path, spec(1200, 630))
    full = (pyvips.Image.new_from_file(str(path)).thumbnail_image(1200, height=900)
            .crop(0, 135, 1200, 630))
    assert mean_difference(ours, full) < 1.5  # of 255 levels, JPEG q80 alone costs more


@pytest.mark.slow
def test_render_orientation_6_matches_upright_photo(
    processor: VipsProcessor, corpus: Path
) -> None:
    path = corpus / "photo_12mp_orient6.jpg"
    assert pyvips.Image.new_from_file(str(path)).get_typeof("exif-ifd0-Make")
    upright = _render_file(processor, corpus / "photo_12mp.jpg", spec(100, 100))
    rotated = _render_file(processor, path, spec(100, 100))
    assert mean_difference(upright, rotated) < 3
    # the camera's EXIF (make, model, orientation) is gone from the output
    assert not [f for f in rotated.get_fields() if f.startswith(("exif", "orientation"))]


@pytest.mark.slow
def test_render_cmyk_becomes_plain_srgb(processor: VipsProcessor, corpus: Path) -> None:
    version = spec(200, 150, fit=Fit.INSIDE)
    cmyk = _render_file(processor, corpus / "photo_3mp_cmyk.jpg", version, "jpeg")
    reference = _render_file(processor, corpus / "photo_12mp.jpg", version, "jpeg")
    assert (cmyk.bands, cmyk.interpretation) == (3, "srgb")
    assert not cmyk.get_typeof("icc-profile-data")
    assert not cmyk.get_typeof("exif-data")
    assert mean_difference(cmyk, reference) < 4


def _render_alpha_png(processor: VipsProcessor, corpus: Path, specs: list[VersionSpec],
                      formats: list[str]) -> list[Rendered]:
    """The corpus' 3 MP RGBA PNG rendered as `specs` in `formats`."""
    path = corpus / "alpha_3mp.png"
    info = processor.inspect(path, processor.sniff(path), max_pixels=BIG)
    return render(processor, path.read_bytes(), info.mime_type, (info.width, info.height),
                  specs, formats)


@pytest.mark.slow
def test_render_png_alpha_kept_or_flattened_on_white(
    processor: VipsProcessor, corpus: Path
) -> None:
    png, jpeg = (load(out) for out in
                 _render_alpha_png(processor, corpus, [spec(200, 150)] * 2, ["png", "jpeg"]))
    assert png.bands == 4
    assert pixel(png, 0, 0)[3] == 0
    assert pixel(png, 100, 75)[3] == 255
    assert jpeg.bands == 3
    assert near(pixel(jpeg, 0, 0), WHITE, 3)


@pytest.mark.slow
def test_render_jpeg_of_alpha_looks_like_the_alpha_version_flattened(
    processor: VipsProcessor, corpus: Path
) -> None:
    # A format without alpha flattens on white before it resizes (the cheaper path);
    # the picture must be the one the alpha-keeping path gives, flattened afterwards.
    versions = [spec(300, 300, quality=100), spec(640, 360, fit=Fit.CONTAIN, quality=100)]
    outputs = _render_alpha_png(processor, corpus, versions * 2, ["png"] * 2 + ["jpeg"] * 2)
    for kept, flat in zip(outputs[:2], outputs[2:], strict=True):
        reference = load(kept).flatten(background=list(WHITE))
        jpeg = load(flat)
        assert (jpeg.width, jpeg.height, jpeg.bands) == (reference.width, reference.height, 3)
        assert mean_difference(jpeg, reference) < 1.0  # JPEG q100 noise included
    # where the 640x360 canvas around the picture is, it is white
    assert near(pixel(load(outputs[3]), 0, 0), WHITE, 2)


def _tagged_png(colour: tuple[int, int, int], profile: str | None) -> bytes:
    """A 64x64 PNG of one colour, carrying one of libvips' built-in profiles (or none)."""
    image = solid(64, 64, colour)
    if profile is None:
        return bytes(image.pngsave_buffer())
    tagged = image.copy()  # the same numbers, now said to be in `profile`
    tagged.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(
        image.icc_transform(profile, input_profile="srgb").get("icc-profile-data")))
    return bytes(tagged.pngsave_buffer(keep="icc"))


def test_render_converts_a_display_p3_image_but_leaves_srgb_pixels_alone(
    processor: VipsProcessor,
) -> None:
    colour = (200, 100, 50)
    outputs = {}
    for profile in (None, "srgb", "p3"):
        [out] = render(processor, _tagged_png(colour, profile), "image/png", (64, 64),
                       [spec(32, 32)])
        outputs[profile] = load(out)
    # sRGB-tagged pixels are sRGB already: exactly what the untagged image gives
    assert outputs["srgb"].write_to_memory() == outputs[None].write_to_memory()
    # Display P3's (200, 100, 50) is a more saturated orange than sRGB's
    p3 = pixel(outputs["p3"], 16, 16)
    assert p3[0] > colour[0] + 10 and p3[1] < colour[1] - 5, p3
    assert not outputs["p3"].get_typeof("icc-profile-data")


@pytest.mark.slow
def test_render_heic_matches_jpeg(processor: VipsProcessor, corpus: Path) -> None:
    version = spec(160, 120)
    # rendered straight from the README's size: inspecting would decode the HEVC twice
    data = (corpus / "photo_12mp.heic").read_bytes()
    [out] = render(processor, data, "image/heic", (4000, 3000), [version])
    heic = load(out)
    jpeg = _render_file(processor, corpus / "photo_12mp.jpg", version)
    assert (heic.width, heic.height) == (160, 120)
    assert mean_difference(heic, jpeg) < 4


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_resizing_transparency_keeps_invisible_colour_out_of_the_edge(
    processor: VipsProcessor, fmt: str
) -> None:
    # Opaque white beside fully transparent black: a straight resize would draw a grey
    # fringe along the edge, a premultiplied one keeps every visible pixel white.
    # A full-size version beside it keeps the decode at full size, so the small one is
    # resized by the pipeline, not by libvips' thumbnail while decoding.
    image = paint(solid(200, 100, (0, 0, 0, 0)), (0, 0, 100, 100), (255, 255, 255, 255))
    _, small = render(processor, bytes(image.pngsave_buffer()), "image/png", (200, 100),
                      [spec(200, 100), spec(67, 33, quality=100)], [fmt, fmt])
    result = load(small)
    assert result.bands == 4
    edge = [pixel(result, x, 16) for x in range(30, 37)]
    assert any(0 < p[3] < 255 for p in edge), edge  # the edge is soft
    assert all(min(p[:3]) >= 245 for p in edge if p[3] >= 16), edge  # and stays white
