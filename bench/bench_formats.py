"""What `format: auto` and srcset `widths` cost against the plain render (not a test).

One "image" is one version of a corpus photo, 1200x630 cover, from one decode, made by
VipsProcessor.render exactly as uploads and render jobs run it. Variants of the spec:

  plain        format jpeg (quality 80): one encode; the baseline
  auto         format auto: AVIF, WebP and the JPEG fallback, each encoded once
  widths       format jpeg with widths [320, 640, 1200]: two more resizes and encodes
               (1200 is the version itself and reuses its bytes)
  auto+widths  both: three formats at three sizes

Rounds are interleaved (plain, auto, widths, auto+widths, plain, ...) and the medians
compared within the run: absolute times on a shared machine swing, ratios carry over.
The run is short on purpose (a few iterations per variant); use --rounds to lengthen it.

Run: python bench/bench_formats.py [--rounds N]   (with assetry installed, or PYTHONPATH=src)
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

from assetry.domain.converter import OutputFormat, VersionSpec
from assetry.domain.geometry import Size, decode_scale, plan, srcset
from assetry.domain.ports import Rendered, RenderRequest
from assetry.imaging.vips import VipsProcessor

CORPUS = Path(os.environ.get("ASSETRY_CORPUS",
                             Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))
FILE = "photo_12mp.jpg"
WIDTHS = (320, 640, 1200)

VARIANTS = {
    "plain": VersionSpec(name="v", width=1200, height=630, format=OutputFormat.JPEG),
    "auto": VersionSpec(name="v", width=1200, height=630, format=OutputFormat.AUTO),
    "widths": VersionSpec(name="v", width=1200, height=630, format=OutputFormat.JPEG,
                          widths=WIDTHS),
    "auto+widths": VersionSpec(name="v", width=1200, height=630, format=OutputFormat.AUTO,
                               widths=WIDTHS),
}


def request(source: Size, spec: VersionSpec) -> RenderRequest:
    main = plan(source, spec)
    return RenderRequest(uuid4(), main, spec.format.value, spec.quality,
                         srcset(source, spec, main))


def run(processor: VipsProcessor, path: Path, req: RenderRequest) -> Rendered:
    scale = decode_scale([req.plan, *(p for _, p in req.srcset)])
    [out] = processor.render(path, "image/jpeg", [req], scale)
    assert isinstance(out, Rendered), out
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    path = CORPUS / FILE
    if not path.exists():
        print(f"{path} not found (set ASSETRY_CORPUS)", file=sys.stderr)
        return 2
    processor = VipsProcessor()
    header = pyvips.Image.new_from_file(str(path))
    source = Size(header.width, header.height)
    requests = {name: request(source, spec) for name, spec in VARIANTS.items()}
    outputs = {name: run(processor, path, req) for name, req in requests.items()}  # warm-up
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    started = time.perf_counter()
    for _ in range(args.rounds):
        for name, req in requests.items():
            t0 = time.perf_counter()
            run(processor, path, req)
            times[name].append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    print(f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, "
          f"cpus {os.cpu_count()}, {FILE} {source.width}x{source.height}, "
          f"{args.rounds} interleaved rounds, {elapsed:.0f} s\n")
    base = statistics.median(times["plain"])
    print("| variant | renditions | bytes stored | ms (median) | vs plain |")
    print("| --- | --- | --- | --- | --- |")
    for name, samples in times.items():
        out = outputs[name]
        distinct = {id(out.data): len(out.data),
                    **{id(e.data): len(e.data) for e in out.extras}}
        ms = statistics.median(samples) * 1000
        print(f"| {name} | {1 + len(out.extras)} | {sum(distinct.values()):,} | {ms:.0f} | "
              f"{ms / 1000 / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
