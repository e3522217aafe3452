"""Process-level helpers: host-wide render slots (real flock between real processes), GIL
turns, heap trims, home cores (real thread placement, in a child process)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assetry.process import HeapTrim, HomeCore, HostSlots, short_gil_turns

HOLD_FOREVER = """
import sys, time
from pathlib import Path
from assetry.process import HostSlots
slots = HostSlots(Path(sys.argv[1]), 1)
with slots.hold():
    print("held", flush=True)
    time.sleep(600)
"""


def test_one_slot_is_held_by_one_thread_at_a_time(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path, 1)
    inside, most = [0], [0]
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            with slots.hold():
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.002)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1


def test_two_slots_let_two_in(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path, 2)
    with slots.hold():
        entered = threading.Event()

        def second() -> None:
            with slots.hold():
                entered.set()

        t = threading.Thread(target=second)
        t.start()
        assert entered.wait(5)
        t.join()


WAIT_FOR_ONE = """
import sys
from pathlib import Path
from assetry.process import HostSlots
with HostSlots(Path(sys.argv[1]), 1).hold():
    print("got", flush=True)
"""


def test_a_render_waiting_in_another_process_contends_for_the_host(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path, 1)
    assert not slots.contended()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FOREVER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    waiter = None
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not slots.contended()  # every slot taken, but nobody waits
        waiter = subprocess.Popen([sys.executable, "-c", WAIT_FOR_ONE, str(tmp_path)],
                                  stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not slots.contended() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert slots.contended()  # seen from a third process's view of the same slots
        assert waiter.poll() is None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert waiter.stdout is not None and waiter.stdout.readline().strip() == "got"
        assert waiter.wait(10) == 0
        assert not slots.contended()  # the waiter stopped waiting when it got the slot
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_taking_a_free_slot_is_not_waiting(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path, 2)
    with slots.hold(), slots.hold():
        assert not slots.contended()


def test_a_killed_holder_frees_its_slot(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FOREVER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        slots = HostSlots(tmp_path, 1)
        got = threading.Event()

        def take() -> None:
            with slots.hold():
                got.set()

        t = threading.Thread(target=take, daemon=True)
        t.start()
        assert not got.wait(0.3)  # another process holds the only slot
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert got.wait(5)  # the kernel dropped the dead process's lock
        t.join()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_short_gil_turns_hands_the_gil_over_after_one_millisecond() -> None:
    before = sys.getswitchinterval()
    try:
        short_gil_turns()
        assert sys.getswitchinterval() == pytest.approx(0.001)
    finally:
        sys.setswitchinterval(before)


def _trimmed(heap: HeapTrim, within: float) -> bool:
    deadline = time.monotonic() + within
    while heap.owed() and time.monotonic() < deadline:
        time.sleep(0.005)
    return not heap.owed()


def test_the_heap_is_trimmed_once_renders_have_rested_on_a_thread_of_its_own() -> None:
    heap = HeapTrim(idle=0.05)
    with heap.working():
        pass
    with heap.working():  # a second render at once: still one trimmer
        pass
    trimmers = [t for t in threading.enumerate() if t.name == "assetry-heap-trim"]
    assert trimmers and all(t.daemon for t in trimmers)
    assert _trimmed(heap, within=5)  # every ask was taken up


def test_no_trim_while_renders_follow_each_other() -> None:
    heap = HeapTrim(idle=0.05)
    with heap.working():
        pass
    with heap.working():  # the next render began before the process rested
        time.sleep(0.2)  # four idle periods: a trim now would take this render's pages
        assert heap.owed()
    assert _trimmed(heap, within=5)


def test_a_render_that_ends_while_work_waits_trims_at_once() -> None:
    heap = HeapTrim(idle=60)  # never idle long enough within the test
    heap.pressure = lambda: True
    with heap.working():  # a render still running
        with heap.working():  # another one ends meanwhile, with work waiting
            pass
        assert _trimmed(heap, within=5)


CORES = sorted(os.sched_getaffinity(0))
needs_two_cores = pytest.mark.skipif(
    len(CORES) < 2 and not os.environ.get("CI"),
    reason="HOME CORES ARE NOT TESTED: this machine lets the tests use fewer than 2 cores")


@needs_two_cores
def test_home_cores_go_one_to_a_process_while_there_are_cores_for_every_process(
        tmp_path: Path) -> None:
    # Each HomeCore holds its own lock file descriptors, as separate processes would.
    homes = [HomeCore() for _ in CORES]
    claimed = [home.claim(tmp_path, len(CORES)) for home in homes]
    assert sorted(c for c in claimed if c is not None) == CORES
    assert HomeCore().claim(tmp_path, len(CORES)) is None  # every core is taken
    assert HomeCore().claim(tmp_path / "other", 1) is None  # one process: nothing to keep apart
    assert HomeCore().claim(tmp_path / "other", len(CORES) + 1) is None  # more than cores


PLACEMENT = """
import json, os, sys, threading
from pathlib import Path
import pyvips
from assetry.process import HomeCore

