"""CPU-bound work (libvips) runs off the event loop: bounded in concurrency and time, in
priority lanes, and refused (not queued without bound) when on-demand work piles up."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from enum import IntEnum
from typing import TypeVar

from assetry.errors import Overloaded, RenderFailed

T = TypeVar("T")


class Lane(IntEnum):
    """Who is waiting for the work; a lower lane is served first when slots free up."""

    #: an upload or replace whose answer waits for it: the client is on the line
    INGEST = 0
    #: a GET of a version that is not made yet
    ON_DEMAND = 1
    #: the durable job queue: nobody waits on it directly
    BACKGROUND = 2


class CpuPool:
    """Runs synchronous functions on at most `threads` worker threads.

    Waiting calls are served lane by lane (INGEST, then ON_DEMAND, then BACKGROUND),
    first come first served within a lane. At most `on_demand_queue` ON_DEMAND calls may
    wait; one more raises Overloaded at once, so a burst of cold version GETs answers 503
    with Retry-After instead of piling up without bound. INGEST and BACKGROUND calls
    always queue (uploads are bounded by connections, jobs by the worker's loops).

    `gate`, when given, is entered on the worker thread around every call: a limit shared
    with other processes (process.HostSlots), so a host's processes together run no more
    renders than it has cores.

    A call that *runs* longer than `timeout` seconds (time spent queued, here or at the
    gate, does not count) raises RenderFailed. A thread cannot be interrupted: it finishes
    in the background while still occupying its slot, so slow inputs can never pile up
    unbounded work. Must be used from one event loop.
    """

    def __init__(self, threads: int, timeout: float, *, on_demand_queue: int = 8,
                 gate: Callable[[], AbstractContextManager[object]] = nullcontext) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="assetry-cpu")
        self._gate = gate
        self.threads = threads
        self.timeout = timeout
        self.on_demand_queue = on_demand_queue
        self._free = threads
        self._waiting: list[tuple[Lane, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._recent_seconds = 1.0  #: a moving average of run times, for Retry-After

    @property
    def busy(self) -> int:
        """Slots in use now."""
        return self.threads - self._free

    def queued(self, lane: Lane | None = None) -> int:
        """Calls waiting for a slot (in `lane`, or in all lanes)."""
        return sum(1 for ln, _, f in self._waiting
                   if not f.done() and (lane is None or ln == lane))

    async def run(self, fn: Callable[..., T], *args: object, lane: Lane = Lane.INGEST) -> T:
        """Run `fn(*args)` on a worker thread and return its result.

        Raises Overloaded (ON_DEMAND only, when its queue is full), RenderFailed (ran
        longer than the timeout), or whatever `fn` raises."""
        await self._acquire(lane)
        loop = asyncio.get_running_loop()
        started = asyncio.Event()
        began = [0.0]

        def call() -> T:
            with self._gate():
                began[0] = loop.time()
                loop.call_soon_threadsafe(started.set)
                return fn(*args)

        try:
            future = self._executor.submit(call)
        except BaseException:
            self._release()
            raise

        def done(_: Future[T]) -> None:
            elapsed = loop.time() - began[0] if began[0] else 0.0
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(self._finished, elapsed)
                loop.call_soon_threadsafe(started.set)  # also when the gate itself failed

        future.add_done_callback(done)
        result = asyncio.shield(asyncio.wrap_future(future))
        await started.wait()  # the time limit starts once the gate lets the call run
        try:
            return await asyncio.wait_for(result, self.timeout)
        except TimeoutError:
            raise RenderFailed(f"processing took longer than {self.timeout:g} s") from None

    async def _acquire(self, lane: Lane) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        if lane is Lane.ON_DEMAND and self.queued(Lane.ON_DEMAND) >= self.on_demand_queue:
            raise Overloaded("rendering is at capacity; try again shortly",
                             retry_after=self._retry_after())
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (lane, next(self._order), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted a slot just as we were cancelled: pass it on
            raise

    def _finished(self, elapsed: float) -> None:
        self._recent_seconds = 0.8 * self._recent_seconds + 0.2 * elapsed
        self._release()

    def _release(self) -> None:
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the waiter
                return
        self._free += 1

    def _retry_after(self) -> int:
        # Roughly when the work ahead of a new arrival would be done.
        backlog = (self.queued() + self.busy) / max(1, self.threads)
        return max(1, math.ceil(backlog * self._recent_seconds))

    def close(self) -> None:
        """Stop taking work; queued calls are cancelled, running ones finish."""
        for _, _, waiter in self._waiting:
            waiter.cancel()
        self._waiting.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
