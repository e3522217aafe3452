"""The `assetry` command: serve, worker, migrate, tokens, regenerate, gc, verify, doctor,
config; import and export (cli_bulk.py); transfer (cli_transfer.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import typer

from assetry.cli_bulk import bulk_app
from assetry.cli_transfer import transfer_app
from assetry.config import Settings

T = TypeVar("T")

app = typer.Typer(help="Assetry: a self-hosted asset and image service.", no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option(help="Data directory (ASSETRY_DATA_DIR).")]


def _settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pyvips logs every operation it builds at INFO; that is noise in an operator's log.
    logging.getLogger("pyvips").setLevel(logging.WARNING)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (ASSETRY_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ASSETRY_PORT).")] = None,
    data_dir: DataDir = None,
    workers: Annotated[int | None, typer.Option(help="Background render workers.")] = None,
    processes: Annotated[int | None, typer.Option(
        help="HTTP worker processes (ASSETRY_PROCESSES); 0: one per CPU core.")] = None,
) -> None:
    """Serve the HTTP API on every core (migrations are applied first).

    Example: assetry serve --host 127.0.0.1 --port 8000 --data-dir /srv/assetry
    """
    import uvicorn

    from assetry.process import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread or worker process starts
    overrides = {"host": host, "port": port, "render_workers": workers, "processes": processes}
    settings = _settings(data_dir, **overrides)
    _logging(settings.log_level)
    count = settings.process_count
    logging.getLogger("assetry").info(
        "serving on http://%s:%d with data in %s (%d process%s)", settings.host,
        settings.port, settings.data_dir.resolve(), count, "es" if count > 1 else "")
    # Worker processes build their settings from the environment: hand them ours.
    if data_dir is not None:
        os.environ["ASSETRY_DATA_DIR"] = str(data_dir.resolve())
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"ASSETRY_{name.upper()}"] = str(value)
    # Metrics: every worker process keeps its values in one directory, and /metrics
    # answered by any of them sums all (prometheus_client's multiprocess mode). Set
    # before any worker (or, with one process, the app) imports prometheus_client.
    from assetry.telemetry.multiprocess import ENVIRONMENT, claim_directory

    os.environ[ENVIRONMENT] = str(claim_directory(settings.run_dir))
    # Once, before any worker starts (they must not race to migrate), and in a child
    # process: this supervisor then never loads the app's libraries and stays small.
    subprocess.run([sys.executable, "-m", "assetry", "migrate"], check=True,
                   stdout=subprocess.DEVNULL)
    # Above info uvicorn would still build every access line only to drop it (1.5-2 %
    # of a small delivery).
    access_log = settings.log_level.lower() in ("trace", "debug", "info")
    options: dict[str, Any] = {"host": settings.host, "port": settings.port,
                               "log_level": settings.log_level, "proxy_headers": False,
                               "server_header": False, "access_log": access_log}
    if count == 1:
        from assetry.process import short_gil_turns
        from assetry.web.app import create_app

        short_gil_turns()  # this process serves: as app_from_environment does in workers
        uvicorn.run(create_app(settings, migrate=False), **options)
        return
    from assetry.web.serving import serve_processes

    serve_processes(uvicorn.Config("assetry.web.app:app_from_environment", factory=True,
                                   workers=count, **options))


@app.command()
def migrate(data_dir: DataDir = None) -> None:
    """Apply every database migration (idempotent).

    Example: assetry migrate --data-dir var
    """
    from assetry.bootstrap import migrate_database

    migrate_database(_settings(data_dir))
    typer.echo("database is at the newest schema")


@app.command()
def worker(data_dir: DataDir = None,
           once: Annotated[bool, typer.Option(help="Run due jobs, then exit.")] = False) -> None:
    """Run background render jobs without serving HTTP.

    Example: assetry worker --once --data-dir var
    """
    from assetry.bootstrap import open_services
    from assetry.process import limit_malloc_arenas, short_gil_turns

    limit_malloc_arenas()
    short_gil_turns()
    settings = _settings(data_dir)
    _logging(settings.log_level)

    async def run() -> None:
        async with open_services(settings, run_worker=False) as services:
            if once:
                typer.echo(f"ran {await services.worker.run_until_idle()} job(s)")
                return
            services.worker.start()  # even with ASSETRY_RENDER_WORKERS=0: that is our job
            # SIGTERM (systemctl stop) as SIGINT: stop, handing running jobs back at once.
            stopping = asyncio.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
            try:
                await stopping.wait()
            finally:
                await services.worker.stop()

    asyncio.run(run())


@app.command()
def regenerate(
    pool: Annotated[str, typer.Option(help="Pool whose images to re-render.")] = "default",
    data_dir: DataDir = None,
) -> None:
    """Mark every version of every image in a pool pending and queue its render.

    Example: assetry regenerate --pool default --data-dir var
    """
    from assetry.bootstrap import open_services
    from assetry.domain.model import Actor, Role

    async def run() -> int:
        count, cursor = 0, None
        async with open_services(_settings(data_dir), run_worker=False) as services:
            admin = Actor(name="cli", role=Role.ADMIN)
            while True:
                page = await services.assets.list(pool, admin, type="image", limit=200,
                                                  cursor=cursor)
                for asset in page.items:
                    await services.versions.reset(asset.id)
                    count += 1
                if page.next_cursor is None:
                    return count
                cursor = page.next_cursor

    typer.echo(f"queued {asyncio.run(run())} image(s) for rendering")


@app.command()
def gc(data_dir: DataDir = None,
       dry_run: Annotated[bool, typer.Option(help="Only list what would go.")] = False) -> None:
    """Trim stored transform results to ASSETRY_TRANSFORMS_PER_POOL per pool (least recently
    used first), delete blobs that no row points at (left by a crash between two steps),
    expired resumable uploads with the bytes they hold, and expired direct uploads with
    their objects.

    Example: assetry gc --dry-run --data-dir var
    """
    from assetry.bootstrap import open_services
    from assetry.services.direct_uploads import Collected as DirectCollected
    from assetry.services.resumable import Collected

    settings = _settings(data_dir)

    async def run() -> tuple[list[str], list[str], Collected, DirectCollected]:
        async with open_services(settings, run_worker=False) as services:
            trimmed = await services.transforms.trim(settings.transforms_per_pool,
                                                     dry_run=dry_run)
            return (trimmed, await services.maintenance.gc(dry_run=dry_run),
                    await services.resumable.collect(dry_run=dry_run),
                    await services.direct_uploads.collect(dry_run=dry_run))

    trimmed, orphans, uploads, direct = asyncio.run(run())
    for key in [*trimmed, *orphans, *uploads.strays, *direct.objects]:
        typer.echo(key)
    for upload_id in uploads.uploads:
        typer.echo(f"upload {upload_id}")
    for upload_id in direct.uploads:
        typer.echo(f"direct upload {upload_id}")
    verb = "found" if dry_run else "deleted"
    typer.echo(f"{len(trimmed)} stored transform result(s) over ASSETRY_TRANSFORMS_PER_POOL "
               f"({settings.transforms_per_pool}) {verb}, least recently used first")
    blobs = len(orphans) + len(uploads.strays) + len(direct.objects)
    typer.echo(f"{blobs} orphaned blob(s) {verb}")
    typer.echo(f"{len(uploads.uploads)} expired upload(s) {verb}")
    typer.echo(f"{len(direct.uploads)} expired direct upload(s) {verb}")


@app.command()
def verify(data_dir: DataDir = None) -> None:
    """Report rows whose blobs are missing (exit 1 if any).

    Example: assetry verify --data-dir var || echo 'blobs are missing'
    """
    from assetry.bootstrap import open_services

    async def run() -> list[str]:
        async with open_services(_settings(data_dir), run_worker=False) as services:
            return (await services.maintenance.scan()).missing

    missing = asyncio.run(run())
    for key in missing:
        typer.echo(f"missing: {key}")
    typer.echo(f"{len(missing)} missing blob(s)")
    raise typer.Exit(1 if missing else 0)


@app.command("sign-url")
def sign_url(
    asset_id: Annotated[str, typer.Argument(help="The image's asset id.")],
    w: Annotated[int | None, typer.Option("--w", help="Width, 1 to 4096.")] = None,
    h: Annotated[int | None, typer.Option("--h", help="Height, 1 to 4096.")] = None,
    fit: Annotated[str | None, typer.Option(help="cover, contain, inside or fill.")] = None,
    gravity: Annotated[str | None, typer.Option(help="centre, attention or focal.")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", help="same, jpeg, png, webp, avif, gif or tiff.")] = None,
    q: Annotated[int | None, typer.Option("--q", help="Quality, 1 to 100.")] = None,
    ttl: Annotated[int | None, typer.Option(
        help="Seconds the URL stays valid (adds exp); default: for ever.")] = None,
    base_url: Annotated[str, typer.Option(help="Put before the path, e.g. "
                                          "https://img.example.org.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Print a signed on-the-fly transform URL (GET /api/assets/{id}/render) of an image in
    a pool with `transforms: signed`. Signs with the URL signing key of these settings;
    it needs no server and checks only the spec.

    Example: assetry sign-url 7b0f2c1e-… --w 640 --h 480 --format webp --data-dir var
    """
    import time
    from uuid import UUID

    from assetry.bootstrap import url_signer
    from assetry.errors import AssetryError
    from assetry.services.transforms import TransformService

    try:
        asset = UUID(asset_id)
    except ValueError:
        typer.echo(f"error: {asset_id!r} is not an asset id (a UUID)", err=True)
        raise typer.Exit(1) from None
    params: dict[str, str | int | None] = {"w": w, "h": h, "fit": fit, "gravity": gravity,
                                           "format": format, "q": q}
    if ttl is not None:
        params["exp"] = int(time.time()) + ttl
    try:
        url = TransformService.sign(url_signer(_settings(data_dir)), asset, params)
    except AssetryError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(base_url.rstrip("/") + url)