home = HomeCore(hold=float(sys.argv[2]))
core = home.claim(Path(sys.argv[1]), 2)
idle = threading.Event()
waiter = threading.Thread(target=idle.wait)  # a Python thread other than this one
waiter.start()

def cores():
    python = {t.native_id for t in threading.enumerate()}
    out = {"python": set(), "native": set(), "natives": 0}
    for tid in map(int, os.listdir("/proc/self/task")):
        kind = "python" if tid in python else "native"
        out[kind] |= {tuple(sorted(os.sched_getaffinity(tid)))}
        out["natives"] += kind == "native"
    return {k: sorted(v) if isinstance(v, set) else v for k, v in out.items()}

seen = {"core": core}
home.request_started(); home.request_ended()
seen["one request"] = cores()
# libvips starts its pixel workers from a thread held on the home core
(pyvips.Image.black(2000, 2000) + 1).avg()
seen["libvips started"] = cores()
home.request_started(); home.request_ended()
seen["after the next request"] = cores()
home.request_started(); home.request_started()
seen["two requests"] = cores()
home.request_ended()
seen["back to one"] = cores()
idle.set()
print(json.dumps(seen))
"""


def _placements(tmp_path: Path, hold: float) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PLACEMENT, str(tmp_path), str(hold)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@needs_two_cores
def test_python_threads_keep_to_the_home_core_while_one_request_is_served(
        tmp_path: Path) -> None:
    seen = _placements(tmp_path, hold=0.0)
    home, every = [seen["core"]], CORES
    assert seen["one request"] == {"python": [home], "native": [], "natives": 0}
    started = seen["libvips started"]
    assert isinstance(started, dict) and started["natives"] > 0
    assert started["native"] == [home]  # a thread inherits its starter's cores
    # ... until the request ends: libvips' workers then run on every core again
    assert seen["after the next request"] == {
        "python": [home], "native": [every], "natives": started["natives"]}
    two = seen["two requests"]
    assert isinstance(two, dict) and two["python"] == [every] and two["native"] == [every]
    back = seen["back to one"]
    assert isinstance(back, dict) and back["python"] == [home] and back["native"] == [every]


@needs_two_cores
def test_a_process_that_served_two_requests_at_once_stays_spread_for_the_hold(
        tmp_path: Path) -> None:
    seen = _placements(tmp_path, hold=60.0)
    back = seen["back to one"]
    assert isinstance(back, dict) and back["python"] == [CORES]  # within the hold


def test_an_unclaimed_home_core_places_nothing() -> None:
    home = HomeCore(hold=0.0)
    before = {tid: os.sched_getaffinity(tid) for tid in map(int, os.listdir("/proc/self/task"))}
    home.request_started()
    home.request_ended()
    assert home.core is None
    after = {tid: os.sched_getaffinity(tid) for tid in map(int, os.listdir("/proc/self/task"))}
    assert {t: c for t, c in after.items() if t in before} == {
        t: c for t, c in before.items() if t in after}
