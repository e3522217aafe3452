"""A fleet for end-to-end tests: `assetry serve` and `assetry worker` processes on one
PostgreSQL database and one S3 prefix, each with a data directory of its own (as if each
ran on its own host)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.postgres import create_database, drop_database, unique_name
from tests.support.seaweed import SeaweedServer
from tests.support.server import ServedProcess, spawn_server, stop_process, wait_serving
from tests.support.tokens import bearer, make_tokens


@dataclass
class WorkerProcess:
    """`assetry worker` in its own process; its output goes to `log`."""

    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class Fleet:
    root: Path
    database: str  #: postgresql:// URL of the fleet's database
    storage: str  #: s3:// URL of its bucket prefix
    admin: str  #: an admin token's secret
    stack: ExitStack = field(default_factory=ExitStack)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def settings(self, **extra: str) -> dict[str, str]:
        """The settings every process of the fleet shares, plus `extra`."""
        return {"database_url": self.database, "storage_url": self.storage,
                "url_signing_secret": "fleet-signing-secret-0123456789", **extra}

    def environ(self, data_dir: str, **extra: str) -> dict[str, str]:
        values = {"data_dir": str(self.root / data_dir), **self.settings(**extra)}
        return {**os.environ, **{f"ASSETRY_{k.upper()}": v for k, v in values.items()}}

    def servers(self, *names: str, wait: bool = True, **settings: str
                ) -> list[ServedProcess]:
        """Start `assetry serve` processes (one HTTP process each, no embedded workers
        unless told) and, with `wait`, wait until they serve and listen for notices.
        They are stopped with the fleet."""
        settings = {"processes": "1", "render_workers": "0", **settings}
        started = [spawn_server(self.root / name, log=self.root / f"{name}.log",
                                **self.settings(**settings)) for name in names]
        for served in started:
            self.stack.callback(stop_process, served.proc)
        if wait:
            self.ready(started, [])
        return started

    def workers(self, *names: str, wait: bool = True, **settings: str) -> list[WorkerProcess]:
        """Start `assetry worker` processes and, with `wait`, wait until they listen for
        notices (their services are open and they claim jobs). Stopped with the fleet."""
        started = []
        for name in names:
            log = self.root / f"{name}.log"
            with log.open("ab") as sink:
                proc = subprocess.Popen([sys.executable, "-m", "assetry", "worker"],
                                        env=self.environ(name, **settings),
                                        stdout=sink, stderr=subprocess.STDOUT)
            self.stack.callback(stop_process, proc)
            started.append(WorkerProcess(proc, log))
        if wait:
            self.ready([], started)
        return started

    def ready(self, servers: list[ServedProcess], workers: list[WorkerProcess]) -> None:
        """Wait until the servers answer /health and every process listens for notices."""
        for served in servers:
            wait_serving(served)
        for worker in workers:
            if worker.proc.poll() is not None:
                raise RuntimeError(f"assetry worker exited: {worker.log_tail()}")
        self.wait_listening(*(s.proc.pid for s in servers), *(w.pid for w in workers))

    def spawn_cli(self, *args: str) -> subprocess.Popen[str]:
        """Start an `assetry` command against the fleet's database and storage."""
        proc = subprocess.Popen([sys.executable, "-m", "assetry", *args],
                                env=self.environ(f"cli-{os.getpid()}-{time.monotonic_ns()}"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stack.callback(_reap, proc)
        return proc

    @staticmethod
    def finish_cli(proc: subprocess.Popen[str], timeout: float = 120
                   ) -> subprocess.CompletedProcess[str]:
        """Wait for a command started by spawn_cli; its exit status and output."""
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()  # type: ignore[arg-type]

    def wait_listening(self, *pids: int, timeout: float = 120) -> None:
        """Wait until each process has a session listening on the notice channel."""
        names = [f"assetry {pid} notices" for pid in pids]
        deadline = time.monotonic() + timeout
        while True:
            # The session exists only to listen (its last query is LISTEN, or the
            # keep-alive SELECT 1 once it has been quiet for a while).
            rows = self.sql("SELECT application_name FROM pg_stat_activity "
                            "WHERE datname = current_database() AND state = 'idle' "
                            "AND application_name = ANY(%(names)s)", names=names)
            if len(rows) == len(names):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not listening after {timeout} s: "
                                     f"{set(names) - {r[0] for r in rows}}")
            time.sleep(0.05)

    def client(self, served: ServedProcess) -> httpx.Client:
        client = httpx.Client(base_url=served.url, headers=bearer(self.admin), timeout=60)
        self.stack.callback(client.close)
        return client


@contextmanager
def fleet(root: Path, postgres: str, seaweed: SeaweedServer) -> Iterator[Fleet]:
    """A fresh database and bucket prefix, an admin token; every process started through
    the fleet is stopped (and the database dropped) on exit."""
    name = unique_name("assetry_fleet")
    database = create_database(postgres, name)
    storage = seaweed.url(unique_name("fleet"))
    try:
        admin = make_tokens(root / "tokens", {"admin": "admin"}, database_url=database,
                            storage_url=storage)["admin"]
        with Fleet(root, database, storage, admin) as opened:
            yield opened
    finally:
        drop_database(postgres, name)


def _reap(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
