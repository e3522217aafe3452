"""The SQL Database and its repositories, held to one contract on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from assetry.db import migrate
from assetry.db.engine import SqlDatabase, sync_url
from assetry.db.tables import assets as assets_table
from assetry.db.tables import attachments, jobs, metadata, upload_parts, versions
from assetry.domain.converter import (
    DEFAULT_CONVERTER,
    Converter,
    Fit,
    Operation,
    OutputFormat,
    VersionSpec,
)
from assetry.domain.direct_upload import DirectUpload
from assetry.domain.model import (
    Asset,
    AssetFilter,
    AssetType,
    Encoding,
    Pool,
    Version,
    VersionStatus,
)
from assetry.domain.placeholder import Placeholder
from assetry.domain.rows import (
    COLUMNS,
    DEFAULT_SORT,
    ListQuery,
    Row,
    RowPage,
    RowTable,
    SortKey,
    parse_conditions,
    parse_sort,
)
from assetry.domain.tus import Upload, UploadPart
from assetry.errors import (
    AssetNotFound,
    BackendUnavailable,
    ConverterNotFound,
    DirectUploadNotFound,
    Invalid,
    PoolNotFound,
    UploadNotFound,
    VersionNotFound,
)
from tests.support.plans import Query, captured_queries, explain, full_scans
from tests.support.postgres import closed_port, create_database, drop_database, unique_name

T0 = datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=UTC)


class FakeClock:
    """The database's clock, moved by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Backend:
    url: str
    db: SqlDatabase
    clock: FakeClock


@pytest.fixture
async def backend(database_url: str) -> AsyncIterator[Backend]:
    clock = FakeClock()
    async with SqlDatabase.open(database_url, clock=clock) as db:
        yield Backend(url=database_url, db=db, clock=clock)


@pytest.fixture
def db(backend: Backend) -> SqlDatabase:
    return backend.db


# -- factories -------------------------------------------------------------------------


def make_spec(name: str = "detail", **overrides: Any) -> VersionSpec:
    fields: dict[str, Any] = {"name": name, "width": 800, "height": 600} | overrides
    return VersionSpec(**fields)


def make_version(asset_id: UUID, name: str = "detail", **overrides: Any) -> Version:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "asset_id": asset_id,
        "name": name,
        "spec": make_spec(name),
        "status": VersionStatus.PENDING,
        "created_at": T0,
    } | overrides
    return Version(**fields)


def make_asset(**overrides: Any) -> Asset:
    asset_id = overrides.pop("id", None) or uuid4()
    fields: dict[str, Any] = {
        "id": asset_id,
        "pool": "default",
        "type": AssetType.IMAGE,
        "filename": "python.jpg",
        "mime_type": "image/jpeg",
        "size": 159041,
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "blob_key": f"originals/{asset_id}",
        "gallery": str(asset_id),
        "converter": "default",
        "created_at": T0,
        "modified_at": T0,
        "width": 800,
        "height": 563,
    } | overrides
    return Asset(**fields)


async def add(db: SqlDatabase, *assets: Asset) -> None:
    async with db.transaction() as tx:
        for asset in assets:
            await tx.assets.add(asset)


async def get(db: SqlDatabase, asset_id: UUID) -> Asset:
    async with db.transaction() as tx:
        return await tx.assets.get(asset_id)


async def count_rows(db: SqlDatabase, table: sa.Table) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


# -- migrations --------------------------------------------------------------------------


async def test_migration_creates_the_default_pool_and_converter(backend: Backend) -> None:
    async with backend.db.transaction() as tx:
        pool = await tx.pools.get("default")
        converter = await tx.converters.get("default")
    assert pool == Pool(
        name="default",
        title="Default",
        asset_types=(AssetType.IMAGE, AssetType.FILE),
        max_size=16777216,
        converter="default",
        public=True,
    )
    assert converter == DEFAULT_CONVERTER
    assert migrate.current(backend.url) == migrate.head() == "0007"


def test_migrations_build_exactly_the_tables_module(database_url: str) -> None:
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_migrate_upgrade_twice_is_a_no_op(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()


def test_migrate_current_of_a_missing_sqlite_file_is_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    assert migrate.current(url) is None
    assert not (tmp_path / "absent.db").exists()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nothing has touched yet (for SQLite: not even created)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'new' / 'dir' / 'assetry.db'}"
        return
    admin = request.getfixturevalue("postgres")
    name = unique_name("assetry_empty")
    yield create_database(admin, name)
    drop_database(admin, name)


async def test_migrate_concurrent_upgrades_of_an_empty_database_both_succeed(
    empty_database_url: str,
) -> None:
    # Processes, as when several servers start at once (one process runs one at a time),
    # all released at the same instant once their imports are done.
    code = (
        "import sys, time; from assetry.db import migrate; "
        "time.sleep(max(0, float(sys.argv[2]) - time.time())); migrate.upgrade(sys.argv[1])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    start_at = str(time.time() + 2)
    assert migrate.current(empty_database_url) is None
    runs = await asyncio.gather(
        *(
            asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", code, empty_database_url, start_at],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            for _ in range(3)
        )
    )
    assert [(r.returncode, r.stderr) for r in runs] == [(0, "")] * 3
    assert migrate.current(empty_database_url) == migrate.head()
    async with SqlDatabase.open(empty_database_url) as db, db.transaction() as tx:
        assert [p.name for p in await tx.pools.list()] == ["default"]


# -- pools -------------------------------------------------------------------------------


async def test_pool_put_get_list_delete(db: SqlDatabase) -> None:
    pool = Pool(
        name="process",
        title="Process 1",
        asset_types=(AssetType.IMAGE,),
        max_size=1024,
        converter="default",
        public=False,
    )
    async with db.transaction() as tx:
        assert await tx.pools.put(pool) is True
    async with db.transaction() as tx:
        assert await tx.pools.get("process") == pool
        changed = replace(pool, title="Renamed", public=True, max_size=2048)
        assert await tx.pools.put(changed) is False
    async with db.transaction() as tx:
        assert await tx.pools.get("process") == changed
        assert [p.name for p in await tx.pools.list()] == ["default", "process"]
        await tx.pools.delete("process")
        await tx.pools.delete("process")  # absent: not an error
    async with db.transaction() as tx:
        with pytest.raises(PoolNotFound):
            await tx.pools.get("process")
        assert [p.name for p in await tx.pools.list()] == ["default"]


async def test_pool_list_orders_names_bytewise(db: SqlDatabase) -> None:
    async with db.transaction() as tx:
        for name in ("a_b", "a-b", "ab", "a0"):
            await tx.pools.put(Pool(name=name))
        assert [p.name for p in await tx.pools.list()] == ["a-b", "a0", "a_b", "ab", "default"]


# -- converters --------------------------------------------------------------------------


async def test_converter_put_get_list_delete_in_use(db: SqlDatabase) -> None:
    converter = Converter(
        name="square",
        versions=(
            make_spec(
                "big",
                width=1200,
                height=1200,
                fit=Fit.CONTAIN,
                format=OutputFormat.WEBP,
                quality=70,
                upscale=True,
                operations=(Operation("rotate", (("angle", 90),)),),
            ),
            make_spec("small", width=None, height=50, fit=Fit.INSIDE),
        ),
    )
    async with db.transaction() as tx:
        assert await tx.converters.put(converter) is True
        assert await tx.converters.put(converter) is False
        assert await tx.converters.get("square") == converter
        assert await tx.converters.in_use("square") == []
        await tx.pools.put(Pool(name="b", converter="square"))
        await tx.pools.put(Pool(name="a", converter="square"))
    async with db.transaction() as tx:
        assert await tx.converters.in_use("square") == ["a", "b"]
        assert await tx.converters.in_use("default") == ["default"]
        assert await tx.converters.list() == [DEFAULT_CONVERTER, converter]
        smaller = replace(converter, versions=converter.versions[1:])
        assert await tx.converters.put(smaller) is False
    async with db.transaction() as tx:
        assert await tx.converters.get("square") == smaller
        await tx.converters.delete("square")
        await tx.converters.delete("square")  # absent: not an error
    async with db.transaction() as tx:
        with pytest.raises(ConverterNotFound):
            await tx.converters.get("square")


# -- assets: add, get, update, delete ------------------------------------------------------


async def test_asset_add_then_get_round_trips_every_field(db: SqlDatabase) -> None:
    asset_id = uuid4()
    cest = timezone(timedelta(hours=2))
    ready = make_version(
        asset_id,
        "detail",
        status=VersionStatus.READY,
        width=800,
        height=563,
        mime_type="image/jpeg",
        size=91234,
        sha256="ab" * 32,
        blob_key=f"versions/{uuid4()}",
        created_at=T0 + timedelta(seconds=1),
        spec=make_spec(
            "detail",
            operations=(
                Operation("aspect_crop", (("ratio", (16.0, 9.0)), ("shift", (0.5, 0.25)))),
            ),
        ),
    )
    failed = make_version(asset_id, "thumbnail", status=VersionStatus.FAILED, error="boom")
    asset = make_asset(
        id=asset_id,
        filename="Ünïcødé name.jpg",
        frames=3,
        gallery="gallery-1",
        converter=None,
        metadata={
            "focal_point": {"x": 0.25, "y": 0.75},
            "tags": ["a", "ü"],
            "n": None,
            "ok": True,
            "count": 3,
        },
        hidden=True,
        creator="alice",
        modified_by="bob",
        # A non-UTC offset: stored as the same instant, read back in UTC.
        created_at=datetime(2026, 11, 22, 3, 2, 3, 456789, tzinfo=cest),
        modified_at=T0 + timedelta(minutes=5),
        attached_to=("proposals/42/VERSION_1", "users/7"),
        versions=(ready, failed),
        placeholder=Placeholder(thumbhash="HwgKLZpwdndwd3d3d2d3d5CACfh3",
                                blurhash="L$HewC2lwtX4l@WBjwe@gFfmfTfi", color="#2878c8"),
    )
    await add(db, asset)

    got = await get(db, asset_id)

    assert got == asset
    assert got.created_at == T0
    assert got.created_at.tzinfo == UTC
    assert got.modified_at.tzinfo == UTC
    assert all(v.created_at.tzinfo == UTC for v in got.versions)
    assert got.version("detail") == ready


async def test_asset_get_orders_versions_by_name(db: SqlDatabase) -> None:
    asset_id = uuid4()
    names = ["thumbnail", "a-b", "detail", "a_b"]
    await add(db, make_asset(id=asset_id, versions=tuple(make_version(asset_id, n) for n in names)))
    assert [v.name for v in (await get(db, asset_id)).versions] == sorted(names)


async def test_asset_add_into_a_pool_gone_raises_pool_not_found_and_stores_nothing(
        db: SqlDatabase) -> None:
    # An upload reads its pool before the body; the pool may be deleted meanwhile.
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="brief"))
    async with db.transaction() as tx:
        await tx.pools.delete("brief")
    asset = make_asset(pool="brief")
    with pytest.raises(PoolNotFound):
        async with db.transaction() as tx:
            await tx.assets.add(replace(asset, versions=(make_version(asset.id, "thumbnail"),)))
    async with db.transaction(write=False) as tx:
        with pytest.raises(AssetNotFound):
            await tx.assets.get(asset.id)
        assert await tx.assets.count_in_pool("brief") == 0


