"""Ingest benchmark (not a test): HTTP upload until every version is ready, against bare
pyvips making the same versions, in the same run.

Workload (issue 6): upload a camera photo into a pool whose converter makes `1200x630`
and `300x300` cover crops (JPEG q80, progressive, metadata stripped), with 2 concurrent
clients, and count images until both versions are ready. The baseline is a bare pyvips
script making the same two versions from the same bytes with ONE shared shrink-on-load
decode, in 2 processes. Rounds are interleaved (ours, bare, ours, bare ...) and medians
compared, so machine noise hits both alike.

The service is a real `assetry serve` process with its defaults (every core); the client
costs little CPU (prebuilt multipart bodies, one keep-alive connection per client, reads
with http.client). Peak RSS is the whole server process tree's.

Sections (all by default):
  throughput  images/s and ratio to bare (of the medians; `paired`: the median of each
              round's ratio to the bare round after it; `same`: JPEG rows against a
              bare script that decodes at the service's shrink-on-load factor rather
              than libvips thumbnail's); upload latency and time-to-ready p50/p99
  latency     one client: an image upload vs the same bytes uploaded as a file
  cold        first GET of a pending version vs bare pyvips making that one version
  memory      8 concurrent 24 MP uploads: peak RSS, and RSS drift over 200 uploads

    .venv/bin/python bench/bench_ingest.py [--rounds 3] [--seconds 8] [--only throughput,cold]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvips
from _harness import (
    CORPUS,
    Client,
    RssSampler,
    Server,
    assetry_server,
    median,
    multipart,
    percentile,
    tree_pss,
    tree_rss,
)

BENCH_TARGETS = ((1200, 630), (300, 300))
DEFAULT_TARGETS = ((800, 800), (100, 100))  # the `default` converter
QUALITY = 80


@dataclass(frozen=True)
class Row:
    label: str
    file: str
    converter: str  #: "bench" (the issue's workload) or "default"

    @property
    def targets(self) -> tuple[tuple[int, int], ...]:
        return BENCH_TARGETS if self.converter == "bench" else DEFAULT_TARGETS


ROWS = (
    Row("12 MP JPEG", "photo_12mp.jpg", "bench"),
    Row("24 MP JPEG", "photo_24mp.jpg", "bench"),
    Row("3 MP PNG, alpha", "alpha_3mp.png", "bench"),
    Row("12 MP WebP", "photo_12mp.webp", "bench"),
    Row("12 MP HEIC", "photo_12mp.heic", "bench"),
    Row("12 MP JPEG, default converter", "photo_12mp.jpg", "default"),
)
BENCH_CONVERTER = {"versions": [
    {"name": f"v{w}x{h}", "width": w, "height": h, "fit": "cover", "format": "jpeg",
     "quality": QUALITY} for w, h in BENCH_TARGETS]}


# --- bare pyvips: what a competent script does, in worker processes -------------------

#: the shrink-on-load margin the service uses for JPEG (imaging/vips.py, jpeg_shrink),
#: for the `bare, same decode` column; spelled out here so the bare script stays bare
SERVICE_JPEG_MARGIN = 1.5


def _bare_decode(data: bytes, targets: tuple[tuple[int, int], ...], heic: bool,
                 same_decode: bool = False) -> pyvips.Image:
    if heic:
        import pillow_heif

        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        image = pyvips.Image.new_from_memory(heif.data, *heif.size, len(heif.mode), "uchar")
        source_w, source_h = heif.size
    else:
        image = None
        header = pyvips.Image.new_from_buffer(data, "")
        source_w, source_h = header.width, header.height
        if header.get_typeof("orientation") and header.get("orientation") >= 5:
            source_w, source_h = source_h, source_w
    # the largest version's cover scale: the one resolution that serves every version
    scale = min(1.0, max(max(w / source_w, h / source_h) for w, h in targets))
    width, height = max(1, round(source_w * scale)), max(1, round(source_h * scale))
    if image is not None:
        return image.thumbnail_image(width, height=height).copy_memory()
    if same_decode and header.get("vips-loader") == "jpegload_buffer":
        # libvips' thumbnail leaves a factor of 2 for its resize; the service leaves 1.5
        need = min(source_w / width, source_h / height)
        factor = next((f for f in (8, 4, 2) if need / f >= SERVICE_JPEG_MARGIN), 1)
        return pyvips.Image.new_from_buffer(data, "", shrink=factor).thumbnail_image(
            width, height=height).copy_memory()
    return pyvips.Image.thumbnail_buffer(data, width, height=height).copy_memory()


def bare_render(data: bytes, targets: tuple[tuple[int, int], ...], heic: bool,
                same_decode: bool = False) -> int:
    """Both versions from one shared shrink-on-load decode; returns the bytes written.
    `same_decode`: a JPEG is decoded at the factor the service picks."""
    decoded = _bare_decode(data, targets, heic, same_decode)
    total = 0
    for w, h in targets:
        image = decoded.thumbnail_image(w, height=h, crop="centre")
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        total += len(image.jpegsave_buffer(Q=QUALITY, interlace=True, keep="none"))
    return total


_DATA: dict[str, bytes] = {}


def _bare_init(files: list[str], cpus: int | None = None) -> None:
    if cpus:
        os.sched_setaffinity(0, range(cpus))
    pyvips.cache_set_max(0)
    for name in files:
        _DATA[name] = (CORPUS / name).read_bytes()


def _bare_loop(args: tuple[Row, float, bool]) -> int:
    row, seconds, same_decode = args
    data, count = _DATA[row.file], 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        bare_render(data, row.targets, row.file.endswith(".heic"), same_decode)
        count += 1
    return count


def bare_throughput(pool: Any, row: Row, seconds: float, procs: int,
                    same_decode: bool = False) -> float:
    """Images per second of `procs` bare processes rendering for `seconds`."""
    started = time.perf_counter()
    counts = pool.map(_bare_loop, [(row, seconds, same_decode)] * procs)
    return sum(counts) / (time.perf_counter() - started)


def _bare_one(args: tuple[str, int, int]) -> float:
    """Seconds bare pyvips takes to make one version from a file."""
    path, w, h = args
    t0 = time.perf_counter()
    image = pyvips.Image.thumbnail(path, w, height=h, crop="centre")
    image.jpegsave_buffer(Q=QUALITY, interlace=True, keep="none")
    return time.perf_counter() - t0


# --- ours: HTTP uploads until ready ----------------------------------------------------

@dataclass
class Uploads:
    latencies: list[float] = field(default_factory=list)  #: upload request, seconds
    ready: list[float] = field(default_factory=list)  #: upload start to all versions ready
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.ready) / self.elapsed if self.elapsed else 0.0


def upload_until_ready(client: Client, body: bytes, ctype: str, pool: str,
                       out: Uploads, lock: threading.Lock) -> None:
    t0 = time.perf_counter()
    status, _, data = client.request("POST", f"/api/pools/{pool}/assets", body,
                                     {"Content-Type": ctype})
    t1 = time.perf_counter()
    if status != 201:
        with lock:
            out.errors.append(f"{status}: {data[:200]!r}")
        return
    asset = json.loads(data)
    deadline = t0 + 120
    while any(v["status"] == "pending" for v in asset["versions"].values()):
        if time.perf_counter() > deadline:
            with lock:
                out.errors.append(f"asset {asset['id']} not ready after 120 s")
            return
        time.sleep(0.005)
        asset = client.json("GET", f"/api/assets/{asset['id']}")[1]
    failed = [n for n, v in asset["versions"].items() if v["status"] != "ready"]
    with lock:
        if failed:
            out.errors.append(f"versions {failed} failed")
        else:
            out.latencies.append(t1 - t0)
            out.ready.append(time.perf_counter() - t0)


def run_clients(server: Server, body: bytes, ctype: str, pool: str, clients: int,
                seconds: float, max_uploads: int = 10_000) -> Uploads:
    """`clients` threads upload for `seconds` (and at most `max_uploads` in all)."""
    out, lock = Uploads(), threading.Lock()
    started = time.perf_counter()
    end = started + seconds
    issued = [0]

    def loop() -> None:
        client = server.client()
        try:
            while time.perf_counter() < end:
                with lock:
                    if issued[0] >= max_uploads:
                        return
                    issued[0] += 1
                upload_until_ready(client, body, ctype, pool, out, lock)
        finally:
            client.close()

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.elapsed = time.perf_counter() - started
    return out


def prepare(server: Server) -> None:
    client = server.client()
    status, body = client.json("PUT", "/api/converters/bench", BENCH_CONVERTER)
    assert status in (200, 201), body
    for name in ("bench", "dflt"):
        status, body = client.json("PUT", f"/api/pools/{name}", {
            "converter": "bench" if name == "bench" else "default",
            "asset_types": ["image", "file"]})
        assert status in (200, 201), body
    client.close()


def pool_for(row: Row) -> str:
    return "bench" if row.converter == "bench" else "dflt"


# --- sections --------------------------------------------------------------------------

def throughput(server: Server, rows: list[Row], rounds: int, seconds: float,
               results: dict[str, Any], cpus: int | None = None) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = cpus or os.cpu_count() or 2
    bodies = {row: multipart(row.file, (CORPUS / row.file).read_bytes()) for row in rows}
    with ctx.Pool(procs, initializer=_bare_init,
                  initargs=(sorted({r.file for r in rows}), cpus)) as pool:
        for row in rows:  # warm-up: both sides, every row
            bare_throughput(pool, row, 1.0, procs)
            run_clients(server, *bodies[row], pool_for(row), 2, 1.0)
        ours: dict[Row, list[Uploads]] = {row: [] for row in rows}
        bare: dict[Row, list[float]] = {row: [] for row in rows}
        # JPEG rows also against a bare script decoding at the service's own factor
        same: dict[Row, list[float]] = {row: [] for row in rows if row.file.endswith(".jpg")}
        with RssSampler(server.proc.pid) as rss:
            for r in range(rounds):
                for row in rows:
                    ours[row].append(run_clients(server, *bodies[row], pool_for(row), 2, seconds))
                    bare[row].append(bare_throughput(pool, row, seconds, procs))
                    if row in same:
                        same[row].append(bare_throughput(pool, row, seconds, procs, True))
                    print(f"  round {r + 1} {row.label}: ours {ours[row][-1].rate:.2f}/s, "
                          f"bare {bare[row][-1]:.2f}/s"
                          + (f", bare same decode {same[row][-1]:.2f}/s" if row in same
                             else ""), flush=True)
    print(f"\nthroughput: 2 upload clients vs bare pyvips in {procs} processes, "
          f"{rounds} interleaved rounds of {seconds:g} s; median of rounds\n")
    print(f"{'row':32}{'ours img/s':>11}{'bare img/s':>11}{'ratio':>7}{'paired':>7}"
          f"{'same':>7}{'upl p50':>9}{'upl p99':>9}{'rdy p50':>9}{'rdy p99':>9}{'errors':>7}")
    for row in rows:
        rate = median([u.rate for u in ours[row]])
        base = median(bare[row])
        # Each of our rounds against the bare round right after it: a machine that
        # speeds up or slows down during the run moves both alike.
        paired = median([u.rate / b for u, b in zip(ours[row], bare[row], strict=True)])
        # against bare pyvips decoding a JPEG at the factor the service picks
        vs_same = rate / median(same[row]) if row in same else None
        lat = [x for u in ours[row] for x in u.latencies]
        rdy = [x for u in ours[row] for x in u.ready]
        errors = [e for u in ours[row] for e in u.errors]
        results["throughput"][row.label] = {
            "ours_images_per_s": rate, "bare_images_per_s": base, "ratio": rate / base,
            "paired_ratio": paired, "same_decode_ratio": vs_same,
            "rounds_bare_same_decode": same.get(row),
            "rounds_ours": [u.rate for u in ours[row]], "rounds_bare": bare[row],
            "upload_p50_ms": percentile(lat, 50) * 1000,
            "upload_p99_ms": percentile(lat, 99) * 1000,
            "ready_p50_ms": percentile(rdy, 50) * 1000, "ready_p99_ms": percentile(rdy, 99) * 1000,
            "errors": errors[:5], "error_count": len(errors)}
        print(f"{row.label:32}{rate:11.2f}{base:11.2f}{rate / base:7.2f}{paired:7.2f}"
              + (f"{vs_same:7.2f}" if vs_same is not None else f"{'-':>7}") +
              f"{percentile(lat, 50) * 1000:9.0f}{percentile(lat, 99) * 1000:9.0f}"
              f"{percentile(rdy, 50) * 1000:9.0f}{percentile(rdy, 99) * 1000:9.0f}{len(errors):7}")
        for e in errors[:3]:
            print(f"    error: {e}")
    results["throughput_peak_rss_mb"] = rss.peak / 2**20
    results["throughput_peak_pss_mb"] = rss.peak_pss / 2**20
    print(f"\npeak memory of the server tree during the throughput rounds: PSS "
          f"{rss.peak_pss / 2**20:.0f} MB, summed RSS {rss.peak / 2**20:.0f} MB"
          f"  (latencies in ms; 'rdy' = upload start until every version is ready)")


def latency(server: Server, rounds: int, results: dict[str, Any]) -> None:
    data = (CORPUS / "photo_12mp.jpg").read_bytes()
    image_body = multipart("photo.jpg", data)
    file_body = multipart("photo.jpg", data, type="file")
    times: dict[str, list[float]] = {"image": [], "file": []}
    client = server.client()
    for _ in range(rounds * 5 + 1):
        for kind, (body, ctype) in (("image", image_body), ("file", file_body)):
            t0 = time.perf_counter()
            status, _, _ = client.request("POST", "/api/pools/bench/assets", body,
                                          {"Content-Type": ctype})
            assert status == 201, status
            times[kind].append(time.perf_counter() - t0)
    client.close()
    image, file = median(times["image"][1:]), median(times["file"][1:])
    results["latency"] = {"image_upload_ms": image * 1000, "file_upload_ms": file * 1000,
                          "ratio": image / file}
    print(f"\nsequential 12 MP upload, one client: as an image {image * 1000:.0f} ms "
          f"(versions included), as a file {file * 1000:.0f} ms: {image / file:.2f}x")


def cold(rounds: int, results: dict[str, Any]) -> None:
    """First GET of a pending version, on a server whose background workers are off so
    nothing renders the version before the GET asks for it."""
    path = str(CORPUS / "photo_12mp.jpg")
    body = multipart("photo.jpg", Path(path).read_bytes())
    with assetry_server("cold", render_workers="0") as server:
        prepare(server)
        client = server.client()
        status, _, data = client.request("POST", "/api/pools/bench/assets", *body[:1],
                                         {"Content-Type": body[1]})
        assert status == 201, data
        asset_id = json.loads(data)["id"]
        ours: dict[str, list[float]] = {}
        bare: dict[str, list[float]] = {}
        for i in range(rounds * 5 + 1):
            status, asset = client.json("POST", f"/api/assets/{asset_id}/convert",
                                        {"converter": "bench"})
            assert status == 200, asset
            for w, h in BENCH_TARGETS:
                name = f"v{w}x{h}"
                assert asset["versions"][name]["status"] == "pending"
                t0 = time.perf_counter()
                status, _, _ = client.request("GET", f"/api/assets/{asset_id}/versions/{name}")
                elapsed = time.perf_counter() - t0
                assert status == 200, status
                b = _bare_one((path, w, h))
                if i:  # the first is a warm-up
                    ours.setdefault(name, []).append(elapsed)
                    bare.setdefault(name, []).append(b)
        client.close()
    print("\ncold on-demand: first GET of a pending version vs bare pyvips making that "
          "version from the file (one process, interleaved)")
    results["cold"] = {}
    for name in ours:
        o, b = median(ours[name]), median(bare[name])
        results["cold"][name] = {"ours_ms": o * 1000, "bare_ms": b * 1000, "ratio": o / b}
        print(f"  {name:10} ours {o * 1000:6.0f} ms   bare {b * 1000:6.0f} ms   {o / b:5.2f}x")


def memory(server: Server, results: dict[str, Any], uploads: int = 200,
           batch: int = 20) -> None:
    """8 concurrent 24 MP uploads, `uploads` in all, in batches of `batch`: the peak of
    the server tree's memory, and its memory at rest after each batch (flat = no leak)."""
    body = multipart("photo.jpg", (CORPUS / "photo_24mp.jpg").read_bytes())
    rest_rss: list[int] = []
    rest_pss: list[int] = []
    idle_rss, idle_pss = tree_rss(server.proc.pid), tree_pss(server.proc.pid)
    started = time.perf_counter()
    ready = errors = 0
    with RssSampler(server.proc.pid) as rss:
        for _ in range(uploads // batch):
            out = run_clients(server, *body, "bench", 8, 600, max_uploads=batch)
            ready, errors = ready + len(out.ready), errors + len(out.errors)
            time.sleep(1.0)  # at rest: past the heap trim's idle half second (process.py)
            rest_rss.append(tree_rss(server.proc.pid))
            rest_pss.append(tree_pss(server.proc.pid))
    elapsed = time.perf_counter() - started
    drift = (rest_pss[-1] - rest_pss[0]) / rest_pss[0]
    mb = 2**20
    results["memory"] = {
        "uploads": ready, "errors": errors, "seconds": elapsed,
        "idle_rss_mb": idle_rss / mb, "idle_pss_mb": idle_pss / mb,
        "peak_rss_mb": rss.peak / mb, "peak_pss_mb": rss.peak_pss / mb,
        "rest_pss_mb": [x / mb for x in rest_pss], "rest_rss_mb": [x / mb for x in rest_rss],
        "drift_first_to_last_batch": drift}
    print(f"\nmemory: {ready} 24 MP uploads by 8 concurrent clients in {elapsed:.0f} s "
          f"({errors} errors), batches of {batch}")
    print(f"  server tree PSS (each page once): idle {idle_pss / mb:.0f} MB, "
          f"peak {rss.peak_pss / mb:.0f} MB")
    print(f"  server tree RSS summed (shared pages once per process): idle {idle_rss / mb:.0f}"
          f" MB, peak {rss.peak / mb:.0f} MB")
    print("  PSS at rest after each batch (MB): "
          + " ".join(f"{x / mb:.0f}" for x in rest_pss)
          + f"  (first to last {drift * 100:+.1f}%)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--only", default="throughput,latency,cold,memory")
    parser.add_argument("--rows", default="", help="labels' first words, e.g. '12,24'")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--cpus", type=int, help="pin the server and the bare processes to "
                        "the first N cores (and run N of each): how it scales")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS} (set ASSETRY_CORPUS)", file=sys.stderr)
        return 2
    rows = [r for r in ROWS if not args.rows or any(r.label.startswith(p + " ")
                                                     or r.label.startswith(p)
                                                     for p in args.rows.split(","))]
    sections = set(args.only.split(","))
    print(f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}, "
          f"pyvips {pyvips.__version__}, {os.cpu_count()} cpus, Python {sys.version.split()[0]}")
    results: dict[str, Any] = {"throughput": {}}
    steps: list[tuple[str, Callable[[Server], None]]] = [
        ("throughput", lambda s: throughput(s, rows, args.rounds, args.seconds, results,
                                            args.cpus)),
        ("latency", lambda s: latency(s, args.rounds, results)),
    ]
    pinned = {"processes": str(args.cpus)} if args.cpus else {}
    with assetry_server(cpus=args.cpus, **pinned) as server:
        prepare(server)
        for name, step in steps:
            if name in sections:
                step(server)
    if "memory" in sections:
        with assetry_server("memory") as server:  # a fresh server: its RSS has no history
            prepare(server)
            memory(server, results)
    if "cold" in sections:
        cold(args.rounds, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
