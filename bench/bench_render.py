"""Render benchmark (not a test): VipsProcessor against bare pyvips on the corpus photos.

One "image" = two derivatives of one source, 1200x630 and 300x300, cover + centre crop,
JPEG q80, metadata stripped (the workload of docs/performance-anchors.md). Pipelines:

  ours         VipsProcessor.render: one shrink-on-load decode, both versions from it
  bare-each    pyvips thumbnail_buffer once per derivative
  bare-once    pyvips, one thumbnail_buffer decode shared by both derivatives
  bare-once-p  bare-once with progressive JPEG, as ours writes (isolates the encoder cost)

3 interleaved rounds; in each, every pipeline runs up to N iterations within a time
budget. Medians are over every iteration of every round. Compare ratios from one run,
never absolute figures from different machines or runs.

Run: python bench/bench_render.py   (with assetry installed, or PYTHONPATH=src)
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pyvips

from assetry.domain.converter import VersionSpec
from assetry.domain.geometry import Size, decode_scale, plan
from assetry.domain.ports import Rendered, RenderRequest
from assetry.imaging.vips import VipsProcessor

CORPUS = Path(os.environ.get("ASSETRY_CORPUS",
                             Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"))
FILES = ("photo_12mp.jpg", "photo_24mp.jpg")
TARGETS = ((1200, 630), (300, 300))
QUALITY = 80
ROUNDS = 3
MAX_ITERATIONS = 10
BUDGET_SECONDS = 2.0  # per pipeline per round per file: keeps the whole run near a minute

Pipeline = Callable[[bytes], int]


def ours(processor: VipsProcessor, source: Size, path: Path) -> Pipeline:
    plans = [plan(source, VersionSpec(name=f"v{w}", width=w, height=h)) for w, h in TARGETS]
    requests = [RenderRequest(uuid4(), p, "jpeg", QUALITY) for p in plans]
    scale = decode_scale(plans)

    def run(data: bytes) -> int:  # the processor decodes the file, as the service does
        return sum(len(r.data) for r in processor.render(path, "image/jpeg", requests, scale)
                   if isinstance(r, Rendered))

    return run


def bare_each(data: bytes) -> int:
    total = 0
    for w, h in TARGETS:
        image = pyvips.Image.thumbnail_buffer(data, w, height=h, crop="centre")
        total += len(image.jpegsave_buffer(Q=QUALITY, keep="none"))
    return total


def bare_once(source: Size, *, progressive: bool) -> Pipeline:
    # the largest version's cover scale is the one resolution that serves both
    scale = max(max(w / source.width, h / source.height) for w, h in TARGETS)
    width, height = round(source.width * scale), round(source.height * scale)

    def run(data: bytes) -> int:
        decoded = pyvips.Image.thumbnail_buffer(data, width, height=height).copy_memory()
        total = 0
        for w, h in TARGETS:
            image = decoded.thumbnail_image(w, height=h, crop="centre")
            total += len(image.jpegsave_buffer(Q=QUALITY, interlace=progressive, keep="none"))
        return total

    return run


def main() -> int:
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS.resolve()} (set ASSETRY_CORPUS)", file=sys.stderr)
        return 2
    processor = VipsProcessor()
    print(f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, "
          f"pyvips {pyvips.__version__}, vips threads {pyvips.concurrency_get()}, "
          f"cpus {os.cpu_count()}, op cache max {pyvips.cache_get_max()}")
    print(f"{ROUNDS} interleaved rounds, <= {MAX_ITERATIONS} iterations "
          f"or {BUDGET_SECONDS:.0f} s per pipeline per round\n")
    inputs: dict[str, tuple[bytes, dict[str, Pipeline]]] = {}
    for name in FILES:
        data = (CORPUS / name).read_bytes()
        header = pyvips.Image.new_from_buffer(data, "")
        source = Size(header.width, header.height)
        inputs[name] = (data, {
            "ours": ours(processor, source, CORPUS / name),
            "bare-each": bare_each,
            "bare-once": bare_once(source, progressive=False),
            "bare-once-p": bare_once(source, progressive=True),
        })
    times: dict[tuple[str, str], list[float]] = {}
    for data, pipelines in inputs.values():  # warm-up: libraries, caches, page faults
        for run in pipelines.values():
            run(data)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for name, (data, pipelines) in inputs.items():
            for label, run in pipelines.items():
                spent, samples = 0.0, times.setdefault((name, label), [])
                for _ in range(MAX_ITERATIONS):
                    t0 = time.perf_counter()
                    run(data)
                    samples.append(time.perf_counter() - t0)
                    spent += samples[-1]
                    if spent >= BUDGET_SECONDS:
                        break
    elapsed = time.perf_counter() - started

    print(f"{'file':<16}{'pipeline':<13}{'images/s':>9}{'ms/image':>10}{'n':>4}"
          f"{'ours/this':>11}")
    for name, (_, pipelines) in inputs.items():
        ours_median = statistics.median(times[(name, "ours")])
        for label in pipelines:
            samples = times[(name, label)]
            median = statistics.median(samples)
            print(f"{name:<16}{label:<13}{1 / median:>9.2f}{median * 1000:>10.1f}"
                  f"{len(samples):>4}{median / ours_median:>10.2f}x")
        print()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print("ours/this = this pipeline's time over ours (> 1: ours is faster)")
    print(f"peak RSS of the whole run: {peak_mb:.0f} MB; measured for {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
