"""Process-level concerns of a server process: memory arenas, GIL turns, the parent's
death, the render slots its processes share on one host, and the core each HTTP worker
process keeps its Python threads on (`HOME`, claimed by web/app.py's worker factory).

`limit_malloc_arenas`, `short_gil_turns` and `die_with_parent` are called first thing in
every process that serves HTTP or renders: `assetry serve` (and each of its worker
processes), `assetry worker`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

#: glibc's mallopt parameter for the number of malloc arenas
_M_ARENA_MAX = -8
#: prctl option: the signal this process gets when its parent dies
_PR_SET_PDEATHSIG = 1


@functools.cache
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


#: seconds a thread may hold the GIL while another waits for it (CPython's default: 5 ms)
GIL_TURN = 0.001


def short_gil_turns() -> None:
    """Let a thread that waits for the GIL have it after 1 ms instead of 5.

    A render thread calls into libvips dozens of times (pyvips marshals each call's
    arguments in Python), and every return from C waits for the GIL that the event loop
    or another render holds. With 5 ms turns those waits add up to tens of ms per upload
    when two uploads share a process; with 1 ms turns, 2 uploads at a time on one process
    went from 5.7 to 6.6 uploads/s, and on two processes from 6.2-6.6 to 7.0-7.1
    (bench/bench_ingest.py's 12 MP workload, 2-core machine)."""
    sys.setswitchinterval(GIL_TURN)


def release_free_heap() -> None:
    """Give the heap's free pages back to the OS (glibc's malloc_trim).

    A render allocates tens of MB of short-lived pixel buffers; glibc keeps what they
    freed mapped, so after a burst a process stays at its peak for good. A trim takes a
    few ms (3-4 ms after a 12 MP render), and every page it gives back is faulted in and
    zeroed again by the next render: renders use `HEAP`, which runs it when the process
    has gone idle or has other work waiting."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class HeapTrim:
    """Decides when a process gives its freed heap back (`release_free_heap`), on a
    thread of its own: once no render has run for `idle` seconds, or right after a
    render when more renders want to run than there are slots (`pressure`, wired in
    bootstrap.py: a render waiting for a thread of this process, or for a slot in any
    process of the host: `HostSlots.contended`).

    Trimming after every render kept RSS at the working set but made the next render
    fault its pages in again: with 2 clients uploading 12 MP photos, the kernel zeroing
    the pages malloc_trim had returned took about a tenth of the service's CPU (8,900
    page faults per upload; 700-1,300 without). While no render waits, the heap one
    render frees is reused as it is by the next. When renders queue, what each process
    kept would add up: 8 concurrent 24 MP uploads peaked at 294 MB PSS trimming after
    every render, 326 MB with idle trims only, 306-309 MB counting only renders waiting
    in the same process, 285 MB counting those waiting in any process. (Counting every
    other upload in the process as pressure, as before, trimmed after every render when
    two clients' connections reached the same process: 8,400-8,800 faults per upload.)"""

    def __init__(self, idle: float = 0.5) -> None:
        self.idle = idle
        #: whether more work is waiting; asked from the trim thread
        self.pressure: Callable[[], bool] = lambda: False
        self._lock = threading.Lock()
        self._active = 0
        self._last_end = 0.0
        self._pressed = False
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """Marks a render (work that churns the heap) as running."""
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            pressed = self.pressure()
            with self._lock:
                self._active -= 1
                self._last_end = time.monotonic()
                self._pressed = self._pressed or pressed
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="assetry-heap-trim")
                    self._thread.start()
            self._wanted.set()

    def owed(self) -> bool:
        """Whether a trim is still owed (work ended since the last trim)."""
        return self._wanted.is_set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            with self._lock:
                rest = self._last_end + self.idle - time.monotonic()
                due = self._pressed or (self._active == 0 and rest <= 0)
                if due:
                    self._wanted.clear()  # work ending from here on is owed one more trim
                    self._pressed = False
            if due:
                release_free_heap()
            else:
                time.sleep(max(rest, self.idle / 4))


#: the process's heap trimmer: imaging/vips.py marks its renders with it, bootstrap.py
#: tells it when work is waiting
HEAP = HeapTrim()


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


class HostSlots:
    """A counting semaphore shared by every process of the service on this host: `count`
    lock files in `directory`, each held (flock) by one render at a time.

    Every worker process has its own render threads, so without it N processes would run
    N times as many renders as there are cores: no faster, and each render's buffers
    (~30 MB for a 24 MP JPEG) would add up. The kernel drops the locks of a process that
    dies, so a crash never leaks a slot. `hold` blocks the calling thread.
    """

    def __init__(self, directory: Path, count: int) -> None:
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.count = count
        self._paths = [directory / f"render-slot-{i}.lock" for i in range(count)]
        #: held shared by every render waiting for a slot, on any process of the host
        self._waiting = directory / "render-waiting.lock"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Wait (polling every few ms, no fairness) until a slot is free; hold it."""
        fd = self._try_each()
        if fd is None:  # wait, and let every process of the host see that one waits
            with self._waiter():
                fd = self._acquire()
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor releases its lock

    def contended(self) -> bool:
        """Whether some render on this host, in any process, is waiting for a slot now."""
        fd = try_lock(self._waiting)
        if fd is None:
            return True
        os.close(fd)
        return False

    @contextlib.contextmanager
    def _waiter(self) -> Iterator[None]:
        fd = os.open(self._waiting, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # never blocks: no one holds it exclusively long
            yield
        finally:
            os.close(fd)

    def _try_each(self) -> int | None:
        start = random.randrange(self.count)
        for i in range(self.count):
            # A fresh descriptor each time: flock belongs to the open file, so two
            # threads sharing one descriptor would both "hold" the same slot.
            fd = try_lock(self._paths[(start + i) % self.count])
            if fd is not None:
                return fd
        return None

    def _acquire(self) -> int:
        pause = 0.001
        while (fd := self._try_each()) is None:
            time.sleep(pause)
            pause = min(pause * 2, 0.01)
        return fd


def try_lock(path: Path) -> int | None:
    """A new descriptor of `path` (created if missing) holding an exclusive flock on it,
    or None when another open file holds the lock. Closing the descriptor, or the death
    of its process, releases the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


