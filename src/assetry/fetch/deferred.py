"""DeferredFetcher: a Fetcher built on its first use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from assetry.domain.ports import Fetched, Fetcher, StagedFile


class DeferredFetcher:
    """The Fetcher port, building the real fetcher (`make`) when the first URL is fetched.

    The real one needs httpx, and importing httpx imports its command line's libraries
    too (click, rich, pygments) when they are installed, as they are for Assetry's CLI:
    about 20 MB in every serving process, most of which never import a URL."""

    def __init__(self, make: Callable[[], Fetcher]) -> None:
        self._make = make
        self._fetcher: Fetcher | None = None

    async def fetch(self, url: str, *, limit: int,
                    sink: Callable[[AsyncIterator[bytes]], Awaitable[StagedFile]]) -> Fetched:
        if self._fetcher is None:
            self._fetcher = self._make()
        return await self._fetcher.fetch(url, limit=limit, sink=sink)
