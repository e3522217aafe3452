"""`assetry transfer`: move everything to other back-ends, with progress bars, a SHA-256
check of every blob, and resumption. Exit status: 0 when everything is there and
verified, 1 when some blob failed or is missing, 2 when the transfer could not start or
had to stop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich import filesize
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from assetry.config import Settings
from assetry.errors import BackendUnavailable, ConfigError
from assetry.services.transfer import Report

transfer_app = typer.Typer()


@transfer_app.command("transfer")
def transfer(
    to_database: Annotated[str | None, typer.Option(
        help="The database to copy every row into: postgresql://USER@HOST:PORT/DB or "
             "sqlite:///PATH (migrated first). Left out: the rows stay where they are.")
    ] = None,
    to_storage: Annotated[str | None, typer.Option(
        help="The blob store to copy every blob into: s3://BUCKET?endpoint=URL&…, "
             "file:///PATH. Left out: the blobs stay where they are.")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="Data directory of the installation to copy (ASSETRY_DATA_DIR).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Blobs in flight at once.")
                           ] = 4,
) -> None:
    """Copy every pool, converter, token, asset, version and blob to other back-ends.

    The source is the current configuration (ASSETRY_DATABASE_URL, ASSETRY_STORAGE_URL).

    Blobs go first, each checked by SHA-256 in the target; then the rows, ids and all.

    What the target has already, with the right SHA-256, is skipped: run it again to go on.

    Stop the servers and workers first: what changes meanwhile may be missed.

    Exit status: 1 when a blob failed or is missing in the target, 2 when it could not go on.

    Example: assetry transfer --data-dir var --to-database postgresql://app@db/app --to-storage s3://assets
    """
    from assetry.bootstrap import open_transfer

    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()

    async def run() -> Report:
        bars = _Bars()
        try:
            async with open_transfer(settings, to_database=to_database, to_storage=to_storage,
                                     concurrency=concurrency) as service:
                return await service.run(bars)
        finally:
            bars.close()

    try:
        report = asyncio.run(run())
    except (ConfigError, BackendUnavailable) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        if isinstance(exc, BackendUnavailable):
            typer.echo("Once that is put right, run the same command again to go on.",
                       err=True)
        raise typer.Exit(2) from None
    _tally(report)
    raise typer.Exit(0 if report.ok else 1)


class _Bars:
    """Progress as Rich bars on stderr: blobs in bytes, rows in rows."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:5}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[amount]}"), TimeRemainingColumn(),
            console=Console(stderr=True))
        self._tasks: dict[str, TaskID] = {}

    def begin(self, stage: str, total: int) -> None:
        if not self._tasks:
            self._progress.start()
        self._tasks[stage] = self._progress.add_task(stage, total=total,
                                                     amount=self._amount(stage, 0, total))

    def advance(self, stage: str, amount: int) -> None:
        task = self._tasks[stage]
        self._progress.advance(task, amount)
        done = self._progress.tasks[task].completed
        total = self._progress.tasks[task].total or 0
        self._progress.update(task, amount=self._amount(stage, int(done), int(total)))

    def close(self) -> None:
        if self._tasks:
            self._progress.stop()

    @staticmethod
    def _amount(stage: str, done: int, total: int) -> str:
        if stage == "blobs":
            return f"{filesize.decimal(done)} of {filesize.decimal(total)}"
        return f"{done:,} of {total:,} rows"


def _tally(report: Report) -> None:
    out = Console(highlight=False)
    if report.rows:
        rows = ", ".join(f"{table} {count}" for table, count in report.rows.items())
        out.print(f"rows: {rows}", soft_wrap=True)
    out.print(f"blobs: copied {report.copied} ({report.copied_bytes:,} bytes), "
              f"skipped {report.skipped} already there with the right SHA-256, "
              f"{len(report.failed)} failed", soft_wrap=True)
    if report.failed:
        table = Table(title=f"{len(report.failed)} blob(s) failed", title_justify="left")
        table.add_column("blob", overflow="fold")
        table.add_column("reason", overflow="fold")
        for key, reason in report.failed:
            table.add_row(escape(key), escape(reason))
        out.print(table)
    failed = {key for key, _ in report.failed}
    for key in report.missing:
        if key not in failed:
            out.print(f"missing in the target: {escape(key)}", soft_wrap=True)
    if report.ok:
        out.print("every row's blob is in the target store, verified by SHA-256")
