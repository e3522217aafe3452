"""What the service benchmarks share: a real `assetry serve` process, an admin token, a
cheap HTTP client, and the resident memory of a whole process tree.

Not a test helper: benchmarks measure, they never pass or fail.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("ASSETRY_CORPUS", ROOT.parent / "shared" / "corpus"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1 that costs little CPU: bodies are
    prebuilt bytes and responses are read whole with http.client (no per-chunk Python)."""

    def __init__(self, port: int, token: str | None = None, timeout: float = 120) -> None:
        self._port, self._timeout = port, timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            try:
                self._conn.request(method, path, body=body,
                                   headers={**self._headers, **(headers or {})})
                response = self._conn.getresponse()
                data = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._conn.close()  # the server closed an idle keep-alive connection
                self._conn = http.client.HTTPConnection("127.0.0.1", self._port,
                                                        timeout=self._timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        status, _, data = self.request(method, path, body,
                                       {"Content-Type": "application/json"} if body else None)
        return status, json.loads(data) if data else None

    def close(self) -> None:
        self._conn.close()


def multipart(filename: str, data: bytes, **fields: str) -> tuple[bytes, str]:
    """A prebuilt multipart/form-data body with one `file` part; (body, content type)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                 .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        stack.extend(children.get(p, []))
    return found


def tree_pss(pid: int) -> int:
    """Proportional set size of `pid` and its descendants, in bytes: each page counted
    once across the tree (a page shared by two processes counts half in each), so the
    sum is what the service really occupies. Summing RSS counts shared pages (the
    libraries every worker maps) once per process."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants, summed (0 once it has gone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


@dataclass
class RssSampler:
    """Samples a process tree's summed RSS and PSS every `interval` seconds in a thread."""

    pid: int
    interval: float = 0.05
    samples: list[int] = field(default_factory=list)
    pss_samples: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(tree_rss(self.pid))
            self.pss_samples.append(tree_pss(self.pid))
            self._stop.wait(self.interval)

    @property
    def peak(self) -> int:
        return max(self.samples, default=0)

    @property
    def peak_pss(self) -> int:
        return max(self.pss_samples, default=0)


@dataclass
class Server:
    """A running `assetry serve` with its admin token."""

    proc: subprocess.Popen[bytes]
    port: int
    token: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Client:
        return Client(self.port, self.token)


@contextlib.contextmanager
def assetry_server(log_name: str = "serve", *, cpus: int | None = None, **env: str
                   ) -> Iterator[Server]:
    """`assetry serve` on a fresh data dir in a temporary folder, with settings from `env`
    (ASSETRY_ names without the prefix, e.g. RENDER_WORKERS="0"); removed afterwards.
    With `cpus`, the server and its processes may only run on the first `cpus` cores."""
    work = Path(tempfile.mkdtemp(prefix="assetry-bench-"))
    environ = {**os.environ, "ASSETRY_LOG_LEVEL": "warning",
               **{f"ASSETRY_{k.upper()}": v for k, v in env.items()}}
    data = work / "data"
    token = subprocess.run(
        [sys.executable, "-m", "assetry", "tokens", "create", "--role", "admin",
         "--data-dir", str(data)], capture_output=True, text=True, check=True, env=environ,
    ).stdout.strip()
    port = free_port()
    log = (work / f"{log_name}.log").open("wb")
    pin = ["taskset", "-c", f"0-{cpus - 1}"] if cpus else []
    proc = subprocess.Popen(
        [*pin, sys.executable, "-m", "assetry", "serve", "--port", str(port),
         "--data-dir", str(data)], env=environ, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, port, token, data)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if Client(port).request("GET", "/health")[0] == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("assetry serve did not start: "
                                   + (work / f"{log_name}.log").read_text()[-3000:])
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)
