"""Processing has a time limit: a slow decode or render fails cleanly, never hangs."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.test_upload import upload
from tests.support.images import corpus, solid
from tests.support.server import admin_client


def test_processing_over_the_time_limit_is_422_and_the_server_stays_up(tmp_path: Path) -> None:
    photo = corpus("photo_24mp.jpg").read_bytes()  # a full decode takes well over 20 ms
    with admin_client(tmp_path, render_timeout=0.02, render_workers=0) as client:
        r = upload(client, photo)
        assert r.status_code == 422, r.text
        assert "longer than" in r.json()["detail"]
        assert client.get("/health").status_code == 200
        # The abandoned decode still runs on its thread (and on both cores) until it ends;
        # a small upload may meanwhile miss the 20 ms limit too, but is never stuck.
        deadline = time.monotonic() + 30
        while (r := upload(client, solid(16, 16))).status_code != 201:
            assert r.status_code == 422 and "longer than" in r.json()["detail"], r.text
            assert time.monotonic() < deadline, "uploads still fail 30 s after the slow one"
            time.sleep(0.5)
