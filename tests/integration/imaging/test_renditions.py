"""VipsProcessor.render for the web: format auto, srcset widths, animation, chained
versions and overlays, all from one decode, checked on real pixels and real bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import pyvips

from assetry.domain.converter import Fit, Gravity, Operation, OutputFormat, VersionSpec
from assetry.domain.geometry import Size, decode_scale, plan, srcset
from assetry.domain.ports import OverlaySource, Rendered, RenderFailure, RenderRequest
from assetry.imaging import vips
from assetry.imaging.vips import VipsProcessor
from tests.integration.imaging.test_vips import (
    BLUE,
    GREEN,
    RED,
    WHITE,
    as_file,
    near,
    paint,
    pixel,
    solid,
)
from tests.support.images import MAGIC as MIME_MAGIC
from tests.support.images import animated, corpus, frames

MAGIC = {mime.removeprefix("image/"): check for mime, check in MIME_MAGIC.items()}
LOGO = "0b2cb56e-8c2e-4b7a-9d3e-0d8f5f8f1a11"


@pytest.fixture(scope="module")
def processor() -> VipsProcessor:
    return VipsProcessor()


def spec(width: int | None, height: int | None, **kwargs: Any) -> VersionSpec:
    return VersionSpec(name=kwargs.pop("name", "v"), width=width, height=height, **kwargs)


def request(source: Size, s: VersionSpec, fmt: str, *, overlays: dict[str, Size] | None = None,
            origin: RenderRequest | None = None, keep: bool = True) -> RenderRequest:
    """A request as the Renderer makes it: planned on the original or on `origin`'s output."""
    base = origin.plan.output if origin else source
    main = plan(base, s, overlays=overlays)
    return RenderRequest(uuid4(), main, fmt, s.quality, srcset(base, s, main, None, overlays),
                         source=origin.version_id if origin else None, keep=keep)


def run(processor: VipsProcessor, data: bytes, mime: str, requests: list[RenderRequest],
        overlays: dict[str, OverlaySource] | None = None) -> list[Rendered]:
    scale = decode_scale([p for r in requests if r.source is None
                          for p in (r.plan, *(q for _, q in r.srcset))])
    with as_file(data) as path:
        results = processor.render(path, mime, requests, scale, overlays=overlays)
    assert all(isinstance(r, Rendered) for r in results), results
    return results  # type: ignore[return-value]


def decode(data: bytes, **options: Any) -> Any:
    return pyvips.Image.new_from_buffer(data, "", **options)


def renditions(result: Rendered) -> dict[tuple[str, int | None], bytes]:
    """Every rendition by (format, srcset width), the main one included."""
    main_fmt = result.mime_type.removeprefix("image/")
    return {(main_fmt, None): result.data,
            **{(e.format, e.srcset_width): e.data for e in result.extras}}


# -- format auto ------------------------------------------------------------------------------


def test_auto_stores_avif_webp_and_a_jpeg_fallback(processor: VipsProcessor) -> None:
    source = Size(400, 300)
    image = paint(solid(400, 300, RED), (100, 0, 200, 300), BLUE)
    [out] = run(processor, image.pngsave_buffer(), "image/png",
                [request(source, spec(200, 150, format=OutputFormat.AUTO), "auto")])
    assert out.mime_type == "image/jpeg" and (out.width, out.height) == (200, 150)
    stored = renditions(out)
    assert set(stored) == {("avif", None), ("webp", None), ("jpeg", None)}
    for (fmt, _), data in stored.items():
        assert MAGIC[fmt](data), fmt
        decoded = decode(data)
        assert (decoded.width, decoded.height) == (200, 150)
        assert near(pixel(decoded, 20, 75), RED, 12) and near(pixel(decoded, 100, 75), BLUE, 12)
    assert {e.mime_type for e in out.extras} == {"image/avif", "image/webp"}


def test_auto_falls_back_to_png_when_pixels_are_transparent(processor: VipsProcessor) -> None:
    translucent = solid(100, 100, (*GREEN, 255)).insert(solid(20, 20, (*GREEN, 0)), 0, 0)
    opaque_rgba = solid(100, 100, (*GREEN, 255))
    s = spec(50, 50, format=OutputFormat.AUTO)
    [with_alpha] = run(processor, translucent.pngsave_buffer(), "image/png",
                       [request(Size(100, 100), s, "auto")])
    [without] = run(processor, opaque_rgba.pngsave_buffer(), "image/png",
                    [request(Size(100, 100), s, "auto")])
    assert with_alpha.mime_type == "image/png" and MAGIC["png"](with_alpha.data)
    assert decode(with_alpha.data).getpoint(1, 1)[3] == 0  # the corner stays clear
    for extra in with_alpha.extras:  # AVIF and WebP keep the transparency too
        assert decode(extra.data).bands == 4 and decode(extra.data).getpoint(1, 1)[3] < 10
    assert without.mime_type == "image/jpeg"  # an alpha band of all 255 is no alpha


