"""Health: does each backing service answer, within a bounded time?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from assetry.domain.ports import BlobStore, Database
from assetry.errors import AssetryError, BackendUnavailable

#: seconds one probe may take before its back-end counts as unavailable: well inside the
#: timeout a load balancer or Kubernetes gives a readiness check (docs/deployment.md)
PROBE_TIMEOUT = 3.0


class HealthService:
    def __init__(self, db: Database, blobs: BlobStore, *,
                 probe_timeout: float = PROBE_TIMEOUT) -> None:
        self._db = db
        self._blobs = blobs
        self._timeout = probe_timeout

    async def check(self) -> dict[str, str]:
        """{"database": "ok"|reason, "storage": "ok"|reason}, each reason starting with
        "unavailable: ". Both are probed at once, each for at most the probe timeout, so
        this answers within that time even when a back-end hangs. Never raises."""
        database, storage = await asyncio.gather(
            self._probe(self._db.ping), self._probe(self._blobs.ping))
        return {"database": database, "storage": storage}

    async def _probe(self, ping: Callable[[], Awaitable[None]]) -> str:
        try:
            async with asyncio.timeout(self._timeout):
                await ping()
        except TimeoutError:
            return f"unavailable: no answer within {self._timeout:g} s"
        except AssetryError as exc:
            return f"unavailable: {exc.message}"
        return "ok"

    async def jobs(self) -> dict[str, int]:
        """Jobs by state. Raises BackendUnavailable, also when the database does not
        answer within the probe timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._db.jobs.counts()
        except TimeoutError:
            raise BackendUnavailable(
                f"the database did not answer within {self._timeout:g} s") from None
