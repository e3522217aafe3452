"""The composition root: Settings -> concrete adapters -> services. Only entry points use it."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread

from assetry.blobs import open_blob_store
from assetry.blobs.spool import DiskSpool
from assetry.config import Settings
from assetry.db.engine import SqlDatabase
from assetry.db.records import SqlRecords
from assetry.domain.notices import Topic
from assetry.domain.ports import Fetcher
from assetry.errors import ConfigError
from assetry.fetch.deferred import DeferredFetcher
from assetry.fetch.policy import AddressPolicy
from assetry.imaging.codecs import Codecs
from assetry.imaging.vips import VipsProcessor
from assetry.jobs.tasks import handlers
from assetry.jobs.worker import Worker
from assetry.process import HEAP, HostSlots
from assetry.services.assets import AssetService
from assetry.services.cache import AssetCache
from assetry.services.content import ContentReader, Delivery
from assetry.services.converters import ConverterService
from assetry.services.cpu import CpuPool
from assetry.services.direct_uploads import DirectUploadService
from assetry.services.duplicates import DuplicateService
from assetry.services.galleries import GalleryService
from assetry.services.health import HealthService
from assetry.services.imports import ImportService
from assetry.services.ingest import IngestService
from assetry.services.maintenance import MaintenanceService
from assetry.services.pools import PoolService
from assetry.services.rendering import Renderer
from assetry.services.resumable import ResumableUploadService
from assetry.services.signing import UrlSigner
from assetry.services.tokens import TokenService
from assetry.services.transfer import TransferService
from assetry.services.transforms import TransformService
from assetry.services.versions import VersionService
from assetry.telemetry.prometheus import PrometheusMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the web edge, the CLI and the library facade may call."""

    settings: Settings
    pools: PoolService
    converters: ConverterService
    ingest: IngestService
    imports: ImportService
    resumable: ResumableUploadService
    direct_uploads: DirectUploadService
    assets: AssetService
    versions: VersionService
    galleries: GalleryService
    content: ContentReader
    health: HealthService
    metrics: PrometheusMetrics
    maintenance: MaintenanceService
    tokens: TokenService
    signer: UrlSigner
    worker: Worker
    duplicates: DuplicateService
    transforms: TransformService


def migrate_database(settings: Settings) -> None:
    """Bring the database schema to the newest migration (idempotent)."""
    # Imported here: Alembic costs every serving process ~11 MB it never needs again.
    from assetry.db import migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.db_url)


def signing_secret(settings: Settings) -> bytes:
    """The configured URL-signing secret, or the one generated into the data dir on first
    start (readable by the owner only)."""
    if settings.url_signing_secret is not None:
        return settings.url_signing_secret.get_secret_value().encode()
    path = settings.data_dir / "url-signing.key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_bytes().strip()


def url_signer(settings: Settings) -> UrlSigner:
    """The signer of byte and transform URLs, with the key of these settings."""
    return UrlSigner(signing_secret(settings), settings.signed_url_ttl)


