"""The heap trim's pressure as the service wires it (bootstrap.py): renders waiting for
a render slot of the host, with real SQLite, a real spool and real host slots."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from assetry.bootstrap import open_services
from assetry.config import Settings
from assetry.process import HEAP, HostSlots


async def test_uploads_alone_are_no_pressure(tmp_path: Path) -> None:
    async with open_services(Settings(data_dir=tmp_path), run_worker=False) as services:
        ingest = services.ingest
        gate = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b"x" * 10
            await gate.wait()  # the client is still sending
            yield b"y"

        # Two uploads being received, as many as there are slots: each render may keep
        # the heap the last one freed.
        staging = [asyncio.create_task(ingest.stage(body(), limit=100)) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert not HEAP.pressure()
        gate.set()
        for staged in await asyncio.gather(*staging):
            assert staged.size == 11
            ingest.discard(staged)


async def test_a_render_waiting_for_a_host_slot_is_pressure(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, render_slots=1)
    async with open_services(settings, run_worker=False):
        # Another process of the service on this host: its own view of the same slots.
        other = HostSlots(settings.run_dir / "render-slots", 1)
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with other.hold():
                held.set()
                release.wait(5)

        def wait_for_slot() -> None:
            with other.hold():
                pass

        holder = threading.Thread(target=hold)
        holder.start()
        # The slot must be taken before the second render asks for it, or that one gets
        # it at once and never waits.
        assert await asyncio.to_thread(held.wait, 5)
        assert not HEAP.pressure()  # the only slot is taken, but no render waits
        waiter = threading.Thread(target=wait_for_slot)
        waiter.start()
        for _ in range(500):
            if HEAP.pressure():
                break
            await asyncio.sleep(0.01)
        assert HEAP.pressure()
        release.set()
        holder.join(5)
        waiter.join(5)
        assert not HEAP.pressure()
