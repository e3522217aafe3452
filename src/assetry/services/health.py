"""Health: does each backing service answer?"""

from __future__ import annotations

from assetry.domain.ports import BlobStore, Database
from assetry.errors import AssetryError


class HealthService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self._db = db
        self._blobs = blobs

    async def check(self) -> dict[str, str]:
        """{"database": "ok"|reason, "storage": "ok"|reason}; never raises."""
        result = {}
        for name, probe in (("database", self._db.ping), ("storage", self._blobs.ping)):
            try:
                await probe()
                result[name] = "ok"
            except AssetryError as exc:
                result[name] = f"unavailable: {exc.message}"
        return result

    async def jobs(self) -> dict[str, int]:
        return await self._db.jobs.counts()
