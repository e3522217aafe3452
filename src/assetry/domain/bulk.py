"""Bulk import and export, the parts that need no I/O: which found files an import sends
and which it skips, how exported originals are named, what a manifest row says, and the
tally of a run.

The walk of the file system, the hashing and the calls to a server live in
`assetry.bulk`; everything here takes plain values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any
from uuid import UUID

from assetry.domain.media import sanitize_filename

#: the manifest an export writes beside the originals
MANIFEST = "manifest.json"
#: the directory (under the export directory) that holds the originals
ORIGINALS = "originals"

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A regular file an import found."""

    path: Path  #: where to read it (resolved: two spellings of one file are one file)
    name: str  #: as the user would write it: the given path, joined with its place below
    size: int


def visible(below_root: PurePosixPath | Path) -> bool:
    """Whether a directory walk takes this entry: not when it, or a directory between it
    and the walk's root, has a dot name (.git, .DS_Store, .thumbnails). A path given on
    the command line is always taken."""
    return not any(part.startswith(".") for part in below_root.parts)


def plan_import(found: Iterable[LocalFile]) -> tuple[LocalFile, ...]:
    """The files to send, in the order found, each file once however often it was named
    (`photos photos/a.jpg` names a.jpg twice)."""
    seen: set[Path] = set()
    plan = []
    for f in found:
        if f.path not in seen:
            seen.add(f.path)
            plan.append(f)
    return tuple(plan)


def oversize(size: int, max_size: int, pool: str) -> str | None:
    """Why a file of `size` bytes cannot go into the pool, or None when it fits. Checked
    before sending: the server would refuse it anyway, after the bytes had travelled."""
    if size <= max_size:
        return None
    return f"the file is {size} bytes; pool '{pool}' accepts files of at most {max_size}"


class Claims:
    """The digests an import has met so far. The first file to claim some bytes is
    sent; later files with the same bytes are copies of it and are skipped. (The import
    makes its files claim in the order found.)"""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}

    def claim(self, sha256: str, name: str) -> str | None:
        """None when `name` is the first with these bytes, else the name of the first."""
        first = self._first.setdefault(sha256, name)
        return None if first == name else first


class Outcome(StrEnum):
    DONE = "done"  #: imported, or exported
    SKIPPED = "skipped"  #: already there (in the pool, or in the export directory)
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    """What happened to one file."""

    name: str  #: the local name (import) or the path in the export directory (export)
    outcome: Outcome
    size: int = 0
    reason: str = ""  #: why it was skipped or failed: for a refusal, the server's detail
    status: int | None = None  #: the HTTP status of a refusal (in-process: the same table)
    asset_id: str | None = None


@dataclass(slots=True)
class Report:
    """The tally of a run, in the order the results came."""

    planned: int = 0  #: how many files the run was to go through
    results: list[Result] = field(default_factory=list)
    stopped: str | None = None  #: why the run stopped before the end, if it did

    def add(self, result: Result) -> None:
        self.results.append(result)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    def bytes(self, outcome: Outcome) -> int:
        return sum(r.size for r in self.results if r.outcome is outcome)

    @property
    def failures(self) -> list[Result]:
        """The failed files by name."""
        return sorted((r for r in self.results if r.outcome is Outcome.FAILED),
                      key=lambda r: r.name)

    @property
    def exit_code(self) -> int:
        """0 when everything went or was there already, 1 when a file failed, 2 when the
        run stopped early (the server unreachable, the token refused)."""
        if self.stopped is not None:
            return 2
        return 1 if self.failures else 0