async def test_asset_get_unknown_raises_asset_not_found(db: SqlDatabase) -> None:
    async with db.transaction() as tx:
        with pytest.raises(AssetNotFound):
            await tx.assets.get(uuid4())
        with pytest.raises(AssetNotFound):
            await tx.assets.get(uuid4(), for_update=True)


async def test_asset_get_for_update_returns_the_asset(db: SqlDatabase) -> None:
    asset = make_asset()
    await add(db, asset)
    async with db.transaction() as tx:
        assert await tx.assets.get(asset.id, for_update=True) == asset


async def test_asset_update_writes_every_field_but_versions_and_attachments(
    db: SqlDatabase,
) -> None:
    asset = make_asset(attached_to=("r1",),
                       placeholder=Placeholder(thumbhash="AAAA", blurhash="L0", color="#000000"))
    await add(db, asset)
    version = make_version(asset.id)
    async with db.transaction() as tx:
        await tx.assets.set_versions(asset.id, [version])
    changed = replace(
        asset,
        type=AssetType.FILE,
        filename="new.png",
        mime_type="image/png",
        size=1,
        sha256="cd" * 32,
        blob_key="originals/new",
        gallery="g2",
        converter="other",
        width=None,
        height=None,
        frames=2,
        metadata={"k": [1, 2]},
        hidden=True,
        creator="carol",
        modified_by="dave",
        modified_at=T0 + timedelta(days=1),
        attached_to=(),
        versions=(),
        placeholder=Placeholder(thumbhash="BBBB", blurhash="L1", color="#ffffff"),
    )
    async with db.transaction() as tx:
        await tx.assets.update(changed)
    assert await get(db, asset.id) == replace(changed, attached_to=("r1",), versions=(version,))


async def test_asset_update_unknown_raises_asset_not_found(db: SqlDatabase) -> None:
    async with db.transaction() as tx:
        with pytest.raises(AssetNotFound):
            await tx.assets.update(make_asset())


async def test_asset_delete_cascades_to_versions_and_attachments(db: SqlDatabase) -> None:
    asset_id = uuid4()
    keep = make_asset(attached_to=("r",), versions=())
    await add(db, keep)
    await add(
        db,
        make_asset(
            id=asset_id,
            attached_to=("r1", "r2"),
            versions=(make_version(asset_id, "a"), make_version(asset_id, "b")),
        ),
    )
    async with db.transaction() as tx:
        await tx.assets.delete(asset_id)
        await tx.assets.delete(asset_id)  # absent: not an error
    with pytest.raises(AssetNotFound):
        await get(db, asset_id)
    assert await count_rows(db, versions) == 0
    assert await count_rows(db, attachments) == 1


async def test_asset_count_in_pool(db: SqlDatabase) -> None:
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="other"))
    await add(db, make_asset(), make_asset(), make_asset(pool="other"))
    async with db.transaction() as tx:
        assert await tx.assets.count_in_pool("default") == 2
        assert await tx.assets.count_in_pool("other") == 1
        assert await tx.assets.count_in_pool("none") == 0


# -- assets: listing ---------------------------------------------------------------------


async def list_all(db: SqlDatabase, where: AssetFilter, limit: int = 100) -> list[Asset]:
    async with db.transaction() as tx:
        page = await tx.assets.list(where, limit=limit, cursor=None)
    assert page.next_cursor is None
    return list(page.items)


async def test_asset_list_pages_newest_first_with_a_cursor(db: SqlDatabase) -> None:
    # Two pairs share a created_at: the id breaks the tie, also across a page boundary.
    times = [
        T0,
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=2),
        T0 + timedelta(seconds=3),
        T0 + timedelta(seconds=3),
        T0 + timedelta(seconds=4),
    ]
    made = [make_asset(created_at=t) for t in times]
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="other"))
    await add(db, *made, make_asset(pool="other", created_at=T0 + timedelta(seconds=9)))
    expected = sorted(made, key=lambda a: (a.created_at, a.id), reverse=True)

    pages: list[list[Asset]] = []
    cursor: str | None = None
    while True:
        async with db.transaction() as tx:
            page = await tx.assets.list(AssetFilter(pool="default"), limit=3, cursor=cursor)
        pages.append(list(page.items))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        assert not set(cursor) & set("=/+")  # URL-safe as it is

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a.id for p in pages for a in p] == [a.id for a in expected]


async def test_asset_list_exact_last_page_has_no_next_cursor(db: SqlDatabase) -> None:
    await add(db, *(make_asset(created_at=T0 + timedelta(seconds=i)) for i in range(4)))
    async with db.transaction() as tx:
        first = await tx.assets.list(AssetFilter(pool="default"), limit=2, cursor=None)
        assert first.next_cursor is not None
        second = await tx.assets.list(
            AssetFilter(pool="default"), limit=2, cursor=first.next_cursor
        )
    assert len(second.items) == 2
    assert second.next_cursor is None


async def test_asset_list_loads_versions_and_attachments_of_the_page(db: SqlDatabase) -> None:
    a, b = uuid4(), uuid4()
    await add(
        db,
        make_asset(
            id=a,
            created_at=T0,
            attached_to=("x", "y"),
            versions=(make_version(a, "thumb"), make_version(a, "detail")),
        ),
        make_asset(id=b, created_at=T0 + timedelta(seconds=1)),
    )
    items = await list_all(db, AssetFilter(pool="default"))
    assert [i.id for i in items] == [b, a]
    assert items[0].versions == ()
    assert items[0].attached_to == ()
    assert [v.name for v in items[1].versions] == ["detail", "thumb"]
    assert items[1].attached_to == ("x", "y")


async def test_asset_list_filters(db: SqlDatabase) -> None:
    image = make_asset(created_at=T0, gallery="g1")
    file = make_asset(
        created_at=T0 + timedelta(seconds=1),
        type=AssetType.FILE,
        gallery="g1",
        attached_to=("proposals/1",),
    )
    hidden = make_asset(
        created_at=T0 + timedelta(seconds=2),
        hidden=True,
        attached_to=("proposals/2", "proposals/1"),
    )
    await add(db, image, file, hidden)

    async def ids(**criteria: Any) -> list[UUID]:
        return [a.id for a in await list_all(db, AssetFilter(**({"pool": "default"} | criteria)))]

    assert await ids() == [hidden.id, file.id, image.id]
    assert await ids(type=AssetType.IMAGE) == [hidden.id, image.id]
    assert await ids(type=AssetType.FILE) == [file.id]
    assert await ids(gallery="g1") == [file.id, image.id]
    assert await ids(gallery="nope") == []
    assert await ids(attached_to="proposals/1") == [hidden.id, file.id]
    assert await ids(attached_to="proposals/2") == [hidden.id]
    assert await ids(attached_to="proposals") == []
    assert await ids(attached=True) == [hidden.id, file.id]
    assert await ids(attached=False) == [image.id]
    assert await ids(include_hidden=False) == [file.id, image.id]
    assert await ids(type=AssetType.IMAGE, include_hidden=False, attached=False) == [image.id]
    assert await ids(pool="other") == []


async def test_asset_list_sha256_filter(db: SqlDatabase) -> None:
    one, two = "1" * 64, "2" * 64
    first = make_asset(created_at=T0, sha256=one)
    again = make_asset(created_at=T0 + timedelta(seconds=1), sha256=one, hidden=True)
    other = make_asset(created_at=T0 + timedelta(seconds=2), sha256=two)
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="other"))
    elsewhere = make_asset(pool="other", created_at=T0 + timedelta(seconds=3), sha256=one)
    await add(db, first, again, other, elsewhere)

    async def ids(**criteria: Any) -> list[UUID]:
        return [a.id for a in await list_all(db, AssetFilter(**({"pool": "default"} | criteria)))]

    assert await ids(sha256=one) == [again.id, first.id]
    assert await ids(sha256=two) == [other.id]
    assert await ids(sha256="3" * 64) == []
    assert await ids(sha256=one, include_hidden=False) == [first.id]
    assert await ids(pool="other", sha256=one) == [elsewhere.id]
    assert await ids(pool="other", sha256=two) == []


