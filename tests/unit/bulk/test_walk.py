"""Finding an import's files on a real file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assetry.bulk.walk import scan
from assetry.domain.bulk import Outcome


def make(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())


def test_directories_are_walked_recursively_in_name_order(tmp_path: Path) -> None:
    make(tmp_path / "photos", "b.jpg", "a.jpg", "2026/z.png", "2026/05/c.gif", "A.jpg")
    found = scan([tmp_path / "photos"])
    root = str(tmp_path / "photos")
    # A directory's files first, then its subdirectories, each in name order.
    assert [f.name for f in found.files] == [
        f"{root}/A.jpg", f"{root}/a.jpg", f"{root}/b.jpg", f"{root}/2026/z.png",
        f"{root}/2026/05/c.gif"]
    assert [f.size for f in found.files] == [5, 5, 5, len("2026/z.png"), len("2026/05/c.gif")]
    assert all(f.path.is_absolute() for f in found.files)
    assert found.problems == ()


def test_dot_names_are_left_out_below_a_directory_but_taken_when_named(
        tmp_path: Path) -> None:
    make(tmp_path, "tree/a.jpg", "tree/.DS_Store", "tree/.git/HEAD", "tree/sub/.hidden.png",
         "tree/sub/b.png", ".secret.jpg")
    found = scan([tmp_path / "tree", tmp_path / ".secret.jpg"])
    assert [Path(f.name).relative_to(tmp_path).as_posix() for f in found.files] == [
        "tree/a.jpg", "tree/sub/b.png", ".secret.jpg"]


def test_each_file_once_in_the_order_of_the_arguments(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, "d/a.jpg", "d/b.jpg", "c.jpg")
    monkeypatch.chdir(tmp_path)
    found = scan([Path("c.jpg"), Path("d"), Path("d/a.jpg"), Path("./c.jpg")])
    assert [f.name for f in found.files] == ["c.jpg", "d/a.jpg", "d/b.jpg"]


def test_symbolic_links_to_files_are_taken_to_directories_not_followed(tmp_path: Path) -> None:
    make(tmp_path, "store/x1", "other/o.jpg")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "cover.jpg").symlink_to(tmp_path / "store" / "x1")
    (tmp_path / "tree" / "loop").symlink_to(tmp_path / "tree")
    (tmp_path / "tree" / "elsewhere").symlink_to(tmp_path / "other")
    (tmp_path / "tree" / "dangling.jpg").symlink_to(tmp_path / "nowhere")
    found = scan([tmp_path / "tree"])
    assert [(Path(f.name).name, f.path) for f in found.files] == [
        ("cover.jpg", tmp_path / "store" / "x1")]
    assert found.problems == ()


def test_what_cannot_be_listed_or_read_is_a_failed_result(tmp_path: Path) -> None:
    make(tmp_path, "tree/ok.jpg")
    os.mkfifo(tmp_path / "pipe")
    # A directory too deep to list by its path (PATH_MAX), made one level at a time;
    # unlike a chmod 0 directory, it cannot be listed by root either.
    fd = os.open(tmp_path / "tree", os.O_RDONLY)
    for level in range(18):
        os.mkdir(f"{level:02d}" + "d" * 240, dir_fd=fd)
        deeper = os.open(f"{level:02d}" + "d" * 240, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(fd)
    found = scan([tmp_path / "tree", tmp_path / "pipe"])
    assert [Path(f.name).name for f in found.files] == ["ok.jpg"]
    deep, pipe = found.problems
    assert deep.name.startswith(str(tmp_path / "tree" / ("00" + "d" * 240)))
    assert (deep.outcome, deep.reason) == (Outcome.FAILED, "cannot read it: File name too long")
    assert (pipe.name, pipe.outcome, pipe.reason) == (
        str(tmp_path / "pipe"), Outcome.FAILED, "not a regular file or directory")
