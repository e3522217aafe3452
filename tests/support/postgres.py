"""A real, throwaway PostgreSQL server (the system's initdb + pg_ctl) and databases on it."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql

#: Where Debian puts each major version's server binaries.
_DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"
#: initdb refuses to run as root; as root the cluster runs as this user.
_SERVER_USER = "postgres"
_STOP_TIMEOUT = 30


def postgres_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: $ASSETRY_TEST_PG_BINDIR, else the newest
    Debian major version, else wherever pg_ctl is on PATH. None when there is none."""
    candidates: list[Path] = []
    if configured := os.environ.get("ASSETRY_TEST_PG_BINDIR"):
        candidates.append(Path(configured))
    debian = Path("/").glob(_DEBIAN_BINDIRS.lstrip("/"))
    candidates += sorted(debian, key=_major_version, reverse=True)
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return bindir
    return None


def _major_version(bindir: Path) -> int:
    match = re.search(r"/(\d+)/bin$", str(bindir))
    return int(match.group(1)) if match else 0


@dataclass
class PostgresServer:
    """One running cluster: trust authentication, bound to 127.0.0.1 only."""

    bindir: Path
    directory: Path  #: holds data/, the log and the unix socket
    port: int
    started_in: float = 0.0  #: seconds from initdb to accepting connections

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> bool:
        """Start the cluster on `port`; False when it did not start (the log says why:
        another process may have taken the port)."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        data, log = str(self.directory / "data"), str(self.directory / "log")
        result = _run(self.bindir, ["pg_ctl", "-D", data, "-l", log, "-w", "-o", options,
                                    "start"], check=False)
        return result.returncode == 0

    def halt(self) -> None:
        """Fast shutdown (disconnects clients), keeping the cluster's files: `start`
        brings it back, with its data, on the same port."""
        if (self.directory / "data" / "postmaster.pid").exists():
            _run(
                self.bindir,
                [
                    "pg_ctl",
                    "-D",
                    str(self.directory / "data"),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(_STOP_TIMEOUT),
                    "stop",
                ],
                check=False,
            )

    def stop(self) -> None:
        """Fast shutdown, then remove the cluster's files."""
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def running_postgres(bindir: Path, *, attempts: int = 3) -> Iterator[PostgresServer]:
    """initdb a fresh cluster in a new directory under /tmp, start it on a free port,
    stop it and delete it afterwards. A start that fails (another process took the port
    meanwhile) is retried on a fresh port."""
    started = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="assetry-pg-"))
    try:
        _as_server_user_dir(directory)
        _run(
            bindir,
            [
                "initdb",
                "-D",
                str(directory / "data"),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )
        failure = ""
        for _ in range(attempts):
            server = PostgresServer(bindir=bindir, directory=directory, port=_free_port())
            if server.start():
                break
            failure = _tail(directory / "log")
        else:
            raise RuntimeError(f"PostgreSQL failed to start {attempts} times; last:\n{failure}")
        server.started_in = time.monotonic() - started
    except BaseException:
        PostgresServer(bindir=bindir, directory=directory, port=0).stop()
        raise
    try:
        yield server
    finally:
        server.stop()


def create_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """Create database `name` (a copy of `template`, if given) on the server of
    `admin_url`; return its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(statement)
    return database_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name`, disconnecting whoever is still connected to it."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_url(admin_url: str, name: str) -> str:
    """`admin_url` with its database replaced by `name`."""
    base, _, _ = admin_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid4().hex[:12]}"


def _run(bindir: Path, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [str(bindir / argv[0]), *argv[1:]]
    if os.geteuid() == 0:
        command = ["runuser", "-u", _SERVER_USER, "--", *command]
    result = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


def _as_server_user_dir(directory: Path) -> None:
    # As root, the cluster belongs to the postgres user, who must own its directory.
    if os.geteuid() == 0:
        user = pwd.getpwnam(_SERVER_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just now)."""
    return _free_port()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
