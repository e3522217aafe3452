"""Property-based fuzzing of the whole API from its own OpenAPI document: whatever the
input, no request answers 500 (schemathesis, bounded in examples and time)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import admin_client


@pytest.mark.slow
def test_no_generated_request_is_a_server_error(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    assert cli.exists() or shutil.which("schemathesis"), "schemathesis is a test dependency"
    with admin_client(tmp_path / "data", render_workers=1) as client:
        token = client.headers["authorization"]
        result = subprocess.run(
            [str(cli), "run", f"{client.base_url}/api/openapi.json",
             "-H", f"Authorization: {token}", "--checks", "not_a_server_error",
             "--max-examples", "15", "--seed", "20261122", "--workers", "1",
             "--request-timeout", "20", "--no-color"],
            capture_output=True, text=True, timeout=300,
        )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "passed" in result.stdout
