"""Debian's chromium driven by Playwright (the PyPI package's own driver; no browser is
ever downloaded), and where the browser tests leave their screenshots."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: git-ignored; CI keeps it as the run's artefacts
ARTIFACTS = ROOT / "test-artifacts" / "ui"
#: the README's picture of the UI, remade by the grid test
README_SCREENSHOT = ROOT / "docs" / "screenshots" / "ui-grid.png"
#: the flags that keep chromium quiet on a machine without a network or a GPU
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_or_skip() -> Path:
    """The chromium binary; a missing one fails the run under CI=true (the browser tests
    must run there) and skips loudly elsewhere."""
    found = CHROMIUM if CHROMIUM.exists() else None
    if found is None and (which := shutil.which("chromium")):
        found = Path(which)
    if found is None:
        reason = ("Debian's chromium is not installed (make test installs it as root: "
                  "scripts/system-deps.sh chromium): the web UI browser tests did NOT run")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}, and CI=true forbids skipping them", pytrace=False)
        print(f"\n*** {reason} ***", file=sys.stderr)
        pytest.skip(reason)
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    binary = chromium_or_skip()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(binary), args=ARGS,
                                             timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def keep_screenshot(png: bytes, path: Path) -> bool:
    """Write `png` to `path` unless the file there shows the same picture already.

    Chromium's image decoding may differ run to run by a few levels in a few pixels; a
    committed screenshot rewritten for that would change on every test run. Same size
    and under 0.1% of the pixels off by more than 8 levels counts as the same. Whether it
    wrote."""
    import pyvips

    if path.exists():
        old = pyvips.Image.new_from_file(str(path))
        new = pyvips.Image.new_from_buffer(png, "")
        if (old.width, old.height, old.bands) == (new.width, new.height, new.bands):
            off = ((old.cast("short") - new.cast("short")).abs() > 8).bandor()
            if off.avg() / 255 < 0.001:
                return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return True
