"""`assetry doctor`: the formats this installation reads and writes, the libvips version,
the HEIC decoder, and whether each back-end answers (exit 1 when one does not)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import pyvips

from assetry.db import migrate
from tests.support.postgres import closed_port, create_database, drop_database, unique_name
from tests.support.seaweed import SeaweedServer


def doctor(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **{f"ASSETRY_{k.upper()}": v for k, v in env.items()}}
    return subprocess.run([sys.executable, "-m", "assetry", "doctor", "--data-dir",
                           str(data_dir)], capture_output=True, text=True, env=environ,
                          timeout=120)


def lines_of(out: str) -> dict[str, str]:
    """First word of each line -> the rest of it, whitespace collapsed."""
    return {line.split()[0]: " ".join(line.split()[1:]) for line in out.splitlines()
            if line.strip()}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("doctor")
    migrate.upgrade(f"sqlite:///{data / 'assetry.db'}")
    return data


def test_doctor_reports_formats_versions_and_backends(migrated: Path) -> None:
    run = doctor(migrated)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = lines_of(run.stdout)
    version = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    assert f"libvips {version}" in run.stdout.splitlines()[0]
    assert lines["HEIC"].startswith("decoder: libde265")
    for fmt in ("jpeg", "png", "gif", "webp", "avif", "tiff"):
        assert lines[fmt] == "yes yes", fmt
    assert lines["heic"].startswith("yes no decoded by pillow-heif")
    assert lines["database"] == (f"ok sqlite:///{migrated / 'assetry.db'} "
                                 f"(schema {migrate.head()}, the newest)")
    assert lines["storage"] == f"ok file://{migrated / 'blobs'}"


def test_doctor_exits_1_when_the_database_does_not_answer(migrated: Path) -> None:
    run = doctor(migrated, database_url=f"postgresql://assetry@127.0.0.1:{closed_port()}/x")
    assert run.returncode == 1
    assert lines_of(run.stdout)["database"].startswith("unavailable:")
    assert lines_of(run.stdout)["storage"].startswith("ok")
    assert lines_of(run.stdout)["jpeg"] == "yes yes"  # the codecs are still reported


def test_doctor_exits_1_when_the_blob_store_does_not_answer(migrated: Path) -> None:
    url = f"s3://nothing?endpoint=http://127.0.0.1:{closed_port()}&region=us-east-1"
    run = doctor(migrated, storage_url=url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert lines_of(run.stdout)["storage"].startswith("unavailable:")
    assert lines_of(run.stdout)["database"].startswith("ok")


def test_doctor_on_real_postgresql_and_s3(postgres: str, seaweed: SeaweedServer,
                                          tmp_path: Path) -> None:
    name = unique_name("assetry_doctor")
    url = create_database(postgres, name)  # empty: reachable, never migrated
    try:
        run = doctor(tmp_path, database_url=url, storage_url=seaweed.url())
        assert run.returncode == 0, run.stdout + run.stderr
        lines = lines_of(run.stdout)
        assert lines["database"].startswith("ok postgresql://")
        assert lines["database"].endswith("(schema none: run `assetry migrate`; the newest is "
                                          f"{migrate.head()})")
        assert lines["storage"].startswith("ok s3://")
    finally:
        drop_database(postgres, name)
