"""Fixtures the contract suites share: a freshly migrated database on each back-end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assetry.db import migrate
from tests.support.postgres import create_database, drop_database, unique_name


@pytest.fixture(scope="session")
def postgres_template(postgres: str) -> Iterator[str]:
    """A migrated database every PostgreSQL test copies (CREATE DATABASE .. TEMPLATE)."""
    name = unique_name("assetry_template")
    migrate.upgrade(create_database(postgres, name))
    yield name
    drop_database(postgres, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database of its own for each test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'assetry.db'}"
        migrate.upgrade(url)
        yield url
        return
    admin = request.getfixturevalue("postgres")
    template = request.getfixturevalue("postgres_template")
    name = unique_name("assetry_test")
    yield create_database(admin, name, template=template)
    drop_database(admin, name)


@pytest.fixture
def postgres_url(postgres: str, postgres_template: str) -> Iterator[str]:
    """A freshly migrated PostgreSQL database of its own (for what only PostgreSQL does)."""
    name = unique_name("assetry_test")
    yield create_database(postgres, name, template=postgres_template)
    drop_database(postgres, name)
