"""A real Assetry HTTP server for tests: uvicorn on 127.0.0.1 in a thread, or a subprocess."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from assetry.bootstrap import open_services
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
def live_twins(data_dir: Path, *variants: dict[str, Any], **settings: Any) -> Iterator[list[str]]:
    """Several apps built by create_app(services=..., **variant) over one set of services,
    each served by uvicorn on its own port of 127.0.0.1, all in one event loop on a
    background thread (the services belong to one loop); yield their base URLs, in the
    order of `variants`. What one app changes the others see at once (one database, one
    delivery cache), so their answers to the same request can be compared."""
    ports = [free_port() for _ in variants]
    started = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with open_services(Settings(data_dir=data_dir, **settings)) as services:
            servers = [uvicorn.Server(uvicorn.Config(
                create_app(services=services, **variant), host="127.0.0.1", port=port,
                log_level="warning", lifespan="on")) for variant, port in zip(variants, ports,
                                                                                strict=True)]
            tasks = [asyncio.create_task(server.serve()) for server in servers]
            while not all(server.started for server in servers):
                if any(task.done() for task in tasks):
                    raise RuntimeError("a test server did not start")
                await asyncio.sleep(0.02)
            started.set()
            await stop.wait()
            for server in servers:
                server.should_exit = True
            await asyncio.gather(*tasks)

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:
            failure.append(exc)
        finally:
            started.set()
            loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(timeout=60)
    if failure or not started.is_set():
        raise RuntimeError("the test servers did not start") from (failure or [None])[0]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        if thread.is_alive():
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


@dataclass
class ServedProcess:
    """`assetry serve` in its own process; its output goes to `log`."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextmanager
def server_process(data_dir: Path, *, log: Path | None = None, **env: str
                   ) -> Iterator[ServedProcess]:
    """Run `assetry serve` as its own process (for crash, restart and first-start tests).

    Its output goes to a file, never a pipe nobody reads (a chatty server would fill the
    pipe and block); a crash is a connection error here, not the end of pytest."""
    served = spawn_server(data_dir, log=log, **env)
    try:
        wait_serving(served)
        yield served
    finally:
        stop_process(served.proc)


def spawn_server(data_dir: Path, *, log: Path | None = None, **env: str) -> ServedProcess:
    """Start `assetry serve` on a free port without waiting for it (see wait_serving)."""
    port = free_port()
    log = log or data_dir.parent / f"{data_dir.name}-serve.log"
    environ = {**os.environ, **{f"ASSETRY_{k.upper()}": v for k, v in env.items()}}
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assetry", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--data-dir", str(data_dir)],
            env=environ, stdout=sink, stderr=subprocess.STDOUT,
        )
    return ServedProcess(f"http://127.0.0.1:{port}", proc, log)


def wait_serving(served: ServedProcess, timeout: float = 120) -> None:
    """Return once the server's /health answers 200; raise if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if served.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"assetry serve did not start: {served.log_tail()}")
        time.sleep(0.1)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def admin_client(data_dir: Path, *, fetcher: Fetcher | None = None, **settings: Any
                 ) -> Iterator[httpx.Client]:
    """A live server on `data_dir` and an admin's client for it."""
    from tests.support.tokens import bearer, make_tokens

    secret = make_tokens(data_dir, {"admin": "admin"}, **settings)["admin"]
    with live_server(data_dir, fetcher=fetcher, **settings) as url, \
            httpx.Client(base_url=url, headers=bearer(secret), timeout=60) as client:
        yield client
