"""JPEG shrink-on-load: what decoding at 1/2, 1/4 or 1/8 saves, and what it costs in
quality (measurement, not a test).

For each corpus JPEG and each decode size the service uses (the largest version's cover
scale of the bench converter and of the `default` one), three decodes are compared:

  full      a full-size decode resized with thumbnail_image (lanczos3): the reference
  libvips   pyvips.Image.thumbnail: shrink-on-load leaving a factor of 2 for the resize
  ours      imaging/vips.py's choice (jpeg_shrink: leaving at least JPEG_SHRINK_MARGIN)

and, for the record, the largest factor that leaves any resize at all (margin 1). Scores
are SSIM on luma and the mean CIEDE2000 against the reference (the functions of
bench/quality_equivalence.py); for scale, the same reference encoded as JPEG q80 (what a
version goes through anyway) is scored too. Times are CPU ms per decode, median of 5.

Run: python bench/decode_scale.py   (with assetry installed, or PYTHONPATH=src)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pyvips
from quality_equivalence import CORPUS, delta_e, ssim

from assetry.domain.geometry import Size
from assetry.imaging.pipeline import encode
from assetry.imaging.vips import jpeg_shrink

FILES = ("photo_12mp.jpg", "photo_24mp.jpg", "photo_b_12mp.jpg", "photo_12mp_orient6.jpg")
#: the largest version of the bench converter (1200x630 cover) and of `default` (800x800)
TARGETS = ((1200, 630), (800, 800))


def cpu_ms(make: Callable[[], pyvips.Image]) -> float:
    times = []
    for _ in range(5):
        started = time.process_time()
        make().copy_memory()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def decoded(path: str, factor: int, size: tuple[int, int]) -> pyvips.Image:
    """`path` decoded at 1/`factor`, then resized to `size` (auto-rotated)."""
    return pyvips.Image.new_from_file(path, shrink=factor).thumbnail_image(
        size[0], height=size[1], size="down")


def row(name: str, target: tuple[int, int]) -> str:
    path = str(CORPUS / name)
    upright = pyvips.Image.new_from_file(path).autorot()
    scale = max(target[0] / upright.width, target[1] / upright.height)
    size = (round(upright.width * scale), round(upright.height * scale))
    need = min(upright.width / size[0], upright.height / size[1])
    ours = jpeg_shrink(Size(upright.width, upright.height), Size(*size))
    margin_1 = next((f for f in (8, 4, 2) if need / f >= 1), 1)
    libvips = next((f for f in (8, 4, 2) if need / f >= 2), 1)
    reference = decoded(path, 1, size).copy_memory()
    made = {f: decoded(path, f, size).copy_memory() for f in {ours, margin_1, libvips}}
    q80 = pyvips.Image.new_from_buffer(encode(reference, "jpeg", 80), "")
    libvips_ms = cpu_ms(lambda: pyvips.Image.thumbnail(path, size[0], height=size[1],
                                                       size="down"))
    ours_ms = cpu_ms(lambda: decoded(path, ours, size))
    return (f"{name:24}{f'{size[0]}x{size[1]}':>11}{f'{libvips}/{ours}/{margin_1}':>23}"
            f"{libvips_ms:11.0f}{ours_ms:9.0f}"
            f"{ssim(reference, made[libvips]):13.4f}{ssim(reference, made[ours]):11.4f}"
            f"{ssim(reference, made[margin_1]):10.4f}{ssim(reference, q80):7.4f}"
            f"{delta_e(reference, made[ours]):9.2f}{delta_e(reference, made[margin_1]):8.2f}"
            f"{delta_e(reference, q80):8.2f}")


def main() -> int:
    pyvips.cache_set_max(0)
    print(f"{'file':24}{'decode to':>11}{'factor libvips/ours/1':>23}{'ms libvips':>11}"
          f"{'ms ours':>9}{'SSIM libvips':>13}{'SSIM ours':>11}{'SSIM m=1':>10}"
          f"{'q80':>7}{'dE ours':>9}{'dE m=1':>8}{'dE q80':>8}")
    for name in FILES:
        for target in TARGETS:
            print(row(name, target), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
