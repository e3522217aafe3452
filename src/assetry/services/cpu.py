"""CPU-bound work (libvips) runs off the event loop, bounded in concurrency and time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from assetry.errors import RenderFailed

T = TypeVar("T")


class CpuPool:
    """Runs synchronous functions on at most `threads` worker threads.

    A call that *runs* longer than `timeout` seconds (time spent queued does not count)
    raises RenderFailed. A thread cannot be interrupted: it finishes in the background
    while still occupying its slot, so slow inputs can never pile up unbounded work.
    """

    def __init__(self, threads: int, timeout: float) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="assetry-cpu")
        self.timeout = timeout

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        def call() -> T:
            loop.call_soon_threadsafe(started.set)
            return fn(*args)

        future = self._executor.submit(call)
        try:
            await started.wait()
        except asyncio.CancelledError:
            future.cancel()
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)),
                                          self.timeout)
        except TimeoutError:
            raise RenderFailed(f"processing took longer than {self.timeout:g} s") from None

    def close(self) -> None:
        """Stop taking work; queued calls are cancelled, running ones finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)
