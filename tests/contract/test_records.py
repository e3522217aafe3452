"""SqlRecords: whole tables read from one database and written into another, between
SQLite and PostgreSQL in both directions, with every value (ids, times, JSON) intact."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from assetry.db import migrate
from assetry.db.engine import SqlDatabase
from assetry.db.records import LEFT_BEHIND, TABLES, SqlRecords
from assetry.db.tables import metadata
from assetry.domain.converter import Converter
from assetry.domain.model import AssetFilter, Pool, Role, Token, VersionStatus
from assetry.domain.ports import StoredBlob
from tests.contract.test_repositories import T0, make_asset, make_spec, make_version
from tests.support.postgres import create_database, drop_database, unique_name


def test_every_table_is_moved_or_left_behind_on_purpose() -> None:
    assert set(TABLES) | set(LEFT_BEHIND) == set(metadata.tables)
    assert not set(TABLES) & set(LEFT_BEHIND)
    # Parents before the rows that refer to them.
    for position, name in enumerate(TABLES):
        for key in metadata.tables[name].foreign_keys:
            assert TABLES.index(key.column.table.name) < position, (name, key)


@pytest.fixture(params=[("sqlite", "postgresql"), ("postgresql", "sqlite")],
                ids=["sqlite-to-postgresql", "postgresql-to-sqlite"])
async def pair(request: pytest.FixtureRequest, tmp_path: Path
               ) -> AsyncIterator[tuple[SqlDatabase, SqlDatabase]]:
    """A source and a target database of the other kind, both migrated."""
    made: list[str] = []

    def url(kind: str, name: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / name / 'assetry.db'}"
        admin = request.getfixturevalue("postgres")
        database = unique_name(f"assetry_{name}")
        made.append(database)
        return create_database(admin, database)

    urls = [url(kind, name) for kind, name in zip(request.param, ("source", "target"),
                                                   strict=True)]
    for each in urls:
        migrate.upgrade(each)
    try:
        async with SqlDatabase.open(urls[0]) as source, SqlDatabase.open(urls[1]) as target:
            yield source, target
    finally:
        for database in made:
            drop_database(request.getfixturevalue("postgres"), database)


async def fill(db: SqlDatabase) -> None:
    """A bit of everything: pools, a converter, tokens, assets with versions and
    attachments, a job."""
    one, two = uuid4(), uuid4()
    async with db.transaction() as tx:
        await tx.converters.put(Converter(name="cards", versions=(make_spec("square"),)))
        await tx.pools.put(Pool(name="closed", title="Geschlossen", public=False,
                                converter="cards"))
        await tx.tokens.add(Token(name="ops", role=Role.ADMIN, hash="a" * 64, created_at=T0))
        await tx.tokens.add(Token(name="gone", role=Role.EDITOR, hash="b" * 64,
                                  created_at=T0, revoked_at=T0 + timedelta(days=1)))
        await tx.assets.add(make_asset(
            id=one, metadata={"alt": "élan", "n": [1, 2.5, None]}, attached_to=("p/7", "u/3"),
            versions=(make_version(one, "detail", status=VersionStatus.READY, width=800,
                                   height=563, mime_type="image/jpeg", size=1234,
                                   sha256="c" * 64, blob_key=f"versions/{one}/d"),
                      make_version(one, "thumbnail"))))
        await tx.assets.add(make_asset(id=two, pool="closed", hidden=True, creator="ops",
                                       width=None, height=None, converter=None))
        await tx.jobs.enqueue("render", {"asset_id": str(one)})


async def table(db: SqlDatabase, name: str) -> list[dict[str, Any]]:
    return [row async for rows in SqlRecords(db).read(name, batch=2) for row in rows]


async def copy(source: SqlDatabase, target: SqlDatabase) -> None:
    reader, writer = SqlRecords(source), SqlRecords(target)
    for name in reader.tables:
        async for rows in reader.read(name, batch=2):
            await writer.write(name, rows)


async def test_records_copy_every_row_with_every_value(
        pair: tuple[SqlDatabase, SqlDatabase]) -> None:
    source, target = pair
    await fill(source)
    await copy(source, target)
    for name in TABLES:
        assert await table(target, name) == await table(source, name), name
        assert await SqlRecords(target).count(name) == await SqlRecords(source).count(name)
    assert await SqlRecords(target).count("assets") == 2
    async with target.transaction() as tx:  # and the repositories read them as before
        assert (await tx.pools.get("closed")).title == "Geschlossen"
        assert (await tx.tokens.by_hash("b" * 64)) is not None


async def test_records_write_again_overwrites_and_follows_replaced_versions(
        pair: tuple[SqlDatabase, SqlDatabase]) -> None:
    source, target = pair
    await fill(source)
    await copy(source, target)
    async with source.transaction() as tx:
        asset = (await tx.assets.list(AssetFilter(pool="default"), limit=10,
                                      cursor=None)).items[0]
        # New version rows under new ids but the same names, as a replace makes them.
        await tx.assets.set_versions(asset.id, [make_version(asset.id, "detail"),
                                                make_version(asset.id, "thumbnail")])
        await tx.pools.put(Pool(name="closed", title="Renamed", public=False,
                                converter="cards"))
    await copy(source, target)
    await copy(source, target)  # and once more: nothing changes
    for name in TABLES:
        assert await table(target, name) == await table(source, name), name


async def test_records_list_the_blobs_rows_point_at(
        pair: tuple[SqlDatabase, SqlDatabase]) -> None:
    source, _ = pair
    await fill(source)
    found = [b async for b in SqlRecords(source).blobs()]
    originals = [b for b in found if b.key.startswith("originals/")]
    assert len(originals) == 2 and {b.size for b in originals} == {159041}
    assert [b for b in found if b.key.startswith("versions/")] == [
        StoredBlob(key=found[-1].key, size=1234, sha256="c" * 64)]  # ready versions only