async def test_asset_list_by_sha256_reads_the_pool_sha256_index(db: SqlDatabase) -> None:
    # 300 assets in one pool; the planner must find the one by its digest through the
    # index rather than walk the pool (the bulk import asks this once per file).
    await add(db, *(make_asset(created_at=T0 + timedelta(seconds=i), sha256=f"{i:064x}")
                    for i in range(300)))
    where = AssetFilter(pool="default", sha256=f"{7:064x}")
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM assets" in statement and not statements:
            statements.append((statement, parameters))

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert len(await list_all(db, where, limit=1)) == 1
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    (statement, parameters), = statements
    async with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("ANALYZE assets")
            plan = (await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)).all()
        else:
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                    ).all()
    assert "ix_assets_pool_sha256_created_at_id" in " ".join(
        str(cell) for row in plan for cell in row)


def empty(database_url: str) -> None:
    """Drop every table of a migrated test database (to migrate it again step by step)."""
    if database_url.startswith("sqlite"):
        Path(database_url.removeprefix("sqlite:///")).unlink()
        return
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def test_upgrade_indexes_assets_by_sha256_already_stored(database_url: str) -> None:
    # A database made before the sha256 index (at 0001, holding an asset) upgrades in place.
    empty(database_url)
    migrate.upgrade(database_url, "0001")
    assert migrate.current(database_url) == "0001"
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            asset_id = uuid4()
            conn.execute(sa.insert(assets_table).values(
                id=asset_id, pool="default", type="file", filename="a.txt",
                mime_type="text/plain", size=5, sha256="a" * 64, blob_key=f"originals/{asset_id}",
                frames=1, gallery=str(asset_id), metadata={}, hidden=False,
                created_at=T0, modified_at=T0))
        migrate.upgrade(database_url)
        assert migrate.current(database_url) == migrate.head()
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes("assets")}
        assert indexes["ix_assets_pool_sha256_created_at_id"] == [
            "pool", "sha256", "created_at", "id"]
        with engine.connect() as conn:
            found = conn.execute(sa.select(assets_table.c.id).where(
                assets_table.c.pool == "default", assets_table.c.sha256 == "a" * 64)).all()
        assert [row.id for row in found] == [asset_id]
    finally:
        engine.dispose()


async def test_asset_list_and_in_galleries_load_a_page_in_three_queries(db: SqlDatabase) -> None:
    made = []
    for i in range(6):
        asset_id = uuid4()
        made.append(
            make_asset(
                id=asset_id,
                gallery="g",
                created_at=T0 + timedelta(seconds=i),
                attached_to=(f"r{i}",),
                versions=(make_version(asset_id, "a"), make_version(asset_id, "b")),
            )
        )
    await add(db, *made)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's own BEGIN
            statements.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.transaction() as tx:
            page = await tx.assets.list(AssetFilter(pool="default"), limit=5, cursor=None)
            listed = len(statements)
            gallery = await tx.assets.in_galleries(["g"])
            galleried = len(statements) - listed
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(page.items) == 5
    assert len(gallery) == 6
    assert all(len(a.versions) == 2 and len(a.attached_to) == 1 for a in gallery)
    # Each: the assets, then all their versions, then all their attachments.
    assert (listed, galleried) == (3, 3)


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 !",
        "%%%",
        _cursor("hello"),
        _cursor(f"2026-11-22T01:02:03|{uuid4()}"),  # naive time: not one we made
        _cursor("2026-11-22T01:02:03+00:00|not-a-uuid"),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
    ],
)
async def test_asset_list_bad_cursor_raises_invalid(db: SqlDatabase, cursor: str) -> None:
    async with db.transaction() as tx:
        with pytest.raises(Invalid) as caught:
            await tx.assets.list(AssetFilter(pool="default"), limit=10, cursor=cursor)
    assert caught.value.field == "cursor"


async def test_asset_list_limit_below_one_raises_invalid(db: SqlDatabase) -> None:
    async with db.transaction() as tx:
        with pytest.raises(Invalid) as caught:
            await tx.assets.list(AssetFilter(pool="default"), limit=0, cursor=None)
    assert caught.value.field == "limit"


# -- assets: galleries -------------------------------------------------------------------


async def test_asset_in_galleries_images_only_oldest_first(db: SqlDatabase) -> None:
    g1_new = make_asset(gallery="g1", created_at=T0 + timedelta(seconds=5))
    g2_old = make_asset(gallery="g2", created_at=T0, hidden=True)
    g1_mid = make_asset(gallery="g1", created_at=T0 + timedelta(seconds=2), attached_to=("r",))
    g1_file = make_asset(gallery="g1", type=AssetType.FILE, created_at=T0)
    g3 = make_asset(gallery="g3", created_at=T0)
    await add(db, g1_new, g2_old, g1_mid, g1_file, g3)
    async with db.transaction() as tx:
        found = await tx.assets.in_galleries(["g1", "g2", "unknown"])
        assert await tx.assets.in_galleries([]) == []
    assert found == [g2_old, g1_mid, g1_new]


# -- assets: the original image service's table view (rows) ---------------------------


@dataclass
class RowWorld:
    """Images a (gallery "Trip", two versions), b ("trip", one), a file f, a hidden
    image h, and an image o in another pool; created one second apart in that order."""

    a: Asset
    b: Asset
    f: Asset
    h: Asset
    o: Asset

    def ids(self, *names: str) -> list[UUID]:
        """Row ids by short name: "a" an original, "a.detail" one of its versions."""
        out = []
        for name in names:
            asset_name, _, version = name.partition(".")
            asset = getattr(self, asset_name)
            out.append(asset.id if not version else asset.version(version).id)
        return out


@pytest.fixture
async def rows_world(db: SqlDatabase) -> RowWorld:
    def image(seconds: int, *names: str, **kw: Any) -> Asset:
        asset_id = uuid4()
        at = T0 + timedelta(seconds=seconds)
        versions = tuple(make_version(asset_id, n, created_at=at) for n in names)
        return make_asset(id=asset_id, created_at=at, versions=versions, **kw)

    a = image(0, "detail", "thumbnail", gallery="Trip")
    a = replace(a, versions=(replace(a.versions[0], status=VersionStatus.READY,
                                     sha256="a" * 64), a.versions[1]))
    world = RowWorld(
        a=a,
        b=image(1, "thumbnail", gallery="trip"),
        f=image(2, type=AssetType.FILE, sha256="b" * 64, converter=None, width=None,
                height=None),
        h=image(3, "thumbnail", hidden=True),
        o=image(4, pool="other"),
    )
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="other"))
    await add(db, world.a, world.b, world.f, world.h, world.o)
    return world


async def select_rows(db: SqlDatabase, table: RowTable = RowTable.IMAGES,
                      pools: tuple[str, ...] = ("default",), include_hidden: bool = False,
                      **query: Any) -> RowPage:
    query.setdefault("sort", DEFAULT_SORT[table])
    async with db.transaction(write=False) as tx:
        return await tx.assets.rows(table, ListQuery(**query), pools=pools,
                                    include_hidden=include_hidden)


def row_ids(page: RowPage) -> list[UUID]:
    return [r.id for r in page.rows]


async def test_rows_of_images_newest_first_each_original_before_its_versions(
        db: SqlDatabase, rows_world: RowWorld) -> None:
    w = rows_world
    page = await select_rows(db)
    assert row_ids(page) == w.ids("b", "b.thumbnail", "a", "a.detail", "a.thumbnail")
    assert page.count == 5
    assert page.rows[0] == Row(w.b) and page.rows[1] == Row(w.b, w.b.versions[0])
    assert page.rows[3].version == w.a.versions[0]
    everything = await select_rows(db, pools=("default", "other"), include_hidden=True)
    assert row_ids(everything) == w.ids("o", "h", "h.thumbnail", *(
        "b", "b.thumbnail", "a", "a.detail", "a.thumbnail"))
    assert row_ids(await select_rows(db, pools=())) == []


async def test_rows_of_files_are_every_asset_and_version(
        db: SqlDatabase, rows_world: RowWorld) -> None:
    w = rows_world
    page = await select_rows(db, RowTable.FILES)
    expected = [(w.f.created_at, w.f.id), (w.b.created_at, w.b.id),
                *((v.created_at, v.id) for a in (w.b, w.a) for v in a.versions),
                (w.a.created_at, w.a.id)]
    assert row_ids(page) == [i for _, i in sorted(expected, key=lambda t: (-t[0].timestamp(),
                                                                           str(t[1])))]
    hashed = await select_rows(db, RowTable.FILES, where=parse_conditions(
        {"hash": "a" * 64}, COLUMNS[RowTable.FILES]))
    assert row_ids(hashed) == w.ids("a.detail")