@app.command()
def doctor(data_dir: DataDir = None) -> None:
    """Report the image formats this installation reads and writes, the libvips version,
    the HEIC decoder, and whether the database and the blob store answer (exit 1 if one
    does not). Changes nothing.

    Example: assetry doctor --data-dir var
    """
    from assetry import __version__
    from assetry.bootstrap import diagnose

    settings = _settings(data_dir)
    report = asyncio.run(diagnose(settings))
    codecs = report.codecs
    heif = f"; libheif {codecs.libheif} (pillow-heif)" if codecs.libheif else ""
    typer.echo(f"Assetry {__version__}: libvips {codecs.libvips} (pyvips {codecs.pyvips}){heif}")
    typer.echo(f"HEIC decoder: {codecs.heic_decoder or 'none (HEIC uploads are refused)'}")
    typer.echo("")
    typer.echo(f"{'format':<8}{'reads':<7}writes")
    for codec in codecs.formats:
        line = f"{codec.format:<8}{_yes(codec.reads):<7}{_yes(codec.writes):<8}{codec.note}"
        typer.echo(line.rstrip())
    typer.echo(f"libvips can save: {' '.join(codecs.suffixes)} (uploads are sniffed and "
               "only the formats above are ever decoded)")
    typer.echo("")
    where = {"database": settings.db_url, "storage": settings.blob_url}
    for name, state in report.backends.items():
        detail = mask_url(where[name]) or ""
        state = state.splitlines()[0] if state else state
        if name == "database" and state == "ok":
            schema = report.schema or "none: run `assetry migrate`"
            detail += (f" (schema {schema}, the newest)" if report.schema == report.newest_schema
                       else f" (schema {schema}; the newest is {report.newest_schema})")
        typer.echo(f"{name:<10}{state}  ({detail})" if state != "ok" else
                   f"{name:<10}ok  {detail}")
    raise typer.Exit(0 if all(v == "ok" for v in report.backends.values()) else 1)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