def default_fetcher(settings: Settings) -> Fetcher:
    """The production fetcher: only public addresses, default ports plus the allowed ones."""
    ports = frozenset({80, 443, *settings.import_allowed_ports})

    def make() -> Fetcher:
        from assetry.fetch.fetcher import SafeFetcher  # httpx: see DeferredFetcher

        return SafeFetcher(
            AddressPolicy(allowed_ports=ports if settings.import_allowed_ports else None),
            connect_timeout=settings.import_connect_timeout,
            total_timeout=settings.import_timeout,
        )

    return DeferredFetcher(make)


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    run_worker: bool = True,
    apply_migrations: bool = True,
    fetcher: Fetcher | None = None,
) -> AsyncIterator[Services]:
    """Build every adapter and service from `settings`; start the embedded worker when
    `run_worker` and `settings.render_workers` > 0; tear everything down on exit.
    `fetcher` replaces the URL-import fetcher (tests allow loopback with it)."""
    async with AsyncExitStack() as stack:
        if apply_migrations:
            await anyio.to_thread.run_sync(migrate_database, settings)
        db = SqlDatabase.open(settings.db_url)
        stack.push_async_callback(db.aclose)
        blobs = open_blob_store(settings.blob_url)
        spool = DiskSpool(settings.spool_dir)
        spool.sweep(older_than=3600)
        processor = VipsProcessor()
        slots = HostSlots(settings.run_dir / "render-slots",
                          settings.render_slots or os.cpu_count() or 1)
        cpu = CpuPool(settings.render_threads, settings.render_timeout,
                      on_demand_queue=settings.render_queue, gate=slots.hold)
        stack.callback(cpu.close)
        metrics = PrometheusMetrics()
        cache = AssetCache(settings.delivery_cache_ttl, notices=db.notices)
        wake = _Wake()
        renderer = Renderer(processor, cpu, blobs, metrics, db, scratch=settings.spool_dir)
        versions = VersionService(db, blobs, renderer, metrics, cache,
                                  db.render_locks(wait_limit=settings.render_timeout),
                                  scratch=settings.spool_dir, on_enqueued=wake)
        worker = Worker(
            db.jobs, handlers(versions),
            concurrency=max(1, settings.render_workers),
            max_attempts=settings.job_max_attempts,
            stale_after=settings.render_timeout * 2 + 60,
            poll_interval=settings.job_poll_interval,
        )
        wake.target = worker
        # Jobs enqueued by other processes (and, after the channel reopens, any that
        # may have been missed) wake the idle claim loops.
        db.notices.subscribe(lambda n: wake() if n.topic in (Topic.JOB, Topic.RESYNC)
                             else None)
        ingest = IngestService(
            db, blobs, spool, processor, cpu, metrics, renderer,
            max_pixels=settings.max_pixels, max_upload_size=settings.max_upload_size,
            on_enqueued=wake, cache=cache,
        )
        # A render keeps the heap it freed for the next one, and gives it back at once
        # when more renders want to run than there are slots: one waits for a thread in
        # this process, or for a slot in any process of the host (process.HeapTrim).
        HEAP.pressure = lambda: cpu.queued() > 0 or slots.contended()
        signer = url_signer(settings)
        services = Services(
            settings=settings,
            pools=PoolService(db, max_upload_size=settings.max_upload_size, cache=cache),
            converters=ConverterService(db),
            ingest=ingest,
            imports=ImportService(fetcher or default_fetcher(settings), ingest),
            resumable=ResumableUploadService(
                db, blobs, spool, ingest, expiry=settings.resumable_upload_expiry,
                max_upload_size=settings.max_upload_size),
            direct_uploads=DirectUploadService(db, blobs, ingest,
                                               ttl=settings.direct_upload_ttl),
            assets=AssetService(db, blobs, metrics, cache),
            versions=versions,
            galleries=GalleryService(db),
            content=ContentReader(blobs, delivery=Delivery(settings.delivery),
                                  redirect_ttl=settings.redirect_ttl,
                                  accel_prefix=settings.accel_prefix),
            health=HealthService(db, blobs),
            metrics=metrics,
            maintenance=MaintenanceService(db, blobs),
            tokens=TokenService(db),
            signer=signer,
            worker=worker,
            duplicates=DuplicateService(db, spool),
            transforms=TransformService(db, blobs, versions, signer, metrics, cache),
        )
        if run_worker and settings.render_workers > 0:
            worker.start()
            stack.push_async_callback(worker.stop)
        yield services


@asynccontextmanager
async def open_transfer(settings: Settings, *, to_database: str | None,
                        to_storage: str | None, concurrency: int = 4
                        ) -> AsyncIterator[TransferService]:
    """A transfer from the back-ends of `settings` to the database at `to_database`
    and/or the store at `to_storage` (None: that one stays). Both databases are brought
    to the newest schema first. Raises ConfigError for a missing, unusable or
    identical target."""
    from assetry.db import migrate

    if to_database is None and to_storage is None:
        raise ConfigError("nothing to move to: give a target database, a target store, "
                          "or both")
    if to_database == settings.db_url or to_storage == settings.blob_url:
        raise ConfigError("a target is the very back-end the data is in now")
    async with AsyncExitStack() as stack:
        await anyio.to_thread.run_sync(migrate_database, settings)
        source = SqlDatabase.open(settings.db_url)
        stack.push_async_callback(source.aclose)
        target = None
        if to_database is not None:
            await anyio.to_thread.run_sync(migrate.upgrade, to_database)
            target = SqlDatabase.open(to_database)
            stack.push_async_callback(target.aclose)
        yield TransferService(
            SqlRecords(source), open_blob_store(settings.blob_url),
            DiskSpool(settings.spool_dir),
            target_rows=SqlRecords(target) if target is not None else None,
            target_blobs=open_blob_store(to_storage) if to_storage is not None else None,
            concurrency=concurrency)


class _Wake:
    """Forwards 'a job was enqueued' to the worker once it exists (breaks the cycle
    services -> worker -> handlers -> services)."""

    target: Worker | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target.wake()


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """What `assetry doctor` reports: the image codecs, and whether each back-end answers."""

    codecs: Codecs
    backends: dict[str, str]  #: {"database": "ok" | reason, "storage": "ok" | reason}
    schema: str | None  #: the database's migration, None when it has none (or is down)
    newest_schema: str


async def diagnose(settings: Settings) -> Diagnosis:
    """Probe the codecs and ping the database and the blob store, changing nothing: no
    migration runs and no service starts."""
    from assetry.db import migrate
    from assetry.imaging.codecs import probe

    async with SqlDatabase.open(settings.db_url) as db:
        blobs = open_blob_store(settings.blob_url)
        backends = await HealthService(db, blobs).check()
    schema = None
    if backends["database"] == "ok":
        schema = await anyio.to_thread.run_sync(migrate.current, settings.db_url)
    return Diagnosis(codecs=await anyio.to_thread.run_sync(probe), backends=backends,
                     schema=schema, newest_schema=migrate.head())
