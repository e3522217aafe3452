"""Reading libvips' reason for a failure without another thread's work in the way."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class ErrorBuffer:
    """libvips keeps one error buffer per process, and libvips itself clears it in the
    middle of ordinary work (trying loaders, shrink-on-load): while another render runs,
    a failing decode can find its reason gone, or another render's in its place. The
    same truncated JPEG was then refused as "premature end of JPEG image" or as "unable
    to copy to memory" (6 times in 60 with two other renders running).

    Work runs `shared()`; a failure is explained by running the failing step again
    `alone()`: no other libvips work of this process starts or runs meanwhile, so its
    reason is the same every time. Waiting explanations go before new shared work, so
    they are not starved by a steady stream of renders. The price is paid by refusals
    only: a refused image is decoded twice, the second time with this process's other
    libvips work held back until it is done.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._alone = False
        self._waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Run beside other shared work (not during an `alone` one)."""
        with self._changed:
            while self._alone or self._waiting:
                self._changed.wait()
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        """Run once no other work of this buffer runs, and keep it so until done. Must
        not be entered while this thread is inside `shared()` (it would wait for itself)."""
        with self._changed:
            self._waiting += 1
            try:
                while self._alone or self._running:
                    self._changed.wait()
            finally:
                self._waiting -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._changed.notify_all()
