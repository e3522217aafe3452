"""Process-level helpers: host-wide render slots (real flock between real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assetry.process import HeapTrim, HostSlots, short_gil_turns

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
