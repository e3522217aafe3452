"""Finding the files an import sends: the paths given, directories walked recursively."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assetry.domain.bulk import LocalFile, Outcome, Result, plan_import, visible


@dataclass(frozen=True, slots=True)
class Found:
    files: tuple[LocalFile, ...]
    problems: tuple[Result, ...]  #: what could not be listed or read (failed results)


def scan(paths: Sequence[Path]) -> Found:
    """Every regular file named by `paths`, in their order: a file as it is; a directory
    walked recursively in name order, leaving out dot names (.git, .DS_Store) and not
    following symbolic links to directories (they could loop). Each file once."""
    files: list[LocalFile] = []
    problems: list[Result] = []

    def listing_failed(exc: OSError) -> None:
        problems.append(_unreadable(str(exc.filename), exc))

    def add(path: Path) -> None:
        try:
            files.append(LocalFile(path=path.resolve(), name=str(path), size=path.stat().st_size))
        except OSError as exc:
            problems.append(_unreadable(str(path), exc))

    for given in paths:
        if not given.is_dir():
            if given.is_file():
                add(given)
            else:
                problems.append(Result(str(given), Outcome.FAILED,
                                       reason="not a regular file or directory"))
            continue
        for top, dirs, names in os.walk(given, onerror=listing_failed):
            here = Path(top)
            below = here.relative_to(given)
            dirs[:] = sorted(d for d in dirs if visible(below / d))
            for name in sorted(names):
                if visible(below / name) and (here / name).is_file():
                    add(here / name)
    return Found(plan_import(files), tuple(problems))


def _unreadable(name: str, exc: OSError) -> Result:
    return Result(name, Outcome.FAILED, reason=f"cannot read it: {exc.strerror or exc}")