@pytest.mark.parametrize(("conditions", "expected"), [
    ({"version": None}, ["a", "b"]),
    ({"version": "thumbnail"}, ["a.thumbnail", "b.thumbnail"]),
    ({"version": {"not": "thumbnail"}}, ["a", "a.detail", "b"]),
    ({"version": {"not": None}}, ["a.detail", "a.thumbnail", "b.thumbnail"]),
    ({"version": ["detail", None]}, ["a", "a.detail", "b"]),
    ({"version": {"not": ["detail", None]}}, ["a.thumbnail", "b.thumbnail"]),
    ({"version": []}, []),
    ({"correlation_id": "Trip"}, ["a", "a.detail", "a.thumbnail"]),
    ({"correlation_id": {"like": "T%"}}, ["a", "a.detail", "a.thumbnail"]),
    ({"correlation_id": {"like": "_rip"}}, ["a", "a.detail", "a.thumbnail", "b",
                                            "b.thumbnail"]),
    ({"correlation_id": {"like": "tr_p", "not": "Trip"}}, ["b", "b.thumbnail"]),
    ({"correlation_id": {"like": "%*%"}}, []),
    ([{"version": "detail"}, {"version": None, "correlation_id": "trip"}], ["a.detail", "b"]),
    ([{"version": "detail"}, []], ["a.detail"]),
    ({"timestamp": {"gt": "2026-11-22T01:02:03.456789Z"}}, ["b", "b.thumbnail"]),
    ({"timestamp": {"le": "2026-11-22T01:02:03.456789Z"}}, ["a", "a.detail", "a.thumbnail"]),
    ({"timestamp": {"ge": "2026-11-22T02:02:04+01:00", "lt": "2026-11-22T01:02:05Z"}},
     ["b", "b.thumbnail"]),
])
async def test_rows_conditions(db: SqlDatabase, rows_world: RowWorld, conditions: Any,
                               expected: list[str]) -> None:
    where = parse_conditions(conditions, COLUMNS[RowTable.IMAGES])
    page = await select_rows(db, where=where, sort=(SortKey("id"),))
    assert row_ids(page) == sorted(rows_world.ids(*expected), key=str)
    assert page.count == len(expected)


async def test_rows_conditions_on_ids(db: SqlDatabase, rows_world: RowWorld) -> None:
    w = rows_world
    detail = w.a.versions[0].id

    async def ids(conditions: Any) -> list[UUID]:
        page = await select_rows(db, where=parse_conditions(conditions, COLUMNS[RowTable.IMAGES]),
                                 sort=(SortKey("id"),))
        return row_ids(page)

    assert await ids({"original_id": str(w.a.id)}) == sorted(w.ids("a.detail", "a.thumbnail"),
                                                             key=str)
    assert await ids({"original_id": None, "id": [str(w.b.id), str(w.h.id)]}) == [w.b.id]
    assert await ids({"file_id": str(detail)}) == [detail]
    assert await ids({"id": {"not": str(w.a.id)}, "version": None}) == [w.b.id]


async def test_rows_sort_bytewise_with_nulls_last_and_page_without_overlap(
        db: SqlDatabase, rows_world: RowWorld) -> None:
    w = rows_world
    by_gallery = await select_rows(db, sort=parse_sort(
        ["correlation_id", "version"], COLUMNS[RowTable.IMAGES], ()))
    # Bytewise "T" < "t" on both back-ends; within a gallery the original (null) last.
    assert row_ids(by_gallery) == w.ids("a.detail", "a.thumbnail", "a", "b.thumbnail", "b")
    newest_versions = await select_rows(db, sort=parse_sort(
        [{"desc": "version"}], COLUMNS[RowTable.IMAGES], ()))
    assert [r.version.name if r.version else None for r in newest_versions.rows] == [
        "thumbnail", "thumbnail", "detail", None, None]
    whole = row_ids(await select_rows(db))
    pages = [await select_rows(db, offset=o, limit=2) for o in (0, 2, 4, 6)]
    assert [row_ids(p) for p in pages] == [whole[0:2], whole[2:4], whole[4:], []]
    assert {p.count for p in pages} == {5}
    uncounted = await select_rows(db, count=False, limit=1)
    assert uncounted.count is None and len(uncounted.rows) == 1
    only_count = await select_rows(db, limit=0)
    assert only_count.rows == () and only_count.count == 5


async def test_rows_load_a_page_in_five_queries(db: SqlDatabase, rows_world: RowWorld) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        page = await select_rows(db, pools=("default", "other"), include_hidden=True)
    finally:
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert len(page.rows) == 8
    # The count, the page, then its assets, their versions and their attachments.
    assert len(statements) == 5