def test_auto_webp_and_avif_are_smaller_than_the_jpeg_of_a_photo(
    processor: VipsProcessor, corpus_photo: Path
) -> None:
    # The measured qualities (domain/formats.py) make them look like the JPEG; for a
    # photo that is also fewer bytes, the point of storing them.
    [out] = run(processor, corpus_photo.read_bytes(), "image/jpeg",
                [request(Size(4000, 3000), spec(800, 600, format=OutputFormat.AUTO), "auto")])
    sizes = {e.format: len(e.data) for e in out.extras}
    assert sizes["avif"] < len(out.data) and sizes["webp"] < len(out.data)


@pytest.fixture(scope="module")
def corpus_photo() -> Path:
    return corpus("photo_12mp.jpg")


# -- srcset widths ------------------------------------------------------------------------------


def test_widths_are_rendered_from_the_same_decode_at_the_version_aspect(
    processor: VipsProcessor,
) -> None:
    source = Size(800, 600)
    image = paint(solid(800, 600, RED), (100, 0, 600, 600), BLUE)  # blue where cover keeps
    s = spec(400, 300, fit=Fit.COVER, widths=(100, 200, 400, 800, 1000))
    [out] = run(processor, image.pngsave_buffer(), "image/png", [request(source, s, "png")])
    extras = {e.srcset_width: e for e in out.extras}
    assert sorted(extras) == [100, 200, 400, 800]  # 1000 would upscale: dropped
    for width, e in extras.items():
        assert (e.width, e.height) == (width, width * 3 // 4)
        decoded = decode(e.data)
        assert (decoded.width, decoded.height) == (e.width, e.height)
    # the width equal to the version's own size is the version: the same bytes, not
    # another encode
    assert extras[400].data is out.data


def test_auto_with_widths_stores_every_format_at_every_width(processor: VipsProcessor) -> None:
    s = spec(300, 300, format=OutputFormat.AUTO, widths=(100, 300))
    [out] = run(processor, solid(600, 600, BLUE).jpegsave_buffer(), "image/jpeg",
                [request(Size(600, 600), s, "auto")])
    stored = renditions(out)
    assert set(stored) == {(f, w) for f in ("avif", "webp", "jpeg") for w in (None, 100, 300)}
    for (fmt, width), data in stored.items():
        assert MAGIC[fmt](data)
        assert decode(data).width == (width or 300)


# -- animation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), [(".gif", "image/gif"), (".webp", "image/webp")])
def test_animations_stay_animated_with_their_delays_and_loop(
    processor: VipsProcessor, fmt: str, mime: str
) -> None:
    data = animated([RED, GREEN, BLUE, WHITE], 200, 100, delays=[100, 200, 300, 400],
                     loop=3, fmt=fmt)
    out_fmt = fmt.removeprefix(".")
    # cover 50x50 crops the centre square of every frame
    [out] = run(processor, data, mime, [request(Size(200, 100), spec(50, 50), out_fmt)])
    assert MAGIC[out_fmt](out.data)
    image, count, delays, loop = frames(out.data)
    assert (count, delays, loop) == (4, [100, 200, 300, 400], 3)
    assert (image.width, image.height, image.get("page-height")) == (50, 200, 50)
    for i, colour in enumerate([RED, GREEN, BLUE, WHITE]):
        assert near(pixel(image, 25, i * 50 + 25), colour, 40), (i, pixel(image, 25, i * 50))


def test_formats_that_cannot_animate_get_the_first_frame(processor: VipsProcessor) -> None:
    data = animated([GREEN, RED, BLUE], 100, 100, delays=[50, 50, 50], loop=0)
    [png, jpeg] = run(processor, data, "image/gif", [
        request(Size(100, 100), spec(40, 40), "png"),
        request(Size(100, 100), spec(40, 40), "jpeg")])
    for out in (png, jpeg):
        image = decode(out.data)
        assert (image.width, image.height) == (40, 40)  # one frame
        assert not image.get_typeof("page-height") or image.get("page-height") == 40
        assert near(pixel(image, 20, 20), GREEN, 30)


def test_auto_of_an_animation_is_webp_and_gif_both_animated(processor: VipsProcessor) -> None:
    data = animated([RED, BLUE], 80, 80, delays=[120, 240], loop=0)
    [out] = run(processor, data, "image/gif",
                [request(Size(80, 80), spec(40, 40, format=OutputFormat.AUTO), "auto")])
    stored = renditions(out)
    assert set(stored) == {("webp", None), ("gif", None)}  # AVIF would freeze it
    assert out.mime_type == "image/gif"
    for data_ in stored.values():
        _, count, delays, _ = frames(data_)
        assert (count, delays) == (2, [120, 240])


def test_every_frame_is_cropped_where_the_first_one_was(processor: VipsProcessor) -> None:
    # An attention crop follows what is salient: a red square on the left in frame 1,
    # on the right in frame 2. Each frame cropped on its own would follow it; the
    # animation must not jump, so frame 2 is cropped where frame 1 was.
    first = paint(solid(300, 100, WHITE), (20, 20, 60, 60), RED)
    second = paint(solid(300, 100, WHITE), (220, 20, 60, 60), RED)
    strip = pyvips.Image.arrayjoin([first, second], across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 100)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [100, 100])
    data = bytes(strip.gifsave_buffer())
    [out] = run(processor, data, "image/gif", [
        request(Size(300, 100), spec(100, 100, gravity=Gravity.ATTENTION), "gif")])
    image, count, _, _ = frames(out.data)
    assert count == 2
    assert near(pixel(image, 50, 50), RED, 40)  # frame 1: the square
    assert near(pixel(image, 50, 150), WHITE, 40)  # frame 2: the same place, now white


