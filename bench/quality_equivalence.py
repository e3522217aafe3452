"""Which WebP and AVIF quality looks like JPEG at quality q? (measurement, not a test)

`format: auto` stores AVIF, WebP and a JPEG fallback of one version. The spec's `quality`
is the JPEG's; WebP and AVIF must look the same, and the same number does not mean the
same look in each codec (wagtail#13432: AVIF files bigger than WebP at equal numbers).

Method, for every sample image and every JPEG quality q in QUALITIES:

1. The reference is the sample's pixels, 8-bit sRGB, exactly as a version would hold them
   before encoding (a corpus photo shrunk to a version size, or a crop of it).
2. Encode it as JPEG at q with Assetry's own encoder settings (imaging/pipeline.encode:
   progressive, 4:2:0, no metadata), decode, and score it against the reference with
   SSIM on luma (Y' of BT.601, Gaussian window sigma 1.5, Wang et al. 2004 constants).
3. For WebP and AVIF (the encoder settings `format: auto` uses: encode(fast=True), AVIF
   at effort 0), binary-search the lowest quality whose SSIM reaches the JPEG's: that is
   the sample's equivalent.
4. The table is the median over samples. As a check that colour is not traded away for
   luma, the mean CIEDE2000 difference to the reference is reported for each codec at
   its equivalent quality, next to the bytes.

Run: python bench/quality_equivalence.py [--quick]   (with assetry installed, or PYTHONPATH=src)
It takes several minutes (AVIF encodes dominate); --quick measures q80 on two samples.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyvips

from assetry.imaging.pipeline import encode, to_srgb_uchar

CORPUS = Path(os.environ.get("ASSETRY_CORPUS",
                             Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))
#: the two real scenes of the corpus (the other photos are the same pixels re-encoded)
SCENES = ("photo_12mp.jpg", "photo_b_12mp.jpg")
QUALITIES = (60, 80, 90)  # 80 is the default to match; 60 and 90 bound the curve
CODECS = ("webp", "avif")


@dataclass(frozen=True)
class Sample:
    name: str
    image: pyvips.Image  #: 8-bit sRGB, in memory


def samples(quick: bool) -> Iterator[Sample]:
    """Each scene whole at a version width, and two 512x384 crops of a 2048-wide copy
    (detail at a version's scale: top left and bottom right)."""
    for scene in SCENES:
        path = CORPUS / scene
        image = to_srgb_uchar(pyvips.Image.thumbnail(str(path), 960)).copy_memory()
        yield Sample(f"{scene} @960w", image)
        if quick:
            continue
        large = to_srgb_uchar(pyvips.Image.thumbnail(str(path), 2048)).copy_memory()
        for i, (fx, fy) in enumerate(((0.1, 0.1), (0.6, 0.6))):
            left, top = int(large.width * fx), int(large.height * fy)
            crop = large.crop(left, top, 512, 384).copy_memory()
            yield Sample(f"{scene} crop {i + 1}", crop)


def luma(image: pyvips.Image) -> pyvips.Image:
    return image.recomb([[0.299, 0.587, 0.114]])


def ssim(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean SSIM of two sRGB images on luma, Gaussian window sigma 1.5."""
    x, y = luma(a), luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(image: pyvips.Image) -> pyvips.Image:
        return image.gaussblur(1.5, precision="float")

    mx, my = blur(x), blur(y)
    vx, vy = blur(x * x) - mx * mx, blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    num = (mx * my * 2 + c1) * (cov * 2 + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float((num / den).avg())


def delta_e(a: pyvips.Image, b: pyvips.Image) -> float:
    """Mean CIEDE2000 difference."""
    return float(a.colourspace("lab").dE00(b.colourspace("lab")).avg())


def decoded(data: bytes) -> pyvips.Image:
    return to_srgb_uchar(pyvips.Image.new_from_buffer(data, ""))


@dataclass
class Score:
    quality: int
    ssim: float
    size: int
    data: bytes

    def delta_e(self, reference: pyvips.Image) -> float:
        return delta_e(reference, decoded(self.data))


def score(image: pyvips.Image, fmt: str, quality: int) -> Score:
    data = encode(image, fmt, quality, fast=True)  # format auto's encoder settings
    return Score(quality, ssim(image, decoded(data)), len(data), data)


def equivalent(image: pyvips.Image, fmt: str, target: float, jpeg_quality: int) -> Score:
    """The lowest quality of `fmt` whose SSIM reaches `target` (100 if none does),
    searched from 40 below the JPEG's quality (no codec here needs less)."""
    lo, hi = max(1, jpeg_quality - 40), 100
    best = score(image, fmt, hi)
    while lo < hi:
        mid = (lo + hi) // 2
        s = score(image, fmt, mid)
        if s.ssim >= target:
            hi, best = mid, s
        else:
            lo = mid + 1
    return best if best.quality == hi else score(image, fmt, hi)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="q80 only, fewer samples")
    args = parser.parse_args()
    if not all((CORPUS / s).exists() for s in SCENES):
        print(f"the corpus is not at {CORPUS} (set ASSETRY_CORPUS)", file=sys.stderr)
        return 2
    qualities = (80,) if args.quick else QUALITIES
    started = time.perf_counter()
    rows: dict[int, dict[str, list[Score]]] = {q: {f: [] for f in ("jpeg", *CODECS)}
                                               for q in qualities}
    errors: dict[int, dict[str, list[float]]] = {q: {f: [] for f in ("jpeg", *CODECS)}
                                                 for q in qualities}
    print("| sample | JPEG q | JPEG SSIM | JPEG bytes | " +
          " | ".join(f"{f} q | {f} bytes" for f in CODECS) + " |")
    print("| --- " * (4 + 2 * len(CODECS)) + "|")
    for sample in samples(args.quick):
        for q in qualities:
            jpeg = score(sample.image, "jpeg", q)
            rows[q]["jpeg"].append(jpeg)
            errors[q]["jpeg"].append(jpeg.delta_e(sample.image))
            cells = []
            for fmt in CODECS:
                found = equivalent(sample.image, fmt, jpeg.ssim, q)
                rows[q][fmt].append(found)
                errors[q][fmt].append(found.delta_e(sample.image))
                cells.append(f"{found.quality} | {found.size:,}")
            print(f"| {sample.name} | {q} | {jpeg.ssim:.4f} | {jpeg.size:,} | "
                  + " | ".join(cells) + " |", flush=True)
    print()
    print("Medians over the samples (bytes relative to the JPEG's, per sample):")
    print()
    print("| JPEG q | " + " | ".join(f"{f} q | {f} bytes vs JPEG" for f in CODECS)
          + " | ΔE00 JPEG | " + " | ".join(f"ΔE00 {f}" for f in CODECS) + " |")
    print("| --- " * (2 + 3 * len(CODECS)) + "|")
    for q, by in rows.items():
        cells = []
        for fmt in CODECS:
            ratio = statistics.median(s.size / j.size for s, j in zip(by[fmt], by["jpeg"],
                                                                       strict=True))
            cells.append(f"{round(statistics.median(s.quality for s in by[fmt]))} | "
                         f"{ratio:.2f}x")
        print(f"| {q} | " + " | ".join(cells) + " | "
              + " | ".join(f"{statistics.median(errors[q][f]):.2f}" for f in ("jpeg", *CODECS))
              + " |")
    print(f"\n{len(rows[qualities[0]]['jpeg'])} samples, libvips "
          f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
