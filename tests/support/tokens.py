"""Tokens for tests, made through the same service the CLI uses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from assetry.bootstrap import open_services
from assetry.config import Settings


def make_tokens(data_dir: Path, roles: dict[str, str], **settings: Any) -> dict[str, str]:
    """Create one token per name -> role in the service's database (the data dir's, or
    `settings["database_url"]`); return name -> secret."""

    async def run() -> dict[str, str]:
        config = Settings(data_dir=data_dir, **settings)
        async with open_services(config, run_worker=False) as services:
            return {name: (await services.tokens.create(role, name))[1]
                    for name, role in roles.items()}

    return asyncio.run(run())


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