async def test_rows_never_show_half_a_row_deleted_while_the_page_loads(
        backend: Backend, rows_world: RowWorld) -> None:
    victim = rows_world.a.versions[1]
    other = sa.create_engine(sync_url(backend.url), poolclass=sa.NullPool)
    fired: list[bool] = []

    def delete_in_between(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Just before the page's assets are loaded, another connection deletes one of
        # the page's versions.
        if not fired and "FROM assets" in statement and "WHERE assets.id IN" in statement:
            fired.append(True)
            with other.begin() as conn:
                conn.execute(sa.delete(versions).where(versions.c.id == victim.id))

    sa.event.listen(backend.db.engine.sync_engine, "before_cursor_execute", delete_in_between)
    try:
        page = await select_rows(backend.db)
    finally:
        sa.event.remove(backend.db.engine.sync_engine, "before_cursor_execute",
                        delete_in_between)
        other.dispose()
    assert fired
    assert all(r.version is None or r.version in r.asset.versions for r in page.rows)
    if backend.url.startswith("postgresql"):
        # Each statement reads afresh: the deleted version is left out, not shown half.
        assert row_ids(page) == rows_world.ids("b", "b.thumbnail", "a", "a.detail")
    else:
        # SQLite's read transaction keeps its snapshot: the page is as it was.
        assert row_ids(page) == rows_world.ids("b", "b.thumbnail", "a", "a.detail",
                                               "a.thumbnail")


async def test_version_owner(db: SqlDatabase, rows_world: RowWorld) -> None:
    w = rows_world
    async with db.transaction(write=False) as tx:
        assert await tx.assets.version_owner(w.a.versions[1].id) == w.a.id
        assert await tx.assets.version_owner(w.a.id) is None
        assert await tx.assets.version_owner(uuid4()) is None


# -- assets: query plans -----------------------------------------------------------------
#
# bench/bench_scale.py shows at a million assets that these plans keep every page as fast
# as at ten thousand. Here, on a few rows, the same statements must have the same kind of
# plan. SQLite plans from its built-in guesses (no statistics), whatever the table size, so
# its index choice is asserted exactly. PostgreSQL prefers a sequential scan on a table
# this small whatever the indexes, so the plans are made with sequential scans, hash and
# merge joins switched off: what remains must still be driven by index conditions.

#: criterion -> the SQLite index (and its constraints) that yields the page of assets
LISTING_INDEXES: dict[str, tuple[dict[str, Any], str]] = {
    "pool": ({}, "ix_assets_pool_created_at_id (pool=?)"),
    "type": ({"type": AssetType.FILE}, "ix_assets_pool_type_created_at_id (pool=? AND type=?)"),
    "gallery": ({"gallery": "g"}, "ix_assets_gallery_pool_created_at_id (gallery=? AND pool=?)"),
    "sha256": ({"sha256": make_asset().sha256},
               "ix_assets_pool_sha256_created_at_id (pool=? AND sha256=?)"),
    # From the resource's attachments, then each asset by its key; not by walking the pool.
    "attached_to": ({"attached_to": "r"}, "sqlite_autoindex_assets_1 (id=?)"),
    "attached": ({"attached": False}, "ix_assets_pool_created_at_id (pool=?)"),
    "visible": ({"include_hidden": False}, "ix_assets_pool_created_at_id (pool=?)"),
}


async def add_plan_fixtures(db: SqlDatabase) -> None:
    made = []
    for i in range(8):
        asset_id = uuid4()
        made.append(make_asset(
            id=asset_id, created_at=T0 + timedelta(seconds=i), gallery="g" if i % 2 else "h",
            type=AssetType.FILE if i % 3 == 0 else AssetType.IMAGE,
            attached_to=("r",) if i % 4 < 2 else (),
            versions=(make_version(asset_id, "a"), make_version(asset_id, "b")),
        ))
    await add(db, *made)


def plans(url: str, queries: list[Query]) -> list[list[str]]:
    engine = sa.create_engine(sync_url(url), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                    conn.exec_driver_sql(f"SET {setting} = off")
            return [explain(conn, query) for query in queries]
    finally:
        engine.dispose()


@pytest.mark.parametrize("criterion", LISTING_INDEXES)
async def test_asset_list_pages_come_from_an_index(backend: Backend, criterion: str) -> None:
    await add_plan_fixtures(backend.db)
    criteria, sqlite_index = LISTING_INDEXES[criterion]
    where = AssetFilter(pool="default", **criteria)
    with captured_queries() as queries:
        async with backend.db.transaction() as tx:
            first = await tx.assets.list(where, limit=1, cursor=None)
            assert first.next_cursor is not None
            await tx.assets.list(where, limit=1, cursor=first.next_cursor)
    # The page and the page after a cursor, each with its versions and attachments.
    assert len(queries) == 6
    found = plans(backend.url, queries)
    dialect = "sqlite" if backend.url.startswith("sqlite") else "postgresql"
    assert [full_scans(dialect, plan) for plan in found] == [[]] * 6, found
    if dialect == "sqlite":
        page, versions_of_page, attachments_of_page, after_cursor = found[:4]
        assert page[0] == f"SEARCH assets USING INDEX {sqlite_index}", page
        assert versions_of_page[0].startswith("SEARCH versions USING INDEX"), versions_of_page
        assert attachments_of_page[0].startswith("SEARCH attachments USING"), attachments_of_page
        if criterion == "pool":
            assert after_cursor[0] == ("SEARCH assets USING INDEX ix_assets_pool_created_at_id"
                                       " (pool=? AND (created_at,id)<(?,?))"), after_cursor


async def test_asset_in_galleries_comes_from_the_gallery_index(backend: Backend) -> None:
    await add_plan_fixtures(backend.db)
    with captured_queries() as queries:
        async with backend.db.transaction() as tx:
            assert len(await tx.assets.in_galleries(["g", "h"])) == 5  # files are left out
    found = plans(backend.url, queries)
    dialect = "sqlite" if backend.url.startswith("sqlite") else "postgresql"
    assert [full_scans(dialect, plan) for plan in found] == [[]] * 3, found
    if dialect == "sqlite":
        assert found[0][0] == (
            "SEARCH assets USING INDEX ix_assets_gallery_pool_created_at_id (gallery=?)"
        ), found[0]


# -- versions ----------------------------------------------------------------------------


async def test_set_versions_replaces_all_and_returns_the_old(db: SqlDatabase) -> None:
    asset_id = uuid4()
    old = (make_version(asset_id, "thumbnail"), make_version(asset_id, "detail"))
    await add(db, make_asset(id=asset_id, versions=old))
    new = [make_version(asset_id, "detail"), make_version(asset_id, "square")]
    async with db.transaction() as tx:
        replaced = await tx.assets.set_versions(asset_id, new)
    assert replaced == [old[1], old[0]]
    assert (await get(db, asset_id)).versions == (new[0], new[1])
    async with db.transaction() as tx:
        assert await tx.assets.set_versions(asset_id, []) == new
    assert (await get(db, asset_id)).versions == ()


async def test_delete_version_returns_it_then_raises_version_not_found(db: SqlDatabase) -> None:
    asset_id = uuid4()
    detail, thumb = make_version(asset_id, "detail"), make_version(asset_id, "thumbnail")
    await add(db, make_asset(id=asset_id, versions=(detail, thumb)))
    async with db.transaction() as tx:
        assert await tx.assets.delete_version(asset_id, "detail") == detail
        with pytest.raises(VersionNotFound):
            await tx.assets.delete_version(asset_id, "detail")
        with pytest.raises(VersionNotFound):
            await tx.assets.delete_version(uuid4(), "thumbnail")
    assert (await get(db, asset_id)).versions == (thumb,)


async def test_finish_version_moves_only_a_pending_version(db: SqlDatabase) -> None:
    asset_id = uuid4()
    detail, thumb = make_version(asset_id, "detail"), make_version(asset_id, "thumbnail")
    await add(db, make_asset(id=asset_id, versions=(detail, thumb)))
    facts: dict[str, Any] = {
        "width": 800,
        "height": 563,
        "mime_type": "image/webp",
        "size": 4321,
        "sha256": "ef" * 32,
    }
    async with db.transaction() as tx:
        assert (
            await tx.assets.finish_version(
                detail.id, status=VersionStatus.READY, blob_key="versions/d", facts=facts
            )
            is True
        )
        assert (
            await tx.assets.finish_version(
                thumb.id, status=VersionStatus.FAILED, error="cannot decode"
            )
            is True
        )
    async with db.transaction() as tx:
        # Finished already (by "another worker"): neither write lands.
        assert (
            await tx.assets.finish_version(detail.id, status=VersionStatus.FAILED, error="late")
            is False
        )
        assert (
            await tx.assets.finish_version(
                thumb.id, status=VersionStatus.READY, blob_key="versions/t"
            )
            is False
        )
        assert await tx.assets.finish_version(uuid4(), status=VersionStatus.READY) is False
    got = await get(db, asset_id)
    assert got.version("detail") == replace(
        detail, status=VersionStatus.READY, blob_key="versions/d", **facts
    )
    assert got.version("thumbnail") == replace(
        thumb, status=VersionStatus.FAILED, error="cannot decode"
    )


async def test_reserve_version_key_is_a_compare_and_set_on_pending_rows(
    db: SqlDatabase,
) -> None:
    asset_id = uuid4()
    detail, thumb = make_version(asset_id, "detail"), make_version(asset_id, "thumbnail")
    await add(db, make_asset(id=asset_id, versions=(detail, thumb)))
    async with db.transaction() as tx:
        assert await tx.assets.reserve_version_key(detail.id, previous=None, key="v/d1")
        # Another render read the row before that: its reservation no longer applies.
        assert not await tx.assets.reserve_version_key(detail.id, previous=None, key="v/d2")
        # The next render takes over from the one that never finished.
        assert await tx.assets.reserve_version_key(detail.id, previous="v/d1", key="v/d3")
        assert await tx.assets.finish_version(thumb.id, status=VersionStatus.FAILED,
                                              error="x")
        assert not await tx.assets.reserve_version_key(thumb.id, previous=None, key="v/t")
        assert not await tx.assets.reserve_version_key(uuid4(), previous=None, key="v/u")
    got = (await get(db, asset_id)).version("detail")
    assert got is not None
    assert (got.status, got.blob_key) == (VersionStatus.PENDING, "v/d3")


async def test_finish_version_lands_only_for_the_render_holding_the_reservation(
    db: SqlDatabase,
) -> None:
    asset_id = uuid4()
    detail = make_version(asset_id, "detail")
    await add(db, make_asset(id=asset_id, versions=(detail,)))
    async with db.transaction() as tx:
        assert await tx.assets.reserve_version_key(detail.id, previous=None, key="v/a")
        assert await tx.assets.reserve_version_key(detail.id, previous="v/a", key="v/b")
    async with db.transaction() as tx:
        # The render that reserved v/a was taken over (or never reserved at all).
        assert not await tx.assets.finish_version(
            detail.id, status=VersionStatus.READY, blob_key="v/a", reserved="v/a")
        assert not await tx.assets.finish_version(
            detail.id, status=VersionStatus.READY, blob_key="v/x")
        assert await tx.assets.finish_version(
            detail.id, status=VersionStatus.READY, blob_key="v/b", reserved="v/b")
    got = (await get(db, asset_id)).version("detail")
    assert got is not None
    assert (got.status, got.blob_key) == (VersionStatus.READY, "v/b")


async def test_finish_version_refuses_unknown_facts_and_pending(db: SqlDatabase) -> None:
    async with db.transaction() as tx:
        with pytest.raises(ValueError, match="facts"):
            await tx.assets.finish_version(
                uuid4(), status=VersionStatus.READY, facts={"colour": "red"}
            )
        with pytest.raises(ValueError, match="pending"):
            await tx.assets.finish_version(uuid4(), status=VersionStatus.PENDING)


# -- attachments -------------------------------------------------------------------------


async def test_attach_keeps_the_first_and_lists_oldest_first(db: SqlDatabase) -> None:
    asset = make_asset()
    await add(db, asset)
    async with db.transaction() as tx:
        await tx.assets.attach(asset.id, "b", T0 + timedelta(seconds=2))
        await tx.assets.attach(asset.id, "a", T0 + timedelta(seconds=3))
        await tx.assets.attach(asset.id, "b", T0 + timedelta(seconds=9))  # kept at +2 s
        await tx.assets.attach(asset.id, "c", T0 + timedelta(seconds=1))
        # Same instant as "b": the insertion order breaks the tie.
        await tx.assets.attach(asset.id, "0", T0 + timedelta(seconds=2))
    assert (await get(db, asset.id)).attached_to == ("c", "b", "0", "a")


async def test_attach_to_an_unknown_asset_raises_asset_not_found(db: SqlDatabase) -> None:
    with pytest.raises(AssetNotFound):
        async with db.transaction() as tx:
            await tx.assets.attach(uuid4(), "r", T0)


async def test_detach_reports_whether_it_was_there(db: SqlDatabase) -> None:
    asset = make_asset(attached_to=("a", "b"))
    await add(db, asset)
    async with db.transaction() as tx:
        assert await tx.assets.detach(asset.id, "a") is True
        assert await tx.assets.detach(asset.id, "a") is False
        assert await tx.assets.detach(uuid4(), "b") is False
    assert (await get(db, asset.id)).attached_to == ("b",)


# -- blob keys ---------------------------------------------------------------------------


async def test_blob_keys_lists_originals_and_rendered_versions(db: SqlDatabase) -> None:
    one, two = uuid4(), uuid4()
    await add(
        db,
        make_asset(
            id=one,
            blob_key="o/1",
            versions=(
                make_version(one, "a", blob_key="v/1a", status=VersionStatus.READY),
                make_version(one, "b"),
            ),
        ),
        make_asset(
            id=two,
            blob_key="o/2",
            versions=(make_version(two, "a", blob_key="v/2a", status=VersionStatus.READY),),
        ),
    )
    async with db.transaction() as tx:
        keys = [key async for key in tx.assets.blob_keys()]
    assert sorted(keys) == ["o/1", "o/2", "v/1a", "v/2a"]


async def test_blob_keys_lists_reservations_of_pending_versions_only_when_asked(
    db: SqlDatabase,
) -> None:
    asset_id = uuid4()
    ready = make_version(asset_id, "a", blob_key="v/a", status=VersionStatus.READY)
    pending = make_version(asset_id, "b")
    await add(db, make_asset(id=asset_id, blob_key="o/1", versions=(ready, pending)))
    async with db.transaction() as tx:
        assert await tx.assets.reserve_version_key(pending.id, previous=None, key="v/b")
    async with db.transaction() as tx:
        everything = sorted([key async for key in tx.assets.blob_keys()])
        required = sorted([key async for key in tx.assets.blob_keys(reserved=False)])
    assert everything == ["o/1", "v/a", "v/b"]
    assert required == ["o/1", "v/a"]


# -- renditions (format auto, srcset widths) --------------------------------------------


def make_encoding(fmt: str, width: int | None, key: str) -> Encoding:
    return Encoding(format=fmt, srcset_width=width, blob_key=key,
                    mime_type=f"image/{fmt}", width=width or 800, height=(width or 800) // 2,
                    size=1000 + (width or 0), sha256=fmt[0] * 64)


AUTO_ENCODINGS = (make_encoding("avif", None, "v/avif"), make_encoding("webp", None, "v/webp"),
                  make_encoding("avif", 320, "v/avif-320"),
                  make_encoding("jpeg", 800, "v/main"))  # the own size shares its blob


async def test_versions_round_trip_their_encodings(db: SqlDatabase) -> None:
    asset_id = uuid4()
    ready = make_version(asset_id, "hero", status=VersionStatus.READY, blob_key="v/main",
                         mime_type="image/jpeg", spec=make_spec(
                             "hero", format=OutputFormat.AUTO, widths=(320, 800)),
                         encodings=AUTO_ENCODINGS)
    await add(db, make_asset(id=asset_id, versions=(ready, make_version(asset_id, "plain"))))
    got = await get(db, asset_id)
    assert got.version("hero") == ready
    assert got.version("plain").encodings == ()  # type: ignore[union-attr]
    replacement = replace(ready, id=uuid4(), encodings=AUTO_ENCODINGS[:1])
    async with db.transaction() as tx:
        old = await tx.assets.set_versions(asset_id, [replacement])
        removed = await tx.assets.delete_version(asset_id, "hero")
    assert [v.encodings for v in old] == [AUTO_ENCODINGS, ()]
    assert removed == replacement


async def test_finish_version_records_encodings(db: SqlDatabase) -> None:
    asset_id = uuid4()
    pending = make_version(asset_id, "hero")
    await add(db, make_asset(id=asset_id, versions=(pending,)))
    async with db.transaction() as tx:
        assert await tx.assets.finish_version(
            pending.id, status=VersionStatus.READY, blob_key="v/main",
            facts={"mime_type": "image/jpeg"}, encodings=AUTO_ENCODINGS)
        # the compare-and-set holds for the encodings too: a late writer changes nothing
        assert not await tx.assets.finish_version(
            pending.id, status=VersionStatus.READY, blob_key="v/late",
            encodings=AUTO_ENCODINGS[:1])
    got = (await get(db, asset_id)).version("hero")
    assert got is not None and got.encodings == AUTO_ENCODINGS
    assert got.blob_keys == ("v/main", "v/avif", "v/webp", "v/avif-320")


async def test_blob_keys_lists_every_rendition(db: SqlDatabase) -> None:
    asset_id = uuid4()
    await add(db, make_asset(id=asset_id, blob_key="o/1", versions=(
        make_version(asset_id, "hero", blob_key="v/main", status=VersionStatus.READY,
                     encodings=AUTO_ENCODINGS),)))
    async with db.transaction() as tx:
        keys = {key async for key in tx.assets.blob_keys()}
    assert keys == {"o/1", "v/main", "v/avif", "v/webp", "v/avif-320"}


def test_upgrade_gives_versions_already_stored_no_encodings(database_url: str) -> None:
    # A database at 0005 holding a rendered version upgrades in place; the version reads
    # back with no other renditions.
    empty(database_url)
    migrate.upgrade(database_url, "0005")
    asset_id, version_id = uuid4(), uuid4()
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(assets_table).values(
                id=asset_id, pool="default", type="image", filename="a.jpg",
                mime_type="image/jpeg", size=5, sha256="a" * 64, blob_key="o/a", width=8,
                height=8, frames=1, gallery=str(asset_id), metadata={}, hidden=False,
                created_at=T0, modified_at=T0))
            # the columns 0005 has: the table's new `encodings` is left out of the insert
            conn.execute(sa.insert(versions).values(
                id=version_id, asset_id=asset_id, name="detail", status="ready",
                spec={"name": "detail", "width": 8, "height": 8}, blob_key="v/a",
                mime_type="image/jpeg", created_at=T0))
        migrate.upgrade(database_url)
        assert migrate.current(database_url) == "0007"
    finally:
        engine.dispose()
    version = asyncio.run(_read_version(database_url, asset_id))
    assert (version.id, version.blob_key, version.encodings) == (version_id, "v/a", ())
    assert version.all_encodings[0].format == "jpeg"


async def _read_version(url: str, asset_id: UUID) -> Version:
    async with SqlDatabase.open(url) as db:
        [version] = (await get(db, asset_id)).versions
    return version
# -- direct uploads ----------------------------------------------------------------------


def make_direct_upload(**overrides: Any) -> DirectUpload:
    upload_id = overrides.pop("id", None) or uuid4()
    fields: dict[str, Any] = {
        "id": upload_id, "pool": "default", "creator": "editor", "filename": "photo.jpg",
        "size": 4_686_206, "mime_type": "image/jpeg",
        "form": {"gallery": "trip", "metadata": {"alt": "élan"}, "type": "image"},
        "blob_key": f"direct-uploads/{upload_id}", "created_at": T0,
        "url_expires_at": T0 + timedelta(minutes=15), "expires_at": T0 + timedelta(minutes=30),
    } | overrides
    return DirectUpload(**fields)


async def test_direct_upload_add_then_get_round_trips_every_field(db: SqlDatabase) -> None:
    upload = make_direct_upload()
    bare = make_direct_upload(creator=None, mime_type=None, form={}, size=0)
    async with db.transaction() as tx:
        await tx.direct_uploads.add(upload)
        await tx.direct_uploads.add(bare)
    async with db.transaction(write=False) as tx:
        assert await tx.direct_uploads.get(upload.id) == upload
        assert await tx.direct_uploads.get(bare.id) == bare
        with pytest.raises(DirectUploadNotFound):
            await tx.direct_uploads.get(uuid4())


async def test_direct_upload_claim_is_won_once_until_released(db: SqlDatabase) -> None:
    upload = make_direct_upload()
    async with db.transaction() as tx:
        await tx.direct_uploads.add(upload)

    async def claim() -> bool:
        async with db.transaction() as tx:
            return await tx.direct_uploads.claim(upload.id, T0 + timedelta(minutes=1))

    assert sorted(await asyncio.gather(*(claim() for _ in range(4)))) == [False] * 3 + [True]
    async with db.transaction() as tx:
        assert (await tx.direct_uploads.get(upload.id)).claimed_at == T0 + timedelta(minutes=1)
        await tx.direct_uploads.release(upload.id)
        assert (await tx.direct_uploads.get(upload.id)).claimed_at is None
        # Not once it has expired, and not an upload that is not there.
        assert not await tx.direct_uploads.claim(upload.id, upload.expires_at)
        assert not await tx.direct_uploads.claim(uuid4(), T0)
        assert await tx.direct_uploads.claim(upload.id, T0)


async def test_direct_upload_expired_and_delete(db: SqlDatabase) -> None:
    soon = make_direct_upload(expires_at=T0 + timedelta(minutes=1))
    later = make_direct_upload(expires_at=T0 + timedelta(minutes=2))
    claimed = make_direct_upload(expires_at=T0, claimed_at=T0 - timedelta(minutes=5))
    stale = make_direct_upload(expires_at=T0, claimed_at=T0 - timedelta(hours=2))
    async with db.transaction() as tx:
        for upload in (later, soon, claimed, stale):
            await tx.direct_uploads.add(upload)
    cut = T0 - timedelta(hours=1)
    async with db.transaction(write=False) as tx:
        assert await tx.direct_uploads.expired(T0, claimed_before=cut, limit=10) == [stale]
        found = await tx.direct_uploads.expired(T0 + timedelta(minutes=2), claimed_before=cut,
                                                limit=10)
        assert [u.id for u in found] == [stale.id, soon.id, later.id]
        assert len(await tx.direct_uploads.expired(T0 + timedelta(minutes=2),
                                                   claimed_before=cut, limit=1)) == 1
        assert sorted([k async for k in tx.direct_uploads.blob_keys()]) == sorted(
            u.blob_key for u in (later, soon, claimed, stale))
    async with db.transaction() as tx:
        assert await tx.direct_uploads.delete(soon.id)
        assert not await tx.direct_uploads.delete(soon.id)
        with pytest.raises(DirectUploadNotFound):
            await tx.direct_uploads.get(soon.id)


# -- transactions ------------------------------------------------------------------------


async def test_transaction_rolls_back_everything_on_an_exception(db: SqlDatabase) -> None:
    asset = make_asset(pool="temp", versions=(), attached_to=("r",))

    async def write_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.pools.put(Pool(name="temp"))
            await tx.assets.add(asset)
            await tx.jobs.enqueue("render", {"asset_id": str(asset.id)})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    async with db.transaction() as tx:
        with pytest.raises(PoolNotFound):
            await tx.pools.get("temp")
        with pytest.raises(AssetNotFound):
            await tx.assets.get(asset.id)
    assert await db.jobs.counts() == {"queued": 0, "running": 0, "failed": 0}


async def test_concurrent_read_then_write_transactions_all_commit(db: SqlDatabase) -> None:
    # A deferred SQLite transaction that reads and then writes fails at once with
    # "database is locked" when another writer got in between; these must queue instead.
    async def read_then_write(i: int) -> None:
        async with db.transaction() as tx:
            await tx.pools.list()
            await asyncio.sleep(0.01)
            await tx.pools.put(Pool(name=f"p{i:02}"))

    await asyncio.gather(*(read_then_write(i) for i in range(12)))
    async with db.transaction() as tx:
        assert [p.name for p in await tx.pools.list()] == [
            "default",
            *(f"p{i:02}" for i in range(12)),
        ]


async def test_ping_answers(db: SqlDatabase) -> None:
    await db.ping()


# -- jobs --------------------------------------------------------------------------------


async def enqueue(db: SqlDatabase, kind: str = "render", **payload: Any) -> None:
    async with db.transaction() as tx:
        await tx.jobs.enqueue(kind, payload)


async def last_error(db: SqlDatabase, job_id: UUID) -> str | None:
    async with db.engine.connect() as conn:
        stmt = sa.select(jobs.c.last_error).where(jobs.c.id == job_id)
        error: str | None = (await conn.execute(stmt)).scalar_one()
        return error


async def test_job_enqueued_in_a_rolled_back_transaction_does_not_exist(
    db: SqlDatabase,
) -> None:
    async def enqueue_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.jobs.enqueue("render", {"asset_id": "x"})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await enqueue_then_fail()
    assert await db.jobs.claim() is None
    assert await db.jobs.counts() == {"queued": 0, "running": 0, "failed": 0}


async def test_job_claim_then_complete(backend: Backend) -> None:
    db = backend.db
    await enqueue(db, asset_id="a1", nested={"n": [1, 2]})
    assert await db.jobs.counts() == {"queued": 1, "running": 0, "failed": 0}
    job = await db.jobs.claim()
    assert job is not None
    assert (job.kind, job.payload, job.attempts) == (
        "render",
        {"asset_id": "a1", "nested": {"n": [1, 2]}},
        1,
    )
    assert await db.jobs.claim() is None
    assert await db.jobs.counts() == {"queued": 0, "running": 1, "failed": 0}
    await db.jobs.complete(job.id)
    await db.jobs.complete(job.id)  # absent: not an error
    assert await db.jobs.counts() == {"queued": 0, "running": 0, "failed": 0}


async def test_job_claim_takes_the_longest_due_first(backend: Backend) -> None:
    db = backend.db
    for i in range(3):
        await enqueue(db, n=i)
        backend.clock.advance(1)
    claimed = [await db.jobs.claim() for _ in range(3)]
    assert [j.payload["n"] for j in claimed if j is not None] == [0, 1, 2]


async def test_job_retry_is_not_due_until_the_delay_passes(backend: Backend) -> None:
    db = backend.db
    await enqueue(db)
    job = await db.jobs.claim()
    assert job is not None
    await db.jobs.retry(job.id, "S3 timed out", delay=60)
    assert await db.jobs.counts() == {"queued": 1, "running": 0, "failed": 0}
    assert await last_error(db, job.id) == "S3 timed out"
    backend.clock.advance(59)
    assert await db.jobs.claim() is None
    backend.clock.advance(1)
    again = await db.jobs.claim()
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 2)


