"""DeferredFetcher: the real fetcher, and httpx with it, only once a URL is fetched."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from assetry.domain.ports import Fetched, StagedFile
from assetry.fetch.deferred import DeferredFetcher


class Recording:
    def __init__(self) -> None:
        self.urls: list[str] = []

    async def fetch(self, url: str, *, limit: int, sink: object) -> Fetched:
        self.urls.append(url)
        staged = StagedFile(path=Path("/nonexistent"), size=0, sha256="0" * 64)
        return Fetched(staged=staged, filename="download", content_type=None, url=url)


async def test_the_real_fetcher_is_built_once_on_the_first_fetch() -> None:
    built: list[Recording] = []

    def make() -> Recording:
        built.append(Recording())
        return built[-1]

    fetcher = DeferredFetcher(make)
    assert built == []

    async def sink(chunks: AsyncIterator[bytes]) -> StagedFile:
        raise AssertionError("not called by the recording fetcher")

    await fetcher.fetch("https://example.org/a.jpg", limit=10, sink=sink)
    await fetcher.fetch("https://example.org/b.jpg", limit=10, sink=sink)
    assert len(built) == 1 and built[0].urls == ["https://example.org/a.jpg",
                                                 "https://example.org/b.jpg"]


def test_a_serving_process_does_not_import_httpx(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from assetry.config import Settings\n"
        "from assetry.web.app import create_app\n"
        f"create_app(Settings(data_dir={str(tmp_path)!r}), migrate=True)\n"
        "print(sorted(m for m in ('httpx', 'rich', 'click') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