@app.command()
def config(data_dir: DataDir = None) -> None:
    """Print the effective settings as JSON.

    Example: assetry config --data-dir var
    """
    values = _settings(data_dir).model_dump(mode="json")
    for key in ("database_url", "storage_url"):
        values[key] = mask_url(values[key])
    typer.echo(json.dumps(values, indent=2))


def mask_url(url: str | None) -> str | None:
    """The URL with any password and secret query values replaced by ***."""
    if not url:
        return url
    parts = urlsplit(url)
    secret_keys = ("secret", "password", "token", "key")
    if not parts.password and not any(
        s in k.lower() for k, _ in parse_qsl(parts.query) for s in secret_keys
    ):
        return url  # nothing to hide; keep the URL exactly (sqlite:////abs/path)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    query = "&".join(
        f"{k}=***" if any(s in k.lower() for s in ("secret", "password", "token", "key")) else
        f"{k}={v}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


tokens_app = typer.Typer(help="Bearer tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
app.add_typer(bulk_app)  # import and export
app.add_typer(transfer_app)  # transfer


@tokens_app.command("create")
def tokens_create(
    role: Annotated[str, typer.Option(help="viewer, editor, moderator or admin.")],
    name: Annotated[str | None, typer.Option(help="A name for logs and `creator`.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a token and print only the token.

    Example: TOKEN=$(assetry tokens create --role editor --name cms --data-dir var)
    """
    from assetry.bootstrap import open_services

    async def run() -> str:
        async with open_services(_settings(data_dir), run_worker=False) as services:
            return (await services.tokens.create(role, name))[1]

    typer.echo(_or_exit(run))


@tokens_app.command("list")
def tokens_list(data_dir: DataDir = None) -> None:
    """Every token: name, role, created, revoked (never the secret).

    Example: assetry tokens list --data-dir var
    """
    from assetry.bootstrap import open_services

    async def run() -> list[str]:
        async with open_services(_settings(data_dir), run_worker=False) as services:
            return [
                f"{t.name}\t{t.role.name.lower()}\t{t.created_at.isoformat()}\t"
                f"{'revoked ' + t.revoked_at.isoformat() if t.revoked_at else 'active'}"
                for t in await services.tokens.list()
            ]

    for line in _or_exit(run):
        typer.echo(line)


@tokens_app.command("revoke")
def tokens_revoke(name: str, data_dir: DataDir = None) -> None:
    """Revoke a token by name; it is refused (401) from the next request on.

    Example: assetry tokens revoke cms --data-dir var
    """
    from assetry.bootstrap import open_services

    async def run() -> None:
        async with open_services(_settings(data_dir), run_worker=False) as services:
            await services.tokens.revoke(name)

    _or_exit(run)
    typer.echo(f"revoked {name}")


def _or_exit(run: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's coroutine; a domain error ends it with its message and exit 1."""
    from assetry.errors import AssetryError

    try:
        return asyncio.run(run())
    except AssetryError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    """Run the command, then leave without the interpreter's finalization.

    Once a command's work is done and printed, tearing down the native runtimes it
    loaded (obstore's tokio threads, libvips) has no work left to do, and once in a full
    suite it aborted the process (`assetry gc`, exit -6 after printing every line,
    nothing on stderr; not reproduced in 46 further runs). The exit status must be the
    command's, so the streams are flushed and the process exits directly."""
    status: int = 0
    try:
        app()
    except SystemExit as done:
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
            status = 1
        else:
            status = done.code or 0
    except BaseException:
        logging.shutdown()
        raise  # an unexpected error keeps Python's own report and exit
    import atexit

    atexit._run_exitfuncs()  # what the command registered (serve: its metrics directory)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
