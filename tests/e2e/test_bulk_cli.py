"""`assetry import` and `assetry export`, end to end: over HTTP to a live server (--url)
and in-process on its data directory (--data-dir), checked through the HTTP API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main
from typer.testing import CliRunner, Result

from assetry.cli import app
from tests.support.images import solid
from tests.support.server import free_port

WIDE = {"COLUMNS": "400"}  # Rich tables wrap at the terminal width; keep rows on one line


@dataclass
class Target:
    """Where a command goes: the live server over HTTP, or its data directory in-process."""

    mode: str
    args: list[str]
    creator: str  #: who the imported assets' `creator` is

    def env(self, token: str | None) -> dict[str, str]:
        return {**WIDE, "ASSETRY_TOKEN": token or ""}


@pytest.fixture(params=["http", "local"])
def target(request: pytest.FixtureRequest, base_url: str, data_dir: Path) -> Target:
    if request.param == "http":
        return Target("http", ["--url", base_url], creator="editor")
    return Target("local", ["--data-dir", str(data_dir)], creator="library")


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env or WIDE)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def pool_assets(client: httpx.Client, pool: str) -> list[dict[str, object]]:
    page = client.get(f"/api/pools/{pool}/assets", params={"limit": 500}).json()
    assert page["next_cursor"] is None
    items: list[dict[str, object]] = page["items"]
    return items


def failure_rows(output: str) -> dict[str, list[str]]:
    """The failure table: file name -> its cells (status, reason)."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 3 and cells[0] not in ("", "file"):
            rows[cells[0]] = cells[1:]
    return rows


