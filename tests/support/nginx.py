"""A real nginx (Debian's nginx-light) on 127.0.0.1 for tests, with a server block of
our choosing; everything it writes stays in a directory of its own."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_READY_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]


def nginx_binary() -> Path | None:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file()
                                      else None)
    return Path(found) if found else None


def documented_block(marker: str = "accel-snippet") -> str:
    """The ```nginx block that follows `<!-- {marker}` in docs/deployment.md."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    found = re.search(rf"<!-- {re.escape(marker)}.*?-->\s*```nginx\n(.*?)```", text, re.S)
    assert found is not None, f"docs/deployment.md has no nginx block after {marker}"
    return found.group(1)


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


@contextmanager
def running_nginx(binary: Path, server: str, *, port: int) -> Iterator[Nginx]:
    """nginx in the foreground with `server` (server and upstream blocks) inside an http
    block whose pid, log and temporary files live in a fresh directory. Its workers run
    as the user running the tests (as an operator runs them as the service's user)."""
    directory = Path(tempfile.mkdtemp(prefix="assetry-nginx-"))
    user = ""
    if os.geteuid() == 0:  # only root may name the workers' user
        user = (f"user {pwd.getpwuid(os.getuid()).pw_name} "
                f"{grp.getgrgid(os.getgid()).gr_name};")
    temp = {name: directory / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    (directory / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
{server}
}}
""")
    process = subprocess.Popen(
        [str(binary), "-p", str(directory), "-c", str(directory / "nginx.conf"),
         "-e", str(directory / "error.log"), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    nginx = Nginx(process, directory, port)
    try:
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited with {process.returncode}:\n{nginx.log_tail()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen on {port}:\n{nginx.log_tail()}")
            time.sleep(0.05)
        yield nginx
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(directory, ignore_errors=True)
