"""End-to-end fixtures: a real server on 127.0.0.1 with SQLite and a local blob directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import live_server
from tests.support.tokens import bearer, make_tokens


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def tokens(data_dir: Path) -> dict[str, str]:
    """One token per role, named after it ("admin", "editor", "editor2", ...)."""
    return make_tokens(data_dir, {"admin": "admin", "moderator": "moderator",
                                  "editor": "editor", "editor2": "editor", "viewer": "viewer"})


@pytest.fixture(scope="module")
def base_url(data_dir: Path, tokens: dict[str, str]) -> Iterator[str]:
    with live_server(data_dir, render_workers=1) as url:
        yield url


@pytest.fixture
def client(base_url: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    """An admin's client: these suites test behaviour, test_access.py tests who may."""
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(tokens["admin"])) as c:
        yield c


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


def blob_files(data_dir: Path) -> set[Path]:
    """Every file in the local blob directory (what the service really keeps on disk)."""
    root = data_dir / "blobs"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()