def test_import_a_tree_then_run_it_again_and_everything_is_skipped(
        target: Target, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    pool = f"photos-{target.mode}"
    assert client.put(f"/api/pools/{pool}", json={"asset_types": ["image"]}).status_code == 201
    root = tmp_path / "photos"
    files = write(root, {
        "a.jpg": solid(300, 200, (200, 30, 30)),
        "b.png": solid(120, 90, (30, 200, 30), fmt=".png"),
        "2026/c.webp": solid(64, 48, (30, 30, 200), fmt=".webp"),
        "2026/05/d.jpg": solid(50, 80, (90, 90, 90)),
        "2026/05/copy-of-a.jpg": solid(300, 200, (200, 30, 30)),
        ".thumbnails/a.jpg": solid(10, 10, (1, 1, 1)),
        "2026/.DS_Store": b"\x00\x00\x00\x01Bud1",
    })
    sent = {n: d for n, d in files.items() if "/." not in f"/{n}" and "copy-of" not in n}

    first = cli("import", str(root), "--pool", pool, "--gallery", "trip-2026",
                "--concurrency", "3", *target.args, env=target.env(tokens["editor"]))
    assert first.exit_code == 0, first.output
    size = sum(len(d) for d in sent.values())
    assert f"imported 4 file(s) ({size:,} bytes), skipped 1 already there, 0 failed" in (
        first.stdout)
    assert "importing" in first.stderr and "5/5 files" in first.stderr  # the progress bar

    stored = pool_assets(client, pool)
    by_name = {a["filename"]: a for a in stored}
    assert sorted(by_name) == ["a.jpg", "b.png", "c.webp", "d.jpg"]
    for name, data in sent.items():
        asset = by_name[Path(name).name]
        assert (asset["sha256"], asset["size"]) == (sha256(data), len(data))
        assert (asset["gallery"], asset["creator"]) == ("trip-2026", target.creator)
        assert asset["type"] == "image"
    assert (by_name["a.jpg"]["width"], by_name["a.jpg"]["height"]) == (300, 200)
    assert by_name["c.webp"]["mime_type"] == "image/webp"
    thumb = client.get(by_name["d.jpg"]["versions"]["thumbnail"]["url"])  # type: ignore[index]
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"

    again = cli("import", str(root), "--pool", pool, *target.args,
                env=target.env(tokens["editor"]))
    assert again.exit_code == 0, again.output
    assert "imported 0 file(s) (0 bytes), skipped 5 already there, 0 failed" in again.stdout
    assert sorted(a["id"] for a in pool_assets(client, pool)) == sorted(
        a["id"] for a in stored)

    # A file added since is the only one sent.
    write(root, {"2026/05/new.png": solid(33, 44, (5, 6, 7), fmt=".png")})
    third = cli("import", str(root), "--pool", pool, *target.args,
                env=target.env(tokens["editor"]))
    assert third.exit_code == 0, third.output
    assert "imported 1 file(s)" in third.stdout and "skipped 5 already there" in third.stdout
    assert len(pool_assets(client, pool)) == 5


def test_bad_files_are_in_the_failure_table_and_the_exit_status_is_1(
        target: Target, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    pool = f"strict-{target.mode}"
    client.put(f"/api/pools/{pool}", json={"asset_types": ["image"], "max_size": 50_000})
    good = solid(200, 150)
    write(tmp_path / "in", {
        "good.jpg": good,
        "notes.txt": b"hello, not an image",
        "broken.jpg": good[: len(good) // 2],
        "huge.bin": os.urandom(60_000),
    })
    # A real process: its exit status is what a script sees.
    env = {**os.environ, **target.env(tokens["editor"])}
    run = subprocess.run(
        [sys.executable, "-m", "assetry", "import", str(tmp_path / "in"), "--pool", pool,
         *target.args], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "imported 1 file(s)" in run.stdout and "3 failed" in run.stdout
    assert "3 file(s) failed" in run.stdout
    rows = failure_rows(run.stdout)
    root = tmp_path / "in"
    assert rows == {
        str(root / "broken.jpg"): [
            "422", "not a decodable image/jpeg: VipsJpeg: premature end of JPEG image"],
        str(root / "huge.bin"): [
            "413", f"the file is 60000 bytes; pool '{pool}' accepts files of at most 50000"],
        str(root / "notes.txt"): ["415", f"pool '{pool}' does not accept file assets"],
    }
    assert [a["filename"] for a in pool_assets(client, pool)] == ["good.jpg"]


def test_export_writes_the_originals_and_a_manifest_that_lists_them(
        target: Target, client: httpx.Client, tokens: dict[str, str], tmp_path: Path) -> None:
    pool = f"archive-{target.mode}"
    client.put(f"/api/pools/{pool}", json={"public": False})  # bytes need the token

    def upload(name: str, data: bytes, **fields: str) -> dict[str, object]:
        r = client.post(f"/api/pools/{pool}/assets", files={"file": (name, data)}, data=fields)
        assert r.status_code == 201, r.text
        body: dict[str, object] = r.json()
        return body

    older = upload("same.jpg", solid(40, 30, (250, 0, 0)), metadata='{"alt": "red"}',
                   gallery="g-1")
    newer = upload("same.jpg", solid(40, 30, (0, 250, 0)), gallery="g-1")
    notes = upload("notes.txt", b"plain words\n")
    client.post(f"{notes['url']}/attachments", json={"resource": "pages/7"})
    hidden = upload("hidden.png", solid(8, 8, fmt=".png"))
    client.patch(str(hidden["url"]), json={"hidden": True})
    out = tmp_path / "backup"

    # Over HTTP a viewer's token is enough; it does not see the hidden asset. In-process
    # the library's local caller (an admin) does.
    result = cli("export", pool, str(out), *target.args, env=target.env(tokens["viewer"]))
    assert result.exit_code == 0, result.output
    ids = [str(a["id"]) for a in (older, newer, notes)]
    if target.mode == "local":
        ids.append(str(hidden["id"]))
    assert f"exported {len(ids)} file(s)" in result.stdout
    assert f"manifest: {out / 'manifest.json'}" in result.stdout

    written = json.loads((out / "manifest.json").read_text())
    assert (written["pool"], written["count"]) == (pool, len(ids))
    assert written["exported_at"].endswith("Z")
    assert [row["id"] for row in written["assets"]] == ids  # oldest first
    for row in written["assets"]:
        api = client.get(f"/api/assets/{row['id']}").json()
        fields = ("filename", "type", "sha256", "mime_type", "size", "width", "height",
                  "gallery", "metadata", "attached_to", "hidden", "created_at")
        assert {k: row[k] for k in fields} == {k: api[k] for k in fields}
        data = (out / row["path"]).read_bytes()
        assert sha256(data) == row["sha256"]
        assert data == client.get(api["content_url"]).content
    paths = {row["id"]: row["path"] for row in written["assets"]}
    assert paths[older["id"]] == "originals/same.jpg"
    assert paths[newer["id"]] == f"originals/same-{str(newer['id'])[:8]}.jpg"
    assert paths[notes["id"]] == "originals/notes.txt"
    assert written["assets"][2]["attached_to"] == ["pages/7"]
    assert written["assets"][0]["metadata"] == {"alt": "red"}
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == sorted(["manifest.json", *paths.values()])

    again = cli("export", pool, str(out), *target.args, env=target.env(tokens["viewer"]))
    assert again.exit_code == 0, again.output
    assert (f"exported 0 file(s) (0 bytes), skipped {len(ids)} already in the directory"
            in again.stdout)


def test_what_stops_a_run_before_it_starts_is_exit_2(
        target: Target, tokens: dict[str, str], tmp_path: Path) -> None:
    write(tmp_path, {"a.jpg": solid(10, 10)})
    unknown = cli("import", str(tmp_path), "--pool", "nope", *target.args,
                  env=target.env(tokens["editor"]))
    assert unknown.exit_code == 2
    assert unknown.stderr == "error: 404 no pool named 'nope'\n"
    listing = cli("export", "nope", str(tmp_path / "out"), *target.args,
                  env=target.env(tokens["editor"]))
    assert (listing.exit_code, listing.stderr) == (2, "error: 404 no pool named 'nope'\n")


def test_over_http_a_refused_token_or_no_server_is_exit_2(
        base_url: str, tokens: dict[str, str], tmp_path: Path) -> None:
    write(tmp_path / "in", {"a.jpg": solid(10, 10), "b.jpg": solid(11, 11)})
    viewer = cli("import", str(tmp_path / "in"), "--pool", "default", "--url", base_url,
                 env={**WIDE, "ASSETRY_TOKEN": tokens["viewer"]})
    assert viewer.exit_code == 2
    assert "imported 0 file(s)" in viewer.stdout
    assert ("403 adding assets needs role editor or above; this token is viewer"
            in viewer.stderr)
    assert "; 2 file(s) left. Once that is put right, run the same command again" in (
        viewer.stderr)

    anonymous = cli("import", str(tmp_path / "in"), "--pool", "default", "--url", base_url)
    assert anonymous.exit_code == 2
    assert anonymous.stderr.strip() == (
        "error: 401 reading pools and converters needs credentials (role viewer or above)")

    nobody = f"http://127.0.0.1:{free_port()}"
    gone = cli("export", "default", str(tmp_path / "out"), "--url", nobody)
    assert gone.exit_code == 2
    assert gone.stderr.startswith(f"error: no answer from {nobody}: ConnectError")

    both = cli("import", str(tmp_path / "in"), "--pool", "default", "--url", base_url,
               "--data-dir", str(tmp_path))
    assert both.exit_code == 2 and "--data-dir" in both.stderr


def test_an_export_of_a_public_pool_needs_no_token(client: httpx.Client, base_url: str,
                                                   tmp_path: Path) -> None:
    client.put("/api/pools/open-shelf", json={"public": True})
    data = solid(12, 12, (3, 3, 3))
    client.post("/api/pools/open-shelf/assets", files={"file": ("pic.jpg", data)})
    result = cli("export", "open-shelf", str(tmp_path), "--url", base_url)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "originals" / "pic.jpg").read_bytes() == data


def commands(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The name of every command under `command` (a group has `commands`)."""
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            yield from commands(sub, (*prefix, name))
    else:
        yield prefix


def test_every_command_help_carries_an_example() -> None:
    names = list(commands(typer.main.get_command(app)))
    assert {("import",), ("export",), ("serve",), ("tokens", "create")} <= set(names)
    for name in names:
        shown = cli(*name, "--help")
        assert shown.exit_code == 0, name
        assert "Example" in shown.stdout and f"assetry {' '.join(name)}" in shown.stdout, name
