"""What the import and export runs share: at most N files at once, one result per file,
and stopping early when no other file could fare better."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio

from assetry.bulk.ports import Progress, Refused
from assetry.domain.bulk import Outcome, Report, Result

T = TypeVar("T")


class Turns:
    """One step of each item taken in the items' order, while everything around it runs
    concurrently. Every index must take its turn exactly once (also when it failed
    before, so the ones after it are not kept waiting)."""

    def __init__(self, count: int) -> None:
        self._done = [anyio.Event() for _ in range(count)]

    @asynccontextmanager
    async def turn(self, index: int) -> AsyncIterator[None]:
        """Wait until every item before `index` has had its turn; then this one's."""
        if index:
            await self._done[index - 1].wait()
        try:
            yield
        finally:
            self._done[index].set()


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of the file's bytes (read in chunks; call it off the event loop)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


async def each(items: Iterable[T], work: Callable[[T], Awaitable[bool]], *,
               concurrency: int) -> None:
    """Await `work(item)` for every item, at most `concurrency` at once. Once a call
    returns False no further item is started; the calls under way finish."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    queue = iter(items)  # shared: each item is taken by exactly one worker
    stop = False

    async def worker() -> None:
        nonlocal stop
        for item in queue:
            if stop:
                return
            if not await work(item):
                stop = True

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)


async def settle(report: Report, progress: Progress, name: str, size: int,
                 attempt: Callable[[], Awaitable[Result]], *, io: str,
                 asset_id: str | None = None) -> bool:
    """Run one file's attempt and record its result. A refusal is a failed result with
    the server's status and detail; a local OSError one that says what `io` (read,
    write) failed. A fatal refusal records why the run stops instead; returns False."""
    try:
        result = await attempt()
    except Refused as exc:
        if exc.fatal:
            status = f"{exc.status} " if exc.status is not None else ""
            report.stopped = f"{name}: {status}{exc.detail}"
            return False
        result = Result(name, Outcome.FAILED, size, exc.detail, exc.status, asset_id)
    except OSError as exc:
        result = Result(name, Outcome.FAILED, size, f"cannot {io} it: {exc.strerror or exc}",
                        asset_id=asset_id)
    report.add(result)
    progress.finished(result)
    return True
