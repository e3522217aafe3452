"""Load with backpressure (not a test): many loopback clients against one `assetry serve`.

Phase 1, the mix: CLIENTS concurrent clients (default 100), each on its own keep-alive
connection, loop for SECONDS (default 60, and at most MAX_REQUESTS in all) over a mix of
uploads of a 12 MP photo (10%), GETs of ready versions (60%), listing pages (20%) and
galleries (10%). Expected: zero 5xx, zero reset connections; the p50/p99 of each kind.

Phase 2, saturation (a second server, background workers off): a burst of cold GETs
(versions made pending by a convert, on many images at once) beside a few uploads.
Expected: cold GETs beyond the render queue answer 503 with Retry-After at once (never
a pile-up, never a 500), and uploads still answer: they are served before on-demand
renders.

    .venv/bin/python bench/bench_load.py [--clients 100] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _harness import CORPUS, Client, RssSampler, Server, assetry_server, multipart, percentile

MAX_REQUESTS = 200_000


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.status: dict[str, Counter[int]] = {}
        self.resets = 0
        self.retry_after: list[int] = []

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)
            self.status.setdefault(kind, Counter())[status] += 1

    def report(self, title: str) -> dict[str, Any]:
        print(f"\n{title}")
        print(f"{'kind':14}{'n':>7}{'p50 ms':>9}{'p99 ms':>9}  statuses")
        out: dict[str, Any] = {}
        for kind in sorted(self.latency):
            lat = self.latency[kind]
            statuses = dict(sorted(self.status[kind].items()))
            out[kind] = {"n": len(lat), "p50_ms": percentile(lat, 50) * 1000,
                         "p99_ms": percentile(lat, 99) * 1000, "statuses": statuses}
            print(f"{kind:14}{len(lat):7}{percentile(lat, 50) * 1000:9.1f}"
                  f"{percentile(lat, 99) * 1000:9.1f}  {statuses}")
        fivexx = sum(n for c in self.status.values() for s, n in c.items()
                     if s >= 500 and s != 503)
        refused = sum(c.get(503, 0) for c in self.status.values())
        print(f"5xx other than 503: {fivexx}   503 (refused for capacity): {refused}   "
              f"reset or refused connections: {self.resets}")
        out["5xx"], out["503"], out["resets"] = fivexx, refused, self.resets
        return out


def seed(server: Server, photo: bytes, count: int) -> list[dict[str, Any]]:
    client = server.client()
    body, ctype = multipart("photo.jpg", photo, gallery="load")
    assets = []
    for _ in range(count):
        status, _, data = client.request("POST", "/api/pools/bench/assets", body,
                                         {"Content-Type": ctype})
        assert status == 201, data
        assets.append(json.loads(data))
    client.close()
    return assets


def timed(client: Client, tally: Tally, kind: str, method: str, path: str,
          body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    t0 = time.perf_counter()
    try:
        status, response_headers, _ = client.request(method, path, body, headers)
    except (ConnectionError, OSError):
        with tally.lock:
            tally.resets += 1
        return 0
    tally.add(kind, status, time.perf_counter() - t0)
    if status == 503 and "retry-after" in response_headers:
        with tally.lock:
            tally.retry_after.append(int(response_headers["retry-after"]))
    return status


def mix(server: Server, assets: list[dict[str, Any]], photo: bytes, clients: int,
        seconds: float) -> dict[str, Any]:
    tally = Tally()
    body, ctype = multipart("photo.jpg", photo)
    versions = [v["url"] for a in assets for v in a["versions"].values()]
    end = time.perf_counter() + seconds
    issued = [0]

    def loop(index: int) -> None:
        rng = random.Random(index)
        client = server.client()
        while time.perf_counter() < end:
            with tally.lock:
                if issued[0] >= MAX_REQUESTS:
                    break
                issued[0] += 1
            roll = rng.random()
            if roll < 0.10:
                timed(client, tally, "upload", "POST", "/api/pools/bench/assets", body,
                      {"Content-Type": ctype})
            elif roll < 0.70:
                timed(client, tally, "version GET", "GET", rng.choice(versions))
            elif roll < 0.90:
                timed(client, tally, "listing", "GET", "/api/pools/bench/assets?limit=50")
            else:
                timed(client, tally, "gallery", "GET", "/api/galleries/load")
        client.close()

    with RssSampler(server.proc.pid) as rss:
        threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elapsed = time.perf_counter() - started
    result = tally.report(f"phase 1: {clients} clients for {elapsed:.0f} s "
                          f"({sum(len(v) for v in tally.latency.values())} requests)")
    result["peak_rss_mb"] = rss.peak / 2**20
    print(f"peak RSS of the server tree: {rss.peak / 2**20:.0f} MB")
    return result


def saturation(server: Server, assets: list[dict[str, Any]], photo: bytes) -> dict[str, Any]:
    client = server.client()
    for a in assets:  # make every version pending again
        status, _ = client.json("POST", f"/api/assets/{a['id']}/convert", {})
        assert status == 200
    client.close()
    tally = Tally()
    body, ctype = multipart("photo.jpg", photo)

    def cold(url: str) -> None:
        c = server.client()
        timed(c, tally, "cold GET", "GET", url)
        c.close()

    def up() -> None:
        c = server.client()
        for _ in range(2):
            timed(c, tally, "upload", "POST", "/api/pools/bench/assets", body,
                  {"Content-Type": ctype})
        c.close()

    threads = [threading.Thread(target=cold, args=(a["versions"][name]["url"],))
               for a in assets for name in a["versions"]]
    threads += [threading.Thread(target=up) for _ in range(4)]
    random.Random(7).shuffle(threads)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = tally.report(f"phase 2: {len(threads) - 4} cold GETs at once beside 4 uploading "
                          "clients (2 uploads each)")
    if tally.retry_after:
        print(f"Retry-After given: {min(tally.retry_after)}..{max(tally.retry_after)} s")
    result["retry_after"] = sorted(set(tally.retry_after))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed-images", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    photo = (CORPUS / "photo_12mp.jpg").read_bytes()
    with assetry_server("load") as server:
        c = server.client()
        for path, payload in (("/api/pools/bench", {"asset_types": ["image"]}),):
            status, body = c.json("PUT", path, payload)
            assert status in (200, 201), body
        c.close()
        assets = seed(server, photo, args.seed_images)
        results = {"mix": mix(server, assets, photo, args.clients, args.seconds)}
    # Background workers off, so nothing but the burst itself renders the pending versions.
    with assetry_server("saturation", render_workers="0") as server:
        c = server.client()
        status, body = c.json("PUT", "/api/pools/bench", {"asset_types": ["image"]})
        assert status in (200, 201), body
        c.close()
        results["saturation"] = saturation(server, seed(server, photo, args.seed_images), photo)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