#: seconds a process keeps its Python threads on every core after it last served two
#: requests at once, before they go back to its home core (so a process whose load
#: hovers between one request and two does not move its threads at every request)
HOME_HOLD = 0.5


class HomeCore:
    """Where the threads of one HTTP worker process run, when `assetry serve` runs
    several on a host with a core for each.

    A process that `claim`ed a core (one lock file per core: no two processes of the
    host hold the same one, and a dead process's core goes to its replacement) keeps its
    Python threads (the event loop, the render and spool threads that hand the GIL to
    each other) on that core while it serves at most one request, and lets them run on
    every core it may use while it serves two or more, and for `hold` seconds after.
    Threads that Python did not start (libvips' pixel workers, which work without the
    GIL) always run on every core: a render still spreads over the idle cores.

    Why: with two uploads in two processes, the scheduler moved each process's Python
    threads onto the core where the other process's render ran, and the GIL passed
    between cores. Held on a core each, 2 clients uploading into 2 processes made about
    7 % more images per second at 12 and at 24 MP (bench/bench_ingest.py's workload, 2
    cores, alternated with free placement: docs/benchmarks.md). A process that serves
    two requests at once would crowd its one core, so it spreads again: one process
    carrying both uploads was up to 9 % slower held on one core.

    Not claimed (one process, more processes than cores, tests), every method does
    nothing. Every method but `claim` is called from the event loop's thread.
    """

    def __init__(self, hold: float = HOME_HOLD) -> None:
        self.hold = hold
        self.core: int | None = None  #: the claimed core
        self._cores: frozenset[int] = frozenset()  #: every core the process may use
        self._fd: int | None = None
        self._in_flight = 0
        self._crowded_at = -math.inf  #: when two or more requests were last in flight
        self._home = False  #: whether the Python threads are held on the home core now
        self._threads = 0  #: the process's thread count when last looked at

    def claim(self, directory: Path, processes: int) -> int | None:
        """Claim a core for this process among those it may use, when the host runs
        `processes` (at least 2) worker processes and has a core for each; return it, or
        None. The claim lasts as long as the process."""
        cores = sorted(os.sched_getaffinity(0))
        if processes < 2 or len(cores) < processes or self._fd is not None:
            return self.core
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for core in cores:
            fd = try_lock(directory / f"home-core-{core}.lock")
            if fd is not None:
                self._fd, self.core, self._cores = fd, core, frozenset(cores)
                return core
        return None

    def request_started(self) -> None:
        if self.core is None:
            return
        self._in_flight += 1
        if self._in_flight >= 2:
            self._crowded_at = time.monotonic()
            if self._home:
                self._place(home=False)

    def request_ended(self) -> None:
        if self.core is None:
            return
        if self._in_flight >= 2:
            self._crowded_at = time.monotonic()
        self._in_flight -= 1
        if self._home:
            self._free_new_threads()
        elif self._in_flight <= 1 and time.monotonic() - self._crowded_at >= self.hold:
            self._place(home=True)

    def _place(self, *, home: bool) -> None:
        """Hold the Python threads on the home core (or not); every other thread on every
        core."""
        assert self.core is not None
        held = _python_threads() if home else set()
        if held is None:
            return  # a thread is starting: held or not, it is not known yet; next time
        for tid in _threads():
            _set_cores(tid, {self.core} if tid in held else self._cores)
        self._home = home
        self._threads = _thread_count()

    def _free_new_threads(self) -> None:
        """A thread started by a held one is held too: threads Python did not start
        (libvips makes its workers when a render first needs them) are let go. The
        thread count tells, in one system call, whether threads came or went since."""
        count = _thread_count()
        if count == self._threads:
            return
        python = _python_threads()
        if python is None:
            return  # a Python thread is starting and not known yet: next time
        self._threads = count
        for tid in _threads():
            if tid not in python:
                _set_cores(tid, self._cores)


#: the process's home core: app_from_environment claims it, web/affinity.py reports the
#: requests
HOME = HomeCore()


def _threads() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/task")]


def _thread_count() -> int:
    # procfs counts a task directory's links as 2 plus the process's threads
    return os.stat("/proc/self/task").st_nlink


def _python_threads() -> set[int] | None:
    """The system ids of the threads Python started, or None while one of them is
    starting: it runs before Python learns its id, and must not pass for a native one."""
    ids = set()
    for thread in threading.enumerate():
        if thread.native_id is None:
            return None
        ids.add(thread.native_id)
    return ids


def _set_cores(tid: int, cores: set[int] | frozenset[int]) -> None:
    # A thread may end meanwhile (ESRCH), or the host take a core away (EINVAL): the
    # placement is an optimisation, never a reason to fail a request.
    with contextlib.suppress(OSError):
        os.sched_setaffinity(tid, cores)