async def test_job_give_up_keeps_it_failed(backend: Backend) -> None:
    db = backend.db
    await enqueue(db)
    job = await db.jobs.claim()
    assert job is not None
    await db.jobs.give_up(job.id, "undecodable")
    assert await db.jobs.counts() == {"queued": 0, "running": 0, "failed": 1}
    assert await last_error(db, job.id) == "undecodable"
    backend.clock.advance(10**6)
    assert await db.jobs.claim() is None


async def test_job_requeue_stale_puts_back_only_old_running_jobs(backend: Backend) -> None:
    db = backend.db
    await enqueue(db, n=1)
    await enqueue(db, n=2)
    stale = await db.jobs.claim()
    assert stale is not None
    backend.clock.advance(200)
    fresh = await db.jobs.claim()
    assert fresh is not None
    backend.clock.advance(101)
    assert await db.jobs.requeue_stale(older_than=300) == 1
    assert await db.jobs.counts() == {"queued": 1, "running": 1, "failed": 0}
    again = await db.jobs.claim()
    assert again is not None
    assert (again.id, again.attempts) == (stale.id, 2)
    assert await db.jobs.requeue_stale(older_than=300) == 0


async def test_job_claim_ends_with_the_claiming_session_on_postgresql(
    postgres_url: str,
) -> None:
    async with SqlDatabase.open(postgres_url) as sweeper:
        worker = SqlDatabase.open(postgres_url)
        try:
            await enqueue(worker, n=1)
            await enqueue(worker, n=2)
            first, second = await worker.jobs.claim(), await worker.jobs.claim()
            assert first is not None and second is not None
            # Its worker is alive: no sweep takes a job away, however short the window.
            assert await sweeper.jobs.requeue_stale(older_than=3600) == 0
            await worker.jobs.complete(first.id)
        finally:
            await worker.aclose()  # the process ends: so does its session
        started = time.monotonic()
        assert await sweeper.jobs.requeue_stale(older_than=3600) == 1
        assert time.monotonic() - started < 1
        assert await sweeper.jobs.counts() == {"queued": 1, "running": 0, "failed": 0}
        again = await sweeper.jobs.claim()
        assert again is not None
        assert (again.id, again.attempts) == (second.id, 2)
        assert await last_error(sweeper, second.id) == (
            "requeued: its worker stopped or took longer than 3600 s")


