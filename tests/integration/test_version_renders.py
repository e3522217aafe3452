"""VersionService given an asset its caller has just read (services/versions.py,
`fresh`, which spares the render its re-read; bench_ingest's cold GET measures that):
a copy read before another process's render finished the version makes nothing, one
still right is rendered from. Real SQLite, spool, blobs and libvips; "another process"
is a second set of services on the same data directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from assetry.bootstrap import Services, open_services
from assetry.config import Settings
from assetry.domain.model import Actor, Asset, Role, VersionStatus
from assetry.services.ingest import Submission
from tests.support.images import solid

ADMIN = Actor(name="test", role=Role.ADMIN)


async def _uploaded(services: Services) -> Asset:
    await services.pools.put("photos", {"converter": "default"}, ADMIN)

    async def body() -> AsyncIterator[bytes]:
        yield solid(1600, 1200)

    staged = await services.ingest.stage(body(), limit=10_000_000)
    return await services.ingest.create("photos", staged, Submission(filename="a.jpg"),
                                        ADMIN)


async def _fresh_pending(services: Services, asset: Asset) -> Asset:
    await services.versions.reset(asset.id)  # new pending versions, as a regenerate makes
    again = await services.assets.get(asset.id, ADMIN)
    assert {v.status for v in again.versions} == {VersionStatus.PENDING}
    return again


def _blobs(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def test_a_copy_read_before_another_render_finished_makes_nothing(
        tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, render_workers=0)
    async with open_services(settings, run_worker=False) as services, \
            open_services(settings, run_worker=False) as other:
        stale = await _fresh_pending(services, await _uploaded(services))
        # Another process's render finishes them all.
        await other.versions.render_pending(stale.id)
        done = await services.assets.get(stale.id, ADMIN)
        assert {v.status for v in done.versions} == {VersionStatus.READY}
        stored = _blobs(tmp_path / "blobs")

        # The caller read the asset just before that render ended, and says so.
        made = await services.versions.render_version(stale.id, "thumbnail", stale,
                                                      fresh=True)

        assert made is None  # the reservation failed: nothing was rendered
        after = await services.assets.get(stale.id, ADMIN)
        assert after.versions == done.versions  # same keys, sizes, status
        assert _blobs(tmp_path / "blobs") == stored  # no blob written, none deleted


async def test_a_copy_read_just_now_is_rendered_from(tmp_path: Path) -> None:
    async with open_services(Settings(data_dir=tmp_path, render_workers=0),
                             run_worker=False) as services:
        pending = await _fresh_pending(services, await _uploaded(services))

        made = await services.versions.render_version(pending.id, "thumbnail", pending,
                                                      fresh=True)

        assert made is not None and made.status is VersionStatus.READY
        assert (made.width, made.height) == (100, 100)
        after = await services.assets.get(pending.id, ADMIN)
        thumbnail = after.version("thumbnail")
        assert thumbnail is not None and thumbnail.blob_key == made.blob_key
        assert thumbnail.status is VersionStatus.READY
        assert after.version("detail").status is VersionStatus.PENDING  # type: ignore[union-attr]
