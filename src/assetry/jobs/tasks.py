"""Task bodies: decode JSON-simple arguments and call a service; nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from assetry.services.versions import VersionService

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def handlers(versions: VersionService) -> dict[str, Handler]:
    """Every job kind this build knows, by name."""

    async def render(payload: dict[str, Any]) -> None:
        """'render': make every pending version of one asset. Idempotent: a finished
        version is never rendered again, a vanished asset is a no-op."""
        await versions.render_pending(UUID(payload["asset_id"]))

    return {"render": render}
