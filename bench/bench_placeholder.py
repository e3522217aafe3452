"""Placeholder benchmark (not a test): what ThumbHash, BlurHash and the dominant colour add
to the render an upload already does.

The workload is an upload's: VipsProcessor.render of the default converter's two versions
(detail 800x800 and thumbnail 100x100, cover, format same) from one decode, with and
without `placeholder=True`, alternated call by call (A B A B ...) so that a shared
machine's drift hits both alike. The render is most of an upload's time, so the overhead
against it is an upper bound of the overhead against the whole upload. Also timed alone:
`imaging.placeholder.placeholder` on an image already decoded at the render's scale.

Times are CPU seconds of this process (every thread, libvips' included), not wall time:
on a shared 2-core machine other processes stretch wall time by several times from one
minute to the next, while the CPU a render costs stays put.

Run: python bench/bench_placeholder.py [--seconds 20]   (with assetry installed)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from uuid import uuid4

import pyvips

from assetry.domain.converter import DEFAULT_CONVERTER
from assetry.domain.geometry import Size, decode_scale, plan
from assetry.domain.ports import RenderRequest
from assetry.imaging.placeholder import placeholder
from assetry.imaging.vips import VipsProcessor

CORPUS = Path(os.environ.get("ASSETRY_CORPUS",
                             Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))
FILES = (("photo_12mp.jpg", "image/jpeg"), ("alpha_3mp.png", "image/png"))
PLACEHOLDER_ALONE_RUNS = 200


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="time budget per file for the alternated renders")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS.resolve()} (set ASSETRY_CORPUS)", file=sys.stderr)
        return 2
    processor = VipsProcessor()
    print(f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, "
          f"cpus {os.cpu_count()}, {args.seconds:.0f} s of alternated renders per file\n")
    print(f"{'file':<16}{'render':>10}{'+placeholder':>14}{'overhead':>10}"
          f"{'pairs':>7}{'placeholder alone':>19}   (CPU ms, medians)")
    for name, mime in FILES:
        path = CORPUS / name
        header = pyvips.Image.new_from_file(str(path))
        source = Size(header.width, header.height)
        plans = [plan(source, spec) for spec in DEFAULT_CONVERTER.versions]
        requests = [RenderRequest(uuid4(), p, "jpeg" if mime == "image/jpeg" else "png", 80)
                    for p in plans]
        scale = decode_scale(plans)
        processor.render(path, mime, requests, scale, placeholder=True)  # warm-up
        plain: list[float] = []
        placed: list[float] = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            for with_placeholder, samples in ((False, plain), (True, placed)):
                started = time.process_time()
                processor.render(path, mime, requests, scale, placeholder=with_placeholder)
                samples.append(time.process_time() - started)
        decoded = pyvips.Image.thumbnail(str(path), max(1, round(source.width * scale)),
                                         height=max(1, round(source.height * scale)),
                                         size="down").copy_memory()
        alone = []
        for _ in range(PLACEHOLDER_ALONE_RUNS):
            started = time.process_time()
            placeholder(decoded)
            alone.append(time.process_time() - started)
        a, b = statistics.median(plain), statistics.median(placed)
        print(f"{name:<16}{a * 1000:>10.1f}{b * 1000:>14.1f}{(b - a) / a:>10.1%}"
              f"{len(plain):>7}{statistics.median(alone) * 1000:>19.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
