"""ErrorBuffer: shared work runs together; an explanation runs alone, and is not starved."""

from __future__ import annotations

import threading
import time

from assetry.imaging.error_buffer import ErrorBuffer


def test_alone_waits_for_shared_work_and_new_shared_work_waits_for_it() -> None:
    buffer, events = ErrorBuffer(), []
    inside, release = threading.Event(), threading.Event()

    def shared_long() -> None:
        with buffer.shared():
            inside.set()
            release.wait(5)
            events.append("shared done")

    def alone() -> None:
        with buffer.alone():
            events.append("alone")

    def shared_late() -> None:
        with buffer.shared():
            events.append("late shared")

    first = threading.Thread(target=shared_long)
    first.start()
    assert inside.wait(5)
    explain = threading.Thread(target=alone)
    explain.start()
    time.sleep(0.05)  # the explanation now waits for the running shared work
    late = threading.Thread(target=shared_late)
    late.start()
    time.sleep(0.05)  # and new shared work waits behind the explanation
    assert events == []
    release.set()
    for thread in (first, explain, late):
        thread.join(5)
    assert events == ["shared done", "alone", "late shared"]


def test_shared_work_runs_together() -> None:
    buffer, barrier = ErrorBuffer(), threading.Barrier(3, timeout=5)

    def work() -> None:
        with buffer.shared():
            barrier.wait()  # all three inside at once, or BrokenBarrierError

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not barrier.broken