def test_widths_of_an_animation_are_animated_too(processor: VipsProcessor) -> None:
    data = animated([RED, BLUE, GREEN], 400, 400, delays=[70, 80, 90], loop=0)
    s = spec(200, 200, widths=(100,))
    [out] = run(processor, data, "image/gif", [request(Size(400, 400), s, "gif")])
    [small] = out.extras
    image, count, delays, _ = frames(small.data)
    assert (image.width, count, delays) == (100, 3, [70, 80, 90])


def test_one_decode_reads_every_frame_once(processor: VipsProcessor,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[str] = []
    real_thumbnail, real_open = pyvips.Image.thumbnail_source, vips._open

    def counting_thumbnail(*args: Any, **kwargs: Any) -> Any:
        decodes.append(kwargs.get("option_string", ""))
        return real_thumbnail(*args, **kwargs)

    def counting_open(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("n") == -1:
            decodes.append("check every frame")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(pyvips.Image, "thumbnail_source", counting_thumbnail)
    monkeypatch.setattr(vips, "_open", counting_open)
    data = animated([RED, BLUE], 100, 100, delays=[10, 10], loop=0)
    source = Size(100, 100)
    hero = request(source, spec(80, 80, name="hero", format=OutputFormat.AUTO,
                                widths=(40, 80)), "auto")
    still = request(source, spec(30, 30, name="still"), "jpeg")
    chained = request(source, spec(20, 20, name="chained", source="hero"), "gif", origin=hero)
    results = run(processor, data, "image/gif", [hero, still, chained])
    assert decodes == ["fail_on=error,n=-1"]  # all frames, once: the check is the decode
    assert len(results) == 3 and frames(results[2].data)[1] == 2

    decodes.clear()
    run(processor, data, "image/gif", [still])
    assert decodes == ["check every frame", "fail_on=error"]  # as before: a still needs one


# -- chained versions ------------------------------------------------------------------------------


def test_a_version_is_made_from_another_versions_pixels(processor: VipsProcessor) -> None:
    image = paint(solid(800, 400, RED), (200, 0, 400, 400), BLUE)
    source = Size(800, 400)
    # square: the blue centre, greyed; small: 50x50 of the square's pixels
    square = request(source, spec(200, 200, name="square",
                                  operations=(Operation("grayscale"),)), "png")
    small = request(source, spec(50, 50, name="small", source="square"), "png", origin=square)
    assert small.plan.virtual == Size(200, 200)  # planned on the square, not the original
    outs = run(processor, image.pngsave_buffer(), "image/png", [square, small])
    result = decode(outs[1].data)
    assert (result.width, result.height) == (50, 50)
    r, g, b = pixel(result, 25, 25)[:3]
    assert r == g == b  # grey: the square's pixels, not the original's blue


def test_a_source_kept_only_for_its_children_is_not_answered(processor: VipsProcessor) -> None:
    source = Size(300, 300)
    parent = request(source, spec(100, 100, name="p"), "jpeg", keep=False)
    child = request(source, spec(10, 10, name="c", source="p"), "png", origin=parent)
    [out] = run(processor, solid(300, 300, GREEN).pngsave_buffer(), "image/png",
                [parent, child])
    assert out.version_id == child.version_id and (out.width, out.height) == (10, 10)


def test_a_jpeg_source_hands_on_flattened_pixels(processor: VipsProcessor) -> None:
    clear = solid(100, 100, (*GREEN, 0))
    parent = request(Size(100, 100), spec(50, 50, name="p"), "jpeg")
    child = request(Size(100, 100), spec(50, 50, name="c", source="p"), "png", origin=parent)
    _, out = run(processor, clear.pngsave_buffer(), "image/png", [parent, child])
    # what the JPEG shows (white), not the transparency it could not keep
    assert near(pixel(decode(out.data), 25, 25), WHITE, 3)


def test_a_failed_source_fails_its_children(processor: VipsProcessor) -> None:
    parent = RenderRequest(uuid4(), plan(Size(40, 40), spec(20, 20)), "bmp", 80)
    child = request(Size(40, 40), spec(10, 10, source="p"), "png", origin=parent)
    with as_file(solid(40, 40, RED).pngsave_buffer()) as path:
        failed_parent, failed_child = processor.render(path, "image/png", [parent, child], 1)
    assert isinstance(failed_child, RenderFailure)
    assert failed_child.reason == f"its source version failed: {failed_parent.reason}"  # type: ignore[union-attr]


# -- overlays ------------------------------------------------------------------------------------


def overlay_op(**params: Any) -> Operation:
    defaults = {"asset": LOGO, "gravity": "south-east", "opacity": 1.0, "scale": 0.25,
                "margin": 10}
    return Operation("overlay", tuple({**defaults, **params}.items()))


@pytest.fixture
def logo(tmp_path: Path) -> OverlaySource:
    """A 200x100 PNG: blue, with a fully transparent left quarter."""
    image = solid(200, 100, (*BLUE, 255)).insert(solid(50, 100, (*BLUE, 0)), 0, 0)
    path = tmp_path / "logo.png"
    path.write_bytes(image.pngsave_buffer())
    return OverlaySource(path=path, mime_type="image/png", size=Size(200, 100))


@pytest.mark.parametrize(("opacity", "expected"), [(1.0, BLUE), (0.5, (128, 0, 128))])
def test_overlay_is_drawn_at_its_place_with_its_opacity(
    processor: VipsProcessor, logo: OverlaySource, opacity: float, expected: tuple[int, ...]
) -> None:
    s = spec(400, 300, operations=(overlay_op(opacity=opacity),))
    r = request(Size(800, 600), s, "png", overlays={LOGO: logo.size})
    [out] = run(processor, solid(800, 600, RED).pngsave_buffer(), "image/png", [r],
                {LOGO: logo})
    image = decode(out.data)
    assert image.bands == 3  # drawing on an opaque version keeps it opaque
    # 0.25 x 400 = 100x50 at (290, 240): its right part is the logo's opaque blue
    assert near(pixel(image, 360, 265), expected, 4)
    assert near(pixel(image, 300, 265), RED, 4)  # the logo's transparent quarter
    assert near(pixel(image, 395, 295), RED, 4)  # the margin
    assert near(pixel(image, 200, 150), RED, 4)


def test_overlay_keeps_its_look_at_every_srcset_width(processor: VipsProcessor,
                                                      logo: OverlaySource) -> None:
    s = spec(400, 300, widths=(200,), operations=(overlay_op(),))
    r = request(Size(800, 600), s, "png", overlays={LOGO: logo.size})
    [out] = run(processor, solid(800, 600, RED).pngsave_buffer(), "image/png", [r],
                {LOGO: logo})
    small = decode(out.extras[0].data)
    # half the size: a 50x25 logo 5 px in from the corner, at (145, 120)
    assert near(pixel(small, 180, 132), BLUE, 6) and near(pixel(small, 197, 147), RED, 6)


def test_overlay_source_is_decoded_once_per_render(processor: VipsProcessor, logo: OverlaySource,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[UUID | Path] = []
    real = vips._decode_still

    def counting(path: Path, mime: str, scale: float) -> Any:
        seen.append(path)
        return real(path, mime, scale)

    monkeypatch.setattr(vips, "_decode_still", counting)
    specs = [spec(400, 300, name="a", operations=(overlay_op(),)),
             spec(100, 100, name="b", operations=(overlay_op(gravity="north-west"),))]
    requests = [request(Size(800, 600), s, "jpeg", overlays={LOGO: logo.size}) for s in specs]
    outs = run(processor, solid(800, 600, RED).pngsave_buffer(), "image/png", requests,
               {LOGO: logo})
    assert seen == [logo.path] and len(outs) == 2
