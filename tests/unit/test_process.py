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

from assetry.process import HostSlots, short_gil_turns

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


def test_the_heap_is_trimmed_on_a_thread_of_its_own() -> None:
    from assetry import process

    process.release_free_heap_soon()
    process.release_free_heap_soon()  # asked again while the first may still run
    trimmers = [t for t in threading.enumerate() if t.name == "assetry-heap-trim"]
    assert len(trimmers) == 1 and trimmers[0].daemon
    deadline = time.monotonic() + 5
    while process._trim_wanted.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process._trim_wanted.is_set()  # every ask was taken up
