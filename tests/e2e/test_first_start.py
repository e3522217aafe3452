"""First start on an empty data dir: no default credentials, and the operator is told how
to make the first admin token."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.server import server_process


def test_first_start_has_no_token_and_says_how_to_make_one(tmp_path: Path) -> None:
    with server_process(tmp_path) as served:
        url = served.url
        assert httpx.get(f"{url}/api/pools/default/assets").status_code == 200
        r = httpx.post(f"{url}/api/pools/default/assets", files={"file": ("a", b"a")})
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        listed = subprocess.run(
            [sys.executable, "-m", "assetry", "tokens", "list", "--data-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=60, check=True)
        assert listed.stdout == ""  # no default token, no default password
    assert "assetry tokens create --role admin" in served.log_tail()
