"""`assetry serve` as its own process with its log in a file (never a pipe nobody reads,
which a chatty server would fill and then block on). For tests that must survive the
server crashing: a crash is a connection error here, not the end of the pytest process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.server import free_port


@dataclass
class ServedProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextmanager
def logged_server_process(data_dir: Path, log: Path, **env: str) -> Iterator[ServedProcess]:
    port = free_port()
    environ = {**os.environ, **{f"ASSETRY_{k.upper()}": v for k, v in env.items()}}
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assetry", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--data-dir", str(data_dir)],
            env=environ, stdout=sink, stderr=subprocess.STDOUT,
        )
    served = ServedProcess(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"assetry serve did not start: {served.log_tail()}")
            time.sleep(0.1)
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
