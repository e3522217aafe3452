"""CpuPool: lanes, admission, time limits, with real threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from assetry.errors import Overloaded, RenderFailed
from assetry.services.cpu import CpuPool, Lane


async def occupy(pool: CpuPool) -> tuple[threading.Event, asyncio.Task[None]]:
    """Fill every slot with a call that blocks until the returned event is set."""
    gate = threading.Event()
    tasks = [asyncio.create_task(pool.run(gate.wait)) for _ in range(pool.threads)]
    for _ in range(1000):  # (the pool has no event to await; its state is polled)
        if pool.busy == pool.threads:
            break
        await asyncio.sleep(0.001)
    return gate, asyncio.gather(*tasks)  # type: ignore[return-value]


async def test_waiting_calls_are_served_by_lane_then_arrival() -> None:
    pool = CpuPool(1, timeout=10)
    gate, blockers = await occupy(pool)
    order: list[str] = []
    waiting = [
        asyncio.create_task(pool.run(order.append, name, lane=lane))
        for name, lane in (("job", Lane.BACKGROUND), ("get-1", Lane.ON_DEMAND),
                           ("upload-1", Lane.INGEST), ("get-2", Lane.ON_DEMAND),
                           ("upload-2", Lane.INGEST))
    ]
    await asyncio.sleep(0.01)
    assert order == [] and pool.queued() == 5
    gate.set()
    await asyncio.gather(blockers, *waiting)
    assert order == ["upload-1", "upload-2", "get-1", "get-2", "job"]
    assert (pool.busy, pool.queued()) == (0, 0)
    pool.close()


async def test_on_demand_beyond_its_queue_is_refused_at_once() -> None:
    pool = CpuPool(1, timeout=10, on_demand_queue=2)
    gate, blockers = await occupy(pool)
    queued = [asyncio.create_task(pool.run(time.sleep, 0, lane=Lane.ON_DEMAND))
              for _ in range(2)]
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded) as refused:
        await pool.run(time.sleep, 0, lane=Lane.ON_DEMAND)
    assert refused.value.retry_after >= 1
    # Uploads and jobs are never refused: they queue behind the full on-demand queue.
    others = [asyncio.create_task(pool.run(time.sleep, 0, lane=lane))
              for lane in (Lane.INGEST, Lane.BACKGROUND)]
    await asyncio.sleep(0.01)
    assert pool.queued() == 4
    gate.set()
    await asyncio.gather(blockers, *queued, *others)
    await pool.run(time.sleep, 0, lane=Lane.ON_DEMAND)  # capacity is back
    pool.close()


async def test_time_limit_counts_running_time_and_keeps_the_slot() -> None:
    pool = CpuPool(1, timeout=0.05)
    gate = threading.Event()
    with pytest.raises(RenderFailed, match=r"longer than 0\.05 s"):
        await pool.run(gate.wait, 5)
    assert pool.busy == 1  # the thread still runs: its slot is not handed out again
    follower = asyncio.create_task(pool.run(lambda: "done"))
    await asyncio.sleep(0.1)
    assert not follower.done()
    gate.set()
    assert await follower == "done"
    pool.close()


async def test_cancelled_waiter_gives_up_its_place() -> None:
    pool = CpuPool(1, timeout=10)
    gate, blockers = await occupy(pool)
    waiter = asyncio.create_task(pool.run(lambda: "never", lane=Lane.ON_DEMAND))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.set()
    await blockers
    assert await pool.run(lambda: "next") == "next"
    assert (pool.busy, pool.queued()) == (0, 0)
    pool.close()


async def test_exceptions_of_the_function_propagate_and_free_the_slot() -> None:
    pool = CpuPool(1, timeout=10)

    def boom() -> None:
        raise ValueError("bad pixels")

    with pytest.raises(ValueError, match="bad pixels"):
        await pool.run(boom)
    await asyncio.sleep(0.01)
    assert pool.busy == 0
    pool.close()

