"""Database URLs: which driver each back-end gets, and which URLs are refused."""

from __future__ import annotations

import pytest

from assetry.db.engine import async_url, sync_url
from assetry.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/assetry.db", "sqlite+aiosqlite:///var/assetry.db"),
        ("sqlite:////abs/path/assetry.db", "sqlite+aiosqlite:////abs/path/assetry.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://u@127.0.0.1:5432/db", "postgresql+psycopg://u@127.0.0.1:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        # The password survives (it is not masked as in str(URL)), escapes included.
        (
            "postgresql://u:p%40ss@h/db?sslmode=require",
            "postgresql+psycopg://u:p%40ss@h/db?sslmode=require",
        ),
    ],
)
def test_async_url_picks_the_asyncio_driver(url: str, expected: str) -> None:
    assert async_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/assetry.db", "sqlite:///var/assetry.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite:///x.db"),
        ("postgresql://u:pw@h:5432/db", "postgresql+psycopg://u:pw@h:5432/db"),
    ],
)
def test_sync_url_picks_the_blocking_driver(url: str, expected: str) -> None:
    assert sync_url(url) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql+asyncpg://u@h/db", "file:///x", "not a url", ""]
)
def test_unsupported_database_url_raises_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        async_url(url)
    with pytest.raises(ConfigError):
        sync_url(url)
