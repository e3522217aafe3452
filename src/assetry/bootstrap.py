"""The composition root: Settings -> concrete adapters -> services. Only entry points use it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio.to_thread

from assetry.blobs import open_blob_store
from assetry.blobs.spool import DiskSpool
from assetry.config import Settings
from assetry.db import migrate
from assetry.db.engine import SqlDatabase
from assetry.imaging.vips import VipsProcessor
from assetry.jobs.tasks import handlers
from assetry.jobs.worker import Worker
from assetry.services.assets import AssetService
from assetry.services.content import ContentReader
from assetry.services.converters import ConverterService
from assetry.services.cpu import CpuPool
from assetry.services.galleries import GalleryService
from assetry.services.health import HealthService
from assetry.services.ingest import IngestService
from assetry.services.maintenance import MaintenanceService
from assetry.services.metrics import Metrics
from assetry.services.pools import PoolService
from assetry.services.versions import VersionService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the web edge, the CLI and the library facade may call."""

    settings: Settings
    pools: PoolService
    converters: ConverterService
    ingest: IngestService
    assets: AssetService
    versions: VersionService
    galleries: GalleryService
    content: ContentReader
    health: HealthService
    metrics: Metrics
    maintenance: MaintenanceService
    worker: Worker


def migrate_database(settings: Settings) -> None:
    """Bring the database schema to the newest migration (idempotent)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.db_url)


@asynccontextmanager
async def open_services(
    settings: Settings, *, run_worker: bool = True, apply_migrations: bool = True
) -> AsyncIterator[Services]:
    """Build every adapter and service from `settings`; start the embedded worker when
    `run_worker` and `settings.render_workers` > 0; tear everything down on exit."""
    async with AsyncExitStack() as stack:
        if apply_migrations:
            await anyio.to_thread.run_sync(migrate_database, settings)
        db = SqlDatabase.open(settings.db_url)
        stack.push_async_callback(db.aclose)
        blobs = open_blob_store(settings.blob_url)
        spool = DiskSpool(settings.spool_dir)
        spool.sweep(older_than=3600)
        processor = VipsProcessor()
        cpu = CpuPool(settings.render_threads, settings.render_timeout)
        stack.callback(cpu.close)
        metrics = Metrics()
        wake = _Wake()
        versions = VersionService(db, blobs, processor, cpu, metrics, on_enqueued=wake)
        worker = Worker(
            db.jobs, handlers(versions),
            concurrency=max(1, settings.render_workers),
            max_attempts=settings.job_max_attempts,
            stale_after=settings.render_timeout * 2 + 60,
        )
        wake.target = worker
        services = Services(
            settings=settings,
            pools=PoolService(db, max_upload_size=settings.max_upload_size),
            converters=ConverterService(db),
            ingest=IngestService(
                db, blobs, spool, processor, cpu, metrics,
                max_pixels=settings.max_pixels, max_upload_size=settings.max_upload_size,
                on_enqueued=wake,
            ),
            assets=AssetService(db, blobs, metrics),
            versions=versions,
            galleries=GalleryService(db),
            content=ContentReader(blobs),
            health=HealthService(db, blobs),
            metrics=metrics,
            maintenance=MaintenanceService(db, blobs),
            worker=worker,
        )
        if run_worker and settings.render_workers > 0:
            worker.start()
            stack.push_async_callback(worker.stop)
        yield services


class _Wake:
    """Forwards 'a job was enqueued' to the worker once it exists (breaks the cycle
    services -> worker -> handlers -> services)."""

    target: Worker | None = None

    def __call__(self) -> None:
        if self.target is not None:
            self.target.wake()
