"""Property-based fuzzing of the whole API from its own OpenAPI document: whatever the
input, no request answers 500, and every answer is one the document declares, with a
declared Content-Type and a body its schema accepts (so the problem+json error answers of
each operation are checked against reality; schemathesis, bounded in examples and time)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import admin_client

CHECKS = ",".join(["not_a_server_error", "status_code_conformance", "content_type_conformance",
                   "response_schema_conformance", "missing_required_header"])

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_no_generated_request_is_a_server_error_or_undeclared(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    assert cli.exists() or shutil.which("schemathesis"), "schemathesis is a test dependency"
    with admin_client(tmp_path / "data", render_workers=1) as client:
        token = client.headers["authorization"]
        result = subprocess.run(
            [str(cli), "run", f"{client.base_url}/api/openapi.json",
             "-H", f"Authorization: {token}", "--checks", CHECKS,
             "--max-examples", "15", "--seed", "20261122", "--workers", "1",
             "--request-timeout", "20", "--no-color"],
            capture_output=True, text=True, timeout=300,
            cwd=tmp_path,  # its cache (.schemathesis/) stays out of the repository
            env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks",
                 "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 0, result.stdout[-6000:]
    assert "passed" in result.stdout
