"""A real Assetry HTTP server for tests: uvicorn on 127.0.0.1 in a thread, or a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from assetry.config import Settings
from assetry.domain.ports import Fetcher
from assetry.web.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(data_dir: Path, *, fetcher: Fetcher | None = None, **settings: Any
                ) -> Iterator[str]:
    """Serve the real app on 127.0.0.1 in a background thread; yield its base URL."""
    port = free_port()
    app = create_app(Settings(data_dir=data_dir, **settings), fetcher=fetcher)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def server_process(data_dir: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `assetry serve` as its own process (for crash and restart tests)."""
    port = free_port()
    environ = {**os.environ, **{f"ASSETRY_{k.upper()}": v for k, v in env.items()}}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assetry", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir)],
        env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"assetry serve did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def admin_client(data_dir: Path, *, fetcher: Fetcher | None = None, **settings: Any
                 ) -> Iterator[httpx.Client]:
    """A live server on `data_dir` and an admin's client for it."""
    from tests.support.tokens import bearer, make_tokens

    secret = make_tokens(data_dir, {"admin": "admin"})["admin"]
    with live_server(data_dir, fetcher=fetcher, **settings) as url, \
            httpx.Client(base_url=url, headers=bearer(secret), timeout=60) as client:
        yield client
