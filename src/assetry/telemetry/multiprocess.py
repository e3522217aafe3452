"""The directory where the worker processes of one `assetry serve` keep their metrics, so
that /metrics answered by any of them reports the sum over all of them
(prometheus_client's multiprocess mode).

Standard library only (and assetry.process): the `serve` supervisor calls
`claim_directory` before any worker starts, and must not import prometheus_client
itself, which chooses where it keeps values once, when it is first imported, from the
environment variable ENVIRONMENT.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from assetry.process import try_lock

#: the variable prometheus_client reads when it is first imported
ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
#: under the run directory: one sub-directory per running supervisor, named by its pid
_FOLDER = "metrics"


def claim_directory(run_dir: Path) -> Path:
    """A new, empty directory for the metrics of this process's workers:
    RUN_DIR/metrics/<pid>, held for as long as this process lives and removed when it
    exits normally.

    It is held by a lock (flock) on RUN_DIR/metrics/<pid>.lock, which the kernel drops
    when the process dies however it dies. Directories whose lock nobody holds belong to
    supervisors that are gone and are removed first, so counts never carry over from an
    earlier run, and two supervisors sharing a data directory never mix their counts.
    """
    root = run_dir.resolve() / _FOLDER
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    # One claim at a time: between creating its lock file and locking it, a newcomer's
    # directory must not look abandoned to another newcomer sweeping.
    with _locked(root / ".claim"):
        for lock in root.glob("*.lock"):
            _remove_if_abandoned(lock)
        directory = root / str(os.getpid())
        lock = directory.with_suffix(".lock")
        fd = try_lock(lock)
        if fd is None:
            raise RuntimeError(f"{lock} is held by another process with this pid")
        shutil.rmtree(directory, ignore_errors=True)  # left by a dead process of our pid
        directory.mkdir(mode=0o700)
    atexit.register(_release, directory, lock, fd)
    return directory


def _remove_if_abandoned(lock: Path) -> None:
    fd = try_lock(lock)
    if fd is None:
        return  # its supervisor is alive
    try:
        shutil.rmtree(lock.with_suffix(""), ignore_errors=True)
        lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def _release(directory: Path, lock: Path, fd: int) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    lock.unlink(missing_ok=True)
    os.close(fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
