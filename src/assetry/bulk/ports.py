"""What the bulk runs depend on: where assets go and come from, and who watches."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Protocol

from assetry.domain.bulk import PoolInfo, Result, StoredAsset

#: the largest page the listing serves (its `limit` is at most 500)
LISTING_PAGE = 500

#: statuses after which no other file could fare better: credentials refused, the
#: server's back-ends down (None: the server could not be reached at all)
_FATAL = frozenset({None, 401, 403, 503})


class Refused(Exception):
    """The server (or the in-process services) refused one request."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(detail)
        self.status = status  #: the HTTP status; None when there was no answer
        self.detail = detail  #: the problem+json `detail`, or what went wrong

    @property
    def fatal(self) -> bool:
        """Whether a run should stop rather than try its other files."""
        return self.status in _FATAL


class AssetClient(Protocol):
    """One pool-holding Assetry, as the bulk runs use it. Every method raises Refused."""

    async def pool(self, name: str) -> PoolInfo:
        """The pool, if it exists and the caller may read it."""
        ...

    async def has(self, pool: str, sha256: str) -> bool:
        """Whether an asset of `pool` (that the caller may see) has these bytes."""
        ...

    async def upload(self, pool: str, path: Path, *, filename: str,
                     gallery: str | None, converter: str | None) -> str:
        """Store the file as a new asset, checked as any upload; return its id."""
        ...

    def assets(self, pool: str) -> AsyncGenerator[StoredAsset, None]:
        """Every asset of the pool the caller may see, newest first."""
        ...

    def content(self, asset_id: str) -> AsyncGenerator[bytes, None]:
        """The original's bytes, in chunks."""
        ...


class Progress(Protocol):
    """Told about a run as it goes (the CLI draws a progress bar from it)."""

    def start(self, files: int, size: int) -> None:
        """The run has `files` files of `size` bytes in all to go through."""
        ...

    def finished(self, result: Result) -> None:
        """One file is through, whatever its outcome."""
        ...