async def test_job_claim_ends_when_the_server_ends_the_claiming_session(
    postgres_url: str,
) -> None:
    async with SqlDatabase.open(postgres_url) as sweeper, \
            SqlDatabase.open(postgres_url) as worker:
        await enqueue(worker)
        job = await worker.jobs.claim()
        assert job is not None
        # As when the worker's host vanishes and the server notices.
        async with sweeper.engine.connect() as conn:
            ended = (await conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"),
                {"name": f"assetry {os.getpid()} locks"})).scalars().all()
        assert ended == [True]  # the worker's lock session (the sweeper has none open)
        for _ in range(100):
            if await sweeper.jobs.requeue_stale(older_than=3600):
                break
            await asyncio.sleep(0.02)  # the backend takes a moment to go
        else:
            raise AssertionError("the claim outlived its session")
        assert await sweeper.jobs.counts() == {"queued": 1, "running": 0, "failed": 0}
        await worker.jobs.complete(job.id)  # the late worker's answer is harmless
        assert await sweeper.jobs.counts() == {"queued": 0, "running": 0, "failed": 0}


async def test_idle_job_claim_on_sqlite_does_not_wait_for_the_write_lock(
    tmp_path: Path,
) -> None:
    # Idle workers poll every second in every process: with nothing due, a claim must not
    # queue behind (or hold up) the writer an upload is waiting on.
    path = tmp_path / "data" / "assetry.db"
    migrate.upgrade(f"sqlite:///{path}")
    clock = FakeClock()
    async with SqlDatabase.open(f"sqlite:///{path}", clock=clock) as db:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process is writing
        try:
            started = time.monotonic()
            assert await db.jobs.claim() is None
            assert time.monotonic() - started < 1.0
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await enqueue(db, n=1)  # once something is due, the claim takes it as before
        clock.advance(1)
        job = await db.jobs.claim()
        assert job is not None and job.payload == {"n": 1}


async def test_job_concurrent_claims_never_return_the_same_job(db: SqlDatabase) -> None:
    for i in range(10):
        await enqueue(db, n=i)
    claimed = await asyncio.gather(*(db.jobs.claim() for _ in range(25)))
    taken = [job.id for job in claimed if job is not None]
    assert len(taken) == 10
    assert len(set(taken)) == 10
    assert await db.jobs.counts() == {"queued": 0, "running": 10, "failed": 0}


# -- unavailable back-ends ---------------------------------------------------------------


def _unreachable_urls() -> list[Any]:
    return [
        pytest.param(
            lambda tmp: f"postgresql://postgres@127.0.0.1:{closed_port()}/assetry",
            id="postgresql-closed-port",
        ),
        pytest.param(
            lambda tmp: f"sqlite:///{tmp / 'missing-dir' / 'x.db'}", id="sqlite-missing-directory"
        ),
    ]


@pytest.mark.parametrize("make_url", _unreachable_urls())
async def test_unreachable_database_raises_backend_unavailable_quickly(
    make_url: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    async with SqlDatabase.open(make_url(tmp_path)) as db:
        with pytest.raises(BackendUnavailable):
            await db.ping()
        with pytest.raises(BackendUnavailable):
            async with db.transaction() as tx:
                await tx.pools.list()
        with pytest.raises(BackendUnavailable):
            await db.jobs.claim()
    assert time.monotonic() - started < 3
    # After a failed connect aiosqlite stops its worker thread without waiting; if this
    # test's event loop closed first, that thread would fail reporting back to it.
    await asyncio.to_thread(_join_aiosqlite_threads, 5.0)


def _join_aiosqlite_threads(seconds: float) -> None:
    # Best effort: a connection still open elsewhere keeps its thread, so do not insist.
    deadline = time.monotonic() + seconds
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(max(0.0, deadline - time.monotonic()))


def test_migrate_unreachable_postgres_raises_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable):
        migrate.upgrade(f"postgresql://postgres@127.0.0.1:{closed_port()}/assetry")


# -- resumable uploads -------------------------------------------------------------------


def make_upload(**overrides: Any) -> Upload:
    fields: dict[str, Any] = {
        "id": uuid4(), "pool": "default", "creator": "editor", "length": 100, "offset": 0,
        "created_at": T0, "expires_at": T0 + timedelta(days=1),
        "metadata": {"filename": "cGhvdG8uanBn", "flag": ""},
    } | overrides
    return Upload(**fields)


async def add_upload(db: SqlDatabase, upload: Upload) -> None:
    async with db.transaction() as tx:
        await tx.uploads.add(upload)


async def advance(db: SqlDatabase, upload_id: UUID, offset: int, size: int,
                  expires_at: datetime = T0 + timedelta(days=2)) -> bool:
    async with db.transaction() as tx:
        return await tx.uploads.advance(
            upload_id, UploadPart(offset=offset, size=size, blob_key=f"uploads/{offset}"),
            expires_at=expires_at)