@dataclass(frozen=True, slots=True)
class StoredAsset:
    """An asset as the API describes it: what an export needs and what it writes down."""

    id: str
    type: str
    filename: str
    sha256: str
    mime_type: str
    size: int
    width: int | None
    height: int | None
    gallery: str
    metadata: dict[str, Any]
    attached_to: tuple[str, ...]
    hidden: bool
    created_at: str  #: RFC 3339, as the API writes it

    @classmethod
    def from_json(cls, body: Any) -> StoredAsset:
        """Read the Asset JSON of the API. Raises ValueError when it is not one: a
        server's answer decides names and paths here, so it is checked, not trusted."""
        if not isinstance(body, Mapping) or not _asset_shaped(body):
            raise ValueError(f"not an asset: {body!r}"[:300])
        return cls(
            id=str(UUID(body["id"])), type=body["type"], filename=body["filename"],
            sha256=body["sha256"], mime_type=body["mime_type"], size=body["size"],
            width=body["width"], height=body["height"], gallery=body["gallery"],
            metadata=body["metadata"], attached_to=tuple(body["attached_to"]),
            hidden=body["hidden"], created_at=body["created_at"])


def _asset_shaped(body: Mapping[str, Any]) -> bool:
    texts = ("id", "type", "filename", "sha256", "mime_type", "gallery", "created_at")
    if not all(isinstance(body.get(k), str) for k in texts):
        return False
    try:
        UUID(body["id"])
    except ValueError:
        return False
    attached = body.get("attached_to")
    return (bool(_SHA256.fullmatch(body["sha256"]))
            and type(body.get("size")) is int and body["size"] >= 0
            and all(k in body and (body[k] is None or type(body[k]) is int)
                    for k in ("width", "height"))
            and isinstance(body.get("metadata"), dict)
            and isinstance(attached, list) and all(isinstance(r, str) for r in attached)
            and isinstance(body.get("hidden"), bool))


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """What a run needs to know of its pool."""

    name: str
    max_size: int

    @classmethod
    def from_json(cls, body: Any) -> PoolInfo:
        """Read the Pool JSON of the API. Raises ValueError when it is not one."""
        if (not isinstance(body, Mapping) or not isinstance(body.get("name"), str)
                or type(body.get("max_size")) is not int):
            raise ValueError(f"not a pool: {body!r}"[:300])
        return cls(name=body["name"], max_size=body["max_size"])


def export_paths(assets: Sequence[StoredAsset]) -> dict[str, str]:
    """Asset id -> the file's path in the export directory (`originals/<name>`, POSIX).

    Names are the sanitised filenames (no path parts, whatever the server said), unique
    also to file systems that ignore case. Earlier assets in `assets` keep their names;
    a later one whose name is taken gets `-<first 8 of its id>` before the extension
    (then its whole id, then a counter). With `assets` oldest first, a file keeps its
    name when newer assets arrive, so a repeated export finds it again.
    """
    taken: set[str] = set()
    paths: dict[str, str] = {}
    for asset in assets:
        name = sanitize_filename(asset.filename)
        tries = [name, _suffixed(name, asset.id[:8]), _suffixed(name, asset.id)]
        tries += (_suffixed(name, f"{asset.id}-{n}") for n in range(2, len(assets) + 3))
        chosen = next(n for n in tries if n.casefold() not in taken)
        taken.add(chosen.casefold())
        paths[asset.id] = f"{ORIGINALS}/{chosen}"
    return paths


def _suffixed(name: str, suffix: str) -> str:
    """`name` with `-suffix` before its extension, shortened to stay within 255 bytes."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) >= 16:
        stem, dot, ext = name, "", ""
    while len(f"{stem}-{suffix}{dot}{ext}".encode()) > 255:
        stem = stem[:-1]
    return f"{stem}-{suffix}{dot}{ext}"


def manifest_row(asset: StoredAsset, path: str) -> dict[str, Any]:
    """One asset in the manifest: its facts and where its original was written."""
    return {
        "id": asset.id, "path": path, "filename": asset.filename, "type": asset.type,
        "sha256": asset.sha256, "mime_type": asset.mime_type, "size": asset.size,
        "width": asset.width, "height": asset.height, "gallery": asset.gallery,
        "metadata": asset.metadata, "attached_to": list(asset.attached_to),
        "hidden": asset.hidden, "created_at": asset.created_at,
    }


def manifest(pool: str, rows: Sequence[dict[str, Any]], exported_at: str) -> dict[str, Any]:
    """The whole manifest document."""
    return {"pool": pool, "exported_at": exported_at, "count": len(rows), "assets": list(rows)}
