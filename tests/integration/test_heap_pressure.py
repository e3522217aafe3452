"""The heap trim's pressure as the service wires it (bootstrap.py): other uploads in this
process, counted by IngestService.in_flight, with real SQLite and a real spool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from assetry.bootstrap import open_services
from assetry.config import Settings
from assetry.process import HEAP


async def _until(condition: Callable[[], bool], seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)


async def test_a_second_upload_in_the_process_is_pressure_to_trim(tmp_path: Path) -> None:
    async with open_services(Settings(data_dir=tmp_path), run_worker=False) as services:
        ingest = services.ingest
        gate = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b"x" * 10
            await gate.wait()  # the client is still sending
            yield b"y"

        first = asyncio.create_task(ingest.stage(body(), limit=100))
        await _until(lambda: ingest.in_flight == 1)
        assert ingest.in_flight == 1 and not HEAP.pressure()  # one upload: keep the heap
        second = asyncio.create_task(ingest.stage(body(), limit=100))
        await _until(lambda: ingest.in_flight == 2)
        assert ingest.in_flight == 2 and HEAP.pressure()  # another one here: trim
        gate.set()
        staged = await asyncio.gather(first, second)
        assert ingest.in_flight == 0 and not HEAP.pressure()
        assert [s.size for s in staged] == [11, 11]
        for s in staged:
            ingest.discard(s)
