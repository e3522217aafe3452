"""`assetry serve` uses every core: one worker process per core under a supervisor that
migrated first; workers never outlive it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.e2e.test_upload import upload
from tests.support.images import solid
from tests.support.server import server_process
from tests.support.tokens import bearer, make_tokens


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def workers(pid: int) -> list[int]:
    """The uvicorn worker processes (spawned interpreters running spawn_main)."""
    return [c for c in children(pid)
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_serve_runs_one_worker_per_process_setting_and_they_die_with_it(tmp_path: Path) -> None:
    auth = bearer(make_tokens(tmp_path, {"admin": "admin"})["admin"])
    with server_process(tmp_path, processes="2") as served, \
            httpx.Client(base_url=served.url, headers=auth, timeout=60) as c:
        pids = workers(served.proc.pid)
        assert len(pids) == 2, pids
        # Both serve the same data: what one stored, any connection reads back.
        bodies = [upload(c, solid(400, 300)).json() for _ in range(4)]
        for body in bodies:
            with httpx.Client(base_url=served.url, headers=auth) as fresh:
                assert fresh.get(body["versions"]["thumbnail"]["url"]).status_code == 200
        served.proc.send_signal(signal.SIGKILL)  # no chance to stop its workers itself
        served.proc.wait()
        deadline = time.monotonic() + 20
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if alive(p)], "workers outlived their supervisor"


def test_default_is_one_process_per_core(tmp_path: Path) -> None:
    cores = os.cpu_count() or 1
    with server_process(tmp_path) as served:
        # On one core the supervisor serves by itself, with no worker processes.
        assert len(workers(served.proc.pid)) == (cores if cores > 1 else 0)
