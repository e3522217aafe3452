"""Process-level set-up of a server process (memory arenas, the parent's death).

Called first thing in every process that serves HTTP or renders: `assetry serve` (and
each of its worker processes), `assetry worker`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

#: glibc's mallopt parameter for the number of malloc arenas
_M_ARENA_MAX = -8
#: prctl option: the signal this process gets when its parent dies
_PR_SET_PDEATHSIG = 1


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not sys.platform.startswith("linux") or name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas for this process and the processes it starts.

    glibc gives every thread that allocates its own arena (up to 8 per core), and
    libvips' worker threads each leave megabytes of freed-but-kept pages in theirs: with
    the default, a rendering process grows by hundreds of MB that are never reused. Two
    arenas cost no measurable speed here (bench/bench_ingest.py) and keep RSS flat.
    An operator's own MALLOC_ARENA_MAX wins."""
    value = int(os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas)))
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(_M_ARENA_MAX, value)  # this process, already started


def die_with_parent() -> None:
    """Ask the kernel to send SIGTERM when the parent process dies (Linux), so worker
    processes never outlive a supervisor that was killed; exits at once when the parent
    is already gone."""
    parent = os.getppid()
    libc = _libc()
    if libc is None:
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # died before prctl took effect
        sys.exit(0)