async def test_upload_add_then_get_round_trips_every_field(db: SqlDatabase) -> None:
    upload = make_upload(creator=None, expires_at=T0.astimezone(timezone(timedelta(hours=5))))
    await add_upload(db, upload)
    async with db.transaction(write=False) as tx:
        got = await tx.uploads.get(upload.id)
        with pytest.raises(UploadNotFound):
            await tx.uploads.get(uuid4())
    assert got == upload
    assert list(got.metadata) == ["filename", "flag"]
    assert got.expires_at.tzinfo == UTC


async def test_upload_advance_is_a_compare_and_set_on_the_offset(db: SqlDatabase) -> None:
    upload = make_upload(length=100)
    await add_upload(db, upload)
    later = T0 + timedelta(days=3)
    assert await advance(db, upload.id, 0, 40, expires_at=later)
    assert not await advance(db, upload.id, 0, 40)  # the offset moved on
    assert not await advance(db, upload.id, 10, 40)  # not the current offset
    assert not await advance(db, upload.id, 40, 61)  # past Upload-Length
    assert not await advance(db, uuid4(), 0, 1)  # no such upload
    assert await advance(db, upload.id, 40, 60, expires_at=later)
    async with db.transaction(write=False) as tx:
        got = await tx.uploads.get(upload.id)
        parts = await tx.uploads.parts(upload.id)
    assert (got.offset, got.complete, got.expires_at) == (100, True, later)
    assert parts == [UploadPart(0, 40, "uploads/0"), UploadPart(40, 60, "uploads/40")]


async def test_upload_concurrent_advances_from_one_offset_record_one_part(
    db: SqlDatabase,
) -> None:
    upload = make_upload(length=100)
    await add_upload(db, upload)
    won = await asyncio.gather(*(advance(db, upload.id, 0, 10 + i) for i in range(5)))
    assert sorted(won) == [False] * 4 + [True]
    async with db.transaction(write=False) as tx:
        parts = await tx.uploads.parts(upload.id)
        got = await tx.uploads.get(upload.id)
    assert len(parts) == 1 and got.offset == parts[0].size


async def test_upload_finish_records_the_asset_and_forgets_the_parts(db: SqlDatabase) -> None:
    upload = make_upload(length=10)
    await add_upload(db, upload)
    assert await advance(db, upload.id, 0, 10)
    asset_id, later = uuid4(), T0 + timedelta(days=5)
    async with db.transaction() as tx:
        await tx.uploads.finish(upload.id, asset_id, expires_at=later)
    async with db.transaction(write=False) as tx:
        got = await tx.uploads.get(upload.id)
        assert await tx.uploads.parts(upload.id) == []
    assert (got.asset_id, got.expires_at, got.offset) == (asset_id, later, 10)
    assert not await advance(db, upload.id, 10, 0)  # a finished upload takes nothing


async def test_upload_delete_removes_it_and_its_parts(db: SqlDatabase) -> None:
    upload, other = make_upload(), make_upload()
    await add_upload(db, upload)
    await add_upload(db, other)
    assert await advance(db, upload.id, 0, 10)
    assert await advance(db, other.id, 0, 10)
    async with db.transaction() as tx:
        assert await tx.uploads.delete(upload.id)
        assert not await tx.uploads.delete(upload.id)
    async with db.transaction(write=False) as tx:
        with pytest.raises(UploadNotFound):
            await tx.uploads.get(upload.id)
        assert await tx.uploads.parts(other.id) != []
    assert await count_rows(db, upload_parts) == 1


async def test_upload_expired_lists_the_longest_expired_first(db: SqlDatabase) -> None:
    late = make_upload(expires_at=T0 + timedelta(minutes=2))
    early = make_upload(expires_at=T0 + timedelta(minutes=1))
    fresh = make_upload(expires_at=T0 + timedelta(minutes=3))
    for upload in (late, early, fresh):
        await add_upload(db, upload)
    async with db.transaction(write=False) as tx:
        due = await tx.uploads.expired(T0 + timedelta(minutes=2), limit=10)
        first = await tx.uploads.expired(T0 + timedelta(minutes=2), limit=1)
        assert await tx.uploads.existing([late.id, uuid4(), fresh.id]) == {late.id, fresh.id}
        assert await tx.uploads.existing([]) == set()
    assert [u.id for u in due] == [early.id, late.id]
    assert [u.id for u in first] == [early.id]


async def test_first_with_sha256_is_the_oldest_copy_in_the_pool(db: SqlDatabase) -> None:
    digest = "ef" * 32
    newest = make_asset(sha256=digest, created_at=T0 + timedelta(seconds=2))
    hidden_oldest = make_asset(sha256=digest, created_at=T0 - timedelta(seconds=5), hidden=True)
    oldest_visible = make_asset(sha256=digest, created_at=T0)
    elsewhere = make_asset(sha256=digest, pool="other", created_at=T0 - timedelta(days=1))
    other_bytes = make_asset(sha256="01" * 32, created_at=T0 - timedelta(days=1))
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="other"))
    await add(db, newest, hidden_oldest, oldest_visible, elsewhere, other_bytes)
    async with db.transaction(write=False) as tx:
        visible = await tx.assets.first_with_sha256("default", digest, include_hidden=False)
        anything = await tx.assets.first_with_sha256("default", digest.upper(),
                                                     include_hidden=True)
        in_other = await tx.assets.first_with_sha256("other", digest, include_hidden=False)
        absent = await tx.assets.first_with_sha256("default", "23" * 32, include_hidden=True)
    assert visible == oldest_visible.id
    assert anything == hidden_oldest.id
    assert in_other == elsewhere.id
    assert absent is None


async def test_renditions_are_kept_apart_from_versions(db: SqlDatabase) -> None:
    asset = make_asset()
    detail = make_version(asset.id, "detail")
    await add(db, replace(asset, versions=(detail,)))
    rendition = make_version(asset.id, "fit=inside&format=same&gravity=centre&q=80&w=64",
                             used_at=T0, spec=make_spec("transform"))
    async with db.transaction() as tx:
        assert await tx.assets.add_rendition(rendition) is True
        assert await tx.assets.add_rendition(replace(rendition, id=uuid4())) is False
    got = await get(db, asset.id)
    assert got.versions == (detail,) and got.renditions == (rendition,)
    assert got.rendition(rendition.name) == rendition and got.version(rendition.name) is None
    fresh = make_version(asset.id, "thumbnail")
    async with db.transaction() as tx:  # convert: the converter's versions only
        assert await tx.assets.set_versions(asset.id, [fresh]) == [detail]
        with pytest.raises(VersionNotFound):
            await tx.assets.delete_version(asset.id, rendition.name)
        await tx.assets.touch_rendition(rendition.id, T0 + timedelta(hours=1))
    got = await get(db, asset.id)
    assert got.versions == (fresh,)
    assert got.renditions == (replace(rendition, used_at=T0 + timedelta(hours=1)),)
    async with db.transaction() as tx:
        assert await tx.assets.drop_renditions(asset.id) == [got.renditions[0]]
    assert (await get(db, asset.id)).renditions == ()


async def test_trim_renditions_keeps_the_most_recently_used_of_each_pool(
    db: SqlDatabase,
) -> None:
    async with db.transaction() as tx:
        await tx.pools.put(Pool(name="other"))
    one, two = make_asset(), make_asset(pool="other")
    await add(db, one, two)

    def made(asset: Asset, name: str, used: int | None, created: int) -> Version:
        return make_version(asset.id, name, created_at=T0 + timedelta(minutes=created),
                            used_at=None if used is None else T0 + timedelta(minutes=used),
                            spec=make_spec("transform"))

    old = made(one, "q=1", used=5, created=0)
    recent = made(one, "q=2", used=50, created=1)
    never_used = made(one, "q=3", used=None, created=20)
    alone = made(two, "q=4", used=1, created=0)
    async with db.transaction() as tx:
        for version in (old, recent, never_used, alone):
            await tx.assets.add_rendition(version)
        removed = await tx.assets.trim_renditions(2)
    assert removed == [old]
    async with db.transaction() as tx:
        removed = await tx.assets.trim_renditions(1)
    assert removed == [never_used]
    assert [v.name for v in (await get(db, one.id)).renditions] == ["q=2"]
    assert [v.name for v in (await get(db, two.id)).renditions] == ["q=4"]


def test_upgrade_to_0004_keeps_pools_off_and_versions_as_the_converter_s(
    database_url: str,
) -> None:
    # A database at 0003 holding an image with a version upgrades in place.
    empty(database_url)
    migrate.upgrade(database_url, "0003")
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.NullPool)
    asset_id, version_id = uuid4(), uuid4()
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(assets_table).values(
                id=asset_id, pool="default", type="image", filename="a.png",
                mime_type="image/png", size=5, sha256="a" * 64, blob_key="originals/a",
                frames=1, gallery=str(asset_id), metadata={}, hidden=False,
                created_at=T0, modified_at=T0))
            conn.execute(sa.insert(versions).values(
                id=version_id, asset_id=asset_id, name="detail",
                spec=make_spec("detail").to_json(), status="ready", created_at=T0))
        migrate.upgrade(database_url)
        assert migrate.current(database_url) == migrate.head()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT transforms FROM pools")).scalars().all() == [
                "off"]
            row = conn.execute(sa.select(versions.c.adhoc, versions.c.used_at)).one()
            assert (row.adhoc, row.used_at) == (False, None)
            placeholder = conn.execute(sa.select(assets_table.c.placeholder)).scalar_one()
            assert placeholder is None
    finally:
        engine.dispose()
