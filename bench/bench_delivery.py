"""Delivery benchmark: Assetry serving a stored 30 KB image vs bare Starlette FileResponse.

Both run as one uvicorn worker (uvloop, httptools) on 127.0.0.1, and again as two
worker processes each (Assetry's default on this 2-core machine: one per core); wrk
(Debian package `wrk`) drives 8 keep-alive connections for a few seconds per round;
rounds are interleaved and the medians compared, so machine noise hits both alike.

With nginx installed (Debian `nginx-light`), one more pair: Assetry with
ASSETRY_DELIVERY=accel behind nginx (the server block of docs/deployment.md; Assetry
checks, nginx sends the file), against the same nginx serving the same file statically.

    .venv/bin/python bench/bench_delivery.py [--rounds 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))  # the nginx runner the accel tests use

from tests.support.nginx import documented_block, nginx_binary, running_nginx  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def wrk(url: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests per second, p50 latency in ms) from one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    assert p50 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return rps, float(p50.group(1)) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    source = CORPUS / "thumb_300.jpg"
    work = Path(tempfile.mkdtemp(prefix="assetry-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    front = contextlib.ExitStack()
    env = {**os.environ, "ASSETRY_RENDER_WORKERS": "0", "ASSETRY_LOG_LEVEL": "warning",
           "ASSETRY_PROCESSES": "1"}
    try:
        data = work / "data"
        token = subprocess.run(
            [sys.executable, "-m", "assetry", "tokens", "create", "--role", "admin",
             "--data-dir", str(data)], capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()
        ours_port, bare_port = free_port(), free_port()
        ours2_port, bare2_port = free_port(), free_port()
        accel_port = free_port()
        for port, processes, delivery in ((ours_port, "1", "stream"), (ours2_port, "2", "stream"),
                                          (accel_port, "1", "accel")):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "assetry", "serve", "--port", str(port),
                 "--data-dir", str(data), "--processes", processes],
                env={**env, "ASSETRY_DELIVERY": delivery}, stderr=subprocess.DEVNULL))
        for port, workers in ((bare_port, "1"), (bare2_port, "2")):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "_bare_starlette:app", "--port", str(port),
                 "--log-level", "warning", "--no-server-header", "--workers", workers],
                cwd=Path(__file__).parent, env={**env, "BENCH_FILE": str(source)}))
        ours = f"http://127.0.0.1:{ours_port}"
        ours2 = f"http://127.0.0.1:{ours2_port}"
        bare = f"http://127.0.0.1:{bare_port}/file"
        bare2 = f"http://127.0.0.1:{bare2_port}/file"
        for url in (f"{ours}/health", f"{ours2}/health", bare, bare2):
            wait_up(url)
        asset = httpx.post(f"{ours}/api/pools/default/assets?wait=true",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"file": ("thumb.jpg", source.read_bytes())}, timeout=60).json()
        thumbnail = asset["versions"]["thumbnail"]["url"]
        targets = {
            "bare Starlette FileResponse": bare,
            "assetry original (content)": f"{ours}{asset['content_url']}",
            "assetry version (thumbnail)": f"{ours}{thumbnail}",
            "bare Starlette, 2 workers": bare2,
            "assetry version, 2 processes": f"{ours2}{thumbnail}",
        }
        if (nginx := nginx_binary()) is not None:
            accel = f"http://127.0.0.1:{accel_port}"
            wait_up(f"{accel}/health")
            internal = httpx.get(f"{accel}{thumbnail}").headers["x-accel-redirect"]
            blob = data / "blobs" / internal.removeprefix("/_assetry_blobs/")
            nginx_url = front.enter_context(_nginx(nginx, accel_port, data, blob))
            targets["nginx static file"] = f"{nginx_url}/static"
            targets["assetry version, accel"] = f"{nginx_url}{thumbnail}"
        else:
            print("nginx is missing (apt-get install nginx-light): no accel row")
        for url in targets.values():  # warm up, and check every target answers 200
            assert httpx.get(url).status_code == 200, url
            wrk(url, 1, args.connections)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                results[name].append(wrk(url, args.seconds, args.connections))
        base1 = statistics.median(r for r, _ in results["bare Starlette FileResponse"])
        base2 = statistics.median(r for r, _ in results["bare Starlette, 2 workers"])
        static = statistics.median(r for r, _ in results.get("nginx static file", [(1, 0)]))
        print(f"{source.name} ({source.stat().st_size} bytes), "
              f"wrk -t1 -c{args.connections} -d{args.seconds}s, {args.rounds} interleaved rounds;"
              " 'vs bare' compares the same number of processes; the accel row is compared"
              " with the same nginx serving the file statically")
        print(f"{'target':32} {'req/s (median)':>15} {'min-max':>13} {'p50 ms':>8} {'vs bare':>8}")
        summary = {}
        for name, runs in results.items():
            base = static if "nginx" in name or "accel" in name else (
                base2 if "2 " in name else base1)
            rps = statistics.median(r for r, _ in runs)
            p50 = statistics.median(p for _, p in runs)
            low, high = min(r for r, _ in runs), max(r for r, _ in runs)
            summary[name] = {"rps": rps, "p50_ms": p50, "ratio": rps / base,
                             "rps_min": low, "rps_max": high}
            spread = f"{low:.0f}-{high:.0f}"
            print(f"{name:32} {rps:15.0f} {spread:>13} {p50:8.2f} {rps / base:8.2f}")
        (work / "result.json").write_text(json.dumps(summary, indent=2))
    finally:
        front.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _nginx(binary: Path, assetry_port: int, data: Path, blob: Path) -> Iterator[str]:
    """nginx with the documented accel server block in front of Assetry, plus /static:
    the same version file served by nginx alone."""
    port = free_port()
    block = (documented_block()
             .replace("listen 80;", f"listen 127.0.0.1:{port};")
             .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{assetry_port};")
             .replace("alias /srv/assetry/data/blobs/;", f"alias {data / 'blobs'}/;")
             .replace("    location / {", "    location = /static {\n"
                      f"        alias {blob};\n        default_type image/jpeg;\n    }}\n\n"
                      "    location / {", 1))
    with running_nginx(binary, block, port=port) as nginx:
        yield nginx.url


if __name__ == "__main__":
    main()
