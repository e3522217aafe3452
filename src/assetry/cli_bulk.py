"""`assetry import` and `assetry export`: many files into a pool, a pool into a directory.

Both work on the local data directory in-process, or with --url on a running server over
HTTP; the runs themselves are in assetry.bulk. Exit status: 0 when every file went (or
was there already), 1 when some failed, 2 when the run could not start or had to stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from assetry.bulk.ports import AssetClient, Refused
from assetry.domain.bulk import MANIFEST, Outcome, Report, Result

bulk_app = typer.Typer()

Url = Annotated[str | None, typer.Option(
    help="A running server's base URL. Without it: the local data directory, in-process.")]
Token = Annotated[str | None, typer.Option(
    envvar="ASSETRY_TOKEN", help="Bearer token for --url.")]
DataDir = Annotated[Path | None, typer.Option(
    help="Data directory, without --url (ASSETRY_DATA_DIR).")]
Concurrency = Annotated[int, typer.Option(min=1, max=32, help="Files in flight at once.")]


@bulk_app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(
        exists=True, help="Files, and directories to import recursively (dot names are "
                          "left out).")],
    pool: Annotated[str, typer.Option(help="The pool to import into.")],
    gallery: Annotated[str | None, typer.Option(help="Put every file into this gallery.")
                       ] = None,
    converter: Annotated[str | None, typer.Option(
        help="Converter for the images' versions (default: the pool's).")] = None,
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    concurrency: Concurrency = 4,
) -> None:
    """Import files and directory trees into a pool.

    Files whose bytes (SHA-256) the pool holds already are skipped: run it again to go on.

    Exit status: 1 when a file failed, 2 when the import could not start or had to stop.

    Example: assetry import ~/photos scans/receipt.pdf --pool default --gallery trip-2026

    Example: ASSETRY_TOKEN=$TOKEN assetry import ~/photos --pool archive --url http://127.0.0.1:8000
    """
    from assetry.bulk.importer import ImportOptions, import_files
    from assetry.bulk.walk import scan

    found = scan(paths)
    options = ImportOptions(pool=pool, gallery=gallery, converter=converter,
                            concurrency=concurrency)

    async def run(client: AssetClient, bar: _Bar) -> Report:
        report = await import_files(client, found.files, options, bar)
        for problem in found.problems:  # what the walk could not read
            report.planned += 1
            report.add(problem)
        return report

    report = _run(url, token, data_dir, run, "importing")
    _tally(report, done="imported", skipped="already there")
    raise typer.Exit(report.exit_code)


@bulk_app.command("export")
def export(
    pool: Annotated[str, typer.Argument(help="The pool to export.")],
    directory: Annotated[Path, typer.Argument(
        file_okay=False, help="Where originals/ and manifest.json go (made if missing).")],
    url: Url = None,
    token: Token = None,
    data_dir: DataDir = None,
    concurrency: Concurrency = 4,
) -> None:
    """Write a pool's originals and a JSON manifest of them into a directory.

    The originals go into DIRECTORY/originals/, the manifest into DIRECTORY/manifest.json.

    Files already there with the right bytes are skipped: run it again to go on.

    Exit status: 1 when a file failed, 2 when the export could not start or had to stop.

    Example: assetry export default backup/

    Example: ASSETRY_TOKEN=$TOKEN assetry export archive backup/ --url http://127.0.0.1:8000
    """
    from assetry.bulk.exporter import ExportOptions, export_pool

    options = ExportOptions(pool=pool, directory=directory, concurrency=concurrency)

    async def run(client: AssetClient, bar: _Bar) -> Report:
        return await export_pool(client, options, bar)

    report = _run(url, token, data_dir, run, "exporting")
    _tally(report, done="exported", skipped="already in the directory")
    typer.echo(f"manifest: {directory / MANIFEST}")
    raise typer.Exit(report.exit_code)


class _Bar:
    """A run's Progress as a Rich progress bar on stderr: files, bytes, rate and ETA.
    It appears at start(), once the pool is known to be there."""

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.fields[files]}/{task.fields[of]} files"), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
        self._task: TaskID | None = None
        self._files = 0

    def start(self, files: int, size: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task(self._verb, total=size, files=0, of=files)

    def finished(self, result: Result) -> None:
        assert self._task is not None, "finished() before start()"
        self._files += 1
        self._bar.update(self._task, advance=result.size, files=self._files)

    def close(self) -> None:
        if self._task is not None:  # stopping a bar never started prints an empty line
            self._bar.stop()


def _run(url: str | None, token: str | None, data_dir: Path | None,
         run: Callable[[AssetClient, _Bar], Awaitable[Report]], verb: str) -> Report:
    """Open the client, run with a progress bar, return the report. A refusal before the
    run starts (unknown pool, no server, bad token) ends the command with exit 2."""
    if url is not None and data_dir is not None:
        raise typer.BadParameter("a server at --url has its own data directory",
                                 param_hint="--data-dir")
    if url is not None and not url.startswith(("http://", "https://")):
        raise typer.BadParameter("must start with http:// or https://", param_hint="--url")

    async def go() -> Report:
        bar = _Bar(verb)
        try:
            async with _client(url, token, data_dir) as client:
                return await run(client, bar)
        finally:
            bar.close()

    try:
        return asyncio.run(go())
    except Refused as exc:
        status = f"{exc.status} " if exc.status is not None else ""
        typer.echo(f"error: {status}{exc.detail}", err=True)
        raise typer.Exit(2) from None


@asynccontextmanager
async def _client(url: str | None, token: str | None, data_dir: Path | None
                  ) -> AsyncIterator[AssetClient]:
    if url is not None:
        from assetry.bulk.http import HttpClient

        async with HttpClient.open(url, token) as remote:
            yield remote
        return
    from assetry.bulk.local import LocalClient
    from assetry.config import Settings

    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    async with LocalClient.open(settings) as local:
        yield local


def _tally(report: Report, *, done: str, skipped: str) -> None:
    """Print the tally, the failures with their reasons, and why the run stopped."""
    out = Console(highlight=False)
    out.print(f"{done} {report.count(Outcome.DONE)} file(s) "
              f"({report.bytes(Outcome.DONE):,} bytes), "
              f"skipped {report.count(Outcome.SKIPPED)} {skipped}, "
              f"{report.count(Outcome.FAILED)} failed", soft_wrap=True)
    if failures := report.failures:
        table = Table(title=f"{len(failures)} file(s) failed", title_justify="left")
        table.add_column("file", overflow="fold")
        table.add_column("status")
        table.add_column("reason", overflow="fold")
        for f in failures:
            table.add_row(escape(f.name), str(f.status or "-"), escape(f.reason))
        out.print(table)
    if report.stopped is not None:
        left = report.planned - len(report.results)
        typer.echo(f"stopped: {report.stopped}; {left} file(s) left. Once that is put "
                   "right, run the same command again to go on.", err=True)
