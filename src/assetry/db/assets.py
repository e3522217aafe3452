"""SqlAssetRepository: assets with their versions and attachments; rows <-> Asset and Version."""

from __future__ import annotations

import base64
import binascii
import builtins
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from assetry.db.rows import select_rows
from assetry.db.tables import assets, attachments
from assetry.db.tables import versions as versions_table
from assetry.domain.converter import parse_version
from assetry.domain.model import (
    Asset,
    AssetFilter,
    AssetType,
    Encoding,
    Page,
    Version,
    VersionStatus,
)
from assetry.domain.placeholder import Placeholder
from assetry.domain.rows import ListQuery, Row, RowPage, RowTable
from assetry.errors import AssetNotFound, Invalid, PoolNotFound, VersionNotFound

#: Built once: a statement object keeps its cache key, so running it again skips
#: SQLAlchemy's construction and cache-key walk (about 0.4 ms a statement here). The
#: inserts take their rows as parameters.
_INSERT_ASSET = sa.insert(assets)
_INSERT_VERSIONS = sa.insert(versions_table)
_INSERT_ATTACHMENTS = sa.insert(attachments)
_FIRST_COPY = {
    include_hidden: sa.select(assets.c.id)
    .where(assets.c.pool == sa.bindparam("pool"), assets.c.sha256 == sa.bindparam("sha256"),
           *(() if include_hidden else (sa.not_(assets.c.hidden),)))
    .order_by(assets.c.created_at, assets.c.id).limit(1)
    for include_hidden in (False, True)
}

#: The facts finish_version may record about a rendered version.
VERSION_FACTS = frozenset({"width", "height", "mime_type", "size", "sha256"})


def version_from_row(row: sa.Row[Any]) -> Version:
    m = row._mapping
    return Version(
        id=m["id"],
        asset_id=m["asset_id"],
        name=m["name"],
        spec=parse_version(m["spec"], "spec"),
        status=VersionStatus(m["status"]),
        created_at=m["created_at"],
        width=m["width"],
        height=m["height"],
        mime_type=m["mime_type"],
        size=m["size"],
        sha256=m["sha256"],
        blob_key=m["blob_key"],
        error=m["error"],
        used_at=m["used_at"],
        encodings=tuple(Encoding(**e) for e in m["encodings"] or ()),
    )


def version_to_row(version: Version, *, adhoc: bool = False) -> dict[str, Any]:
    return {
        "id": version.id,
        "asset_id": version.asset_id,
        "name": version.name,
        "spec": version.spec.to_json(),
        "status": version.status.value,
        "created_at": version.created_at,
        "width": version.width,
        "height": version.height,
        "mime_type": version.mime_type,
        "size": version.size,
        "sha256": version.sha256,
        "blob_key": version.blob_key,
        "error": version.error,
        "adhoc": adhoc,
        "used_at": version.used_at,
        "encodings": [asdict(e) for e in version.encodings],
    }


def from_row(
    row: sa.Row[Any], versions: Sequence[Version] = (), attached_to: Sequence[str] = (),
    renditions: Sequence[Version] = (),
) -> Asset:
    m = row._mapping
    return Asset(
        id=m["id"],
        pool=m["pool"],
        type=AssetType(m["type"]),
        filename=m["filename"],
        mime_type=m["mime_type"],
        size=m["size"],
        sha256=m["sha256"],
        blob_key=m["blob_key"],
        gallery=m["gallery"],
        converter=m["converter"],
        created_at=m["created_at"],
        modified_at=m["modified_at"],
        width=m["width"],
        height=m["height"],
        frames=m["frames"],
        metadata=dict(m["metadata"] or {}),
        hidden=m["hidden"],
        creator=m["creator"],
        modified_by=m["modified_by"],
        attached_to=tuple(attached_to),
        versions=tuple(versions),
        placeholder=placeholder_from_json(m["placeholder"]),
        renditions=tuple(renditions),
    )


def placeholder_from_json(value: Any) -> Placeholder | None:
    if not value:
        return None
    return Placeholder(thumbhash=value["thumbhash"], blurhash=value["blurhash"],
                       color=value["color"])


def placeholder_to_json(placeholder: Placeholder | None) -> dict[str, str] | None:
    if placeholder is None:
        return None
    return {"thumbhash": placeholder.thumbhash, "blurhash": placeholder.blurhash,
            "color": placeholder.color}


def to_row(asset: Asset) -> dict[str, Any]:
    """Every column of the assets table (versions and attachments live in their own)."""
    return {
        "id": asset.id,
        "pool": asset.pool,
        "type": asset.type.value,
        "filename": asset.filename,
        "mime_type": asset.mime_type,
        "size": asset.size,
        "sha256": asset.sha256,
        "blob_key": asset.blob_key,
        "width": asset.width,
        "height": asset.height,
        "frames": asset.frames,
        "gallery": asset.gallery,
        "converter": asset.converter,
        "metadata": asset.metadata,
        "placeholder": placeholder_to_json(asset.placeholder),
        "hidden": asset.hidden,
        "creator": asset.creator,
        "modified_by": asset.modified_by,
        "created_at": asset.created_at,
        "modified_at": asset.modified_at,
    }


def _pending_naming(version_id: UUID, key: str | None) -> sa.ColumnElement[bool]:
    """The row of a version that is still pending and names blob key `key` (None: none)."""
    return sa.and_(versions_table.c.id == version_id,
                   versions_table.c.status == VersionStatus.PENDING.value,
                   versions_table.c.blob_key.is_not_distinct_from(key))


def encode_cursor(created_at: datetime, asset_id: UUID) -> str:
    """The opaque listing position just after the asset (created_at, id)."""
    text = f"{created_at.isoformat()}|{asset_id}"
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """Raises Invalid(field="cursor") for anything encode_cursor did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
        created, _, asset_id = text.partition("|")
        position = datetime.fromisoformat(created), UUID(asset_id)
    except (binascii.Error, UnicodeError, ValueError):
        raise Invalid("the cursor is malformed", field="cursor") from None
    if position[0].tzinfo is None:
        raise Invalid("the cursor is malformed", field="cursor")
    return position


class SqlAssetRepository:
    """AssetRepository on one connection (the caller's transaction)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, asset: Asset) -> None:
        """Insert the asset with its versions and attachments (the attachments dated
        asset.created_at, in the order given). Raises PoolNotFound when the pool is gone
        (read before the upload's bytes came, then deleted)."""
        try:
            await self._conn.execute(_INSERT_ASSET, to_row(asset))
        except sa.exc.IntegrityError as exc:
            # The pool is the row's only reference; its id is new (uuid4).
            raise PoolNotFound(f"no pool named {asset.pool!r}") from exc
        if asset.versions:
            await self._conn.execute(
                _INSERT_VERSIONS, [version_to_row(v) for v in asset.versions]
            )
        if asset.attached_to:
            await self._conn.execute(
                _INSERT_ATTACHMENTS,
                [
                    {
                        "asset_id": asset.id,
                        "resource": r,
                        "created_at": asset.created_at,
                        "seq": seq,
                    }
                    for seq, r in enumerate(dict.fromkeys(asset.attached_to), start=1)
                ],
            )

    async def get(self, asset_id: UUID, *, for_update: bool = False) -> Asset:
        """The asset with its versions (by name) and attachments (oldest first).

        `for_update` locks the asset row until the transaction ends (PostgreSQL). SQLite
        ignores it: its write transactions already run one at a time (BEGIN IMMEDIATE).
        Raises AssetNotFound.
        """
        stmt = sa.select(assets).where(assets.c.id == asset_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            raise AssetNotFound(f"no asset with id {asset_id}")
        return (await self._hydrate([row]))[0]

    async def list(self, where: AssetFilter, *, limit: int, cursor: str | None) -> Page:
        """Up to `limit` assets of the pool that pass every criterion of `where`, newest
        first by (created_at, id), starting after `cursor`. Raises Invalid (field cursor)
        for a cursor this repository did not make, or (field limit) for a limit below 1.
        """
        if limit < 1:
            raise Invalid(f"limit must be at least 1, not {limit}", field="limit")
        in_pool: sa.ColumnElement[bool] = assets.c.pool == where.pool
        if where.attached_to is not None and self._conn.dialect.name == "sqlite":
            # SQLite has no statistics unless someone runs ANALYZE, and guesses that
            # `pool = ?` keeps about ten rows: it would walk the pool rather than start
            # from the resource's attachments (below). likely(), a no-op when the query
            # runs, tells it the pool holds most rows. PostgreSQL's statistics say so.
            in_pool = sa.func.likely(in_pool, type_=sa.Boolean)
        stmt = sa.select(assets).where(in_pool)
        if where.type is not None:
            stmt = stmt.where(assets.c.type == where.type.value)
        if where.gallery is not None:
            stmt = stmt.where(assets.c.gallery == where.gallery)
        if where.sha256 is not None:
            stmt = stmt.where(assets.c.sha256 == where.sha256)
        if where.attached_to is not None:
            # Start from the resource's few attachments, then each asset by its key, rather
            # than test every asset of the pool, newest first, until enough match (all of
            # them, for a resource with few assets). IN, not a correlated EXISTS, lets the
            # plan start there; the rows are the same, as (asset_id, resource) is the key.
            stmt = stmt.where(
                assets.c.id.in_(
                    sa.select(attachments.c.asset_id).where(
                        attachments.c.resource == where.attached_to
                    )
                )
            )
        if where.attached is not None:
            any_attachment = sa.exists().where(attachments.c.asset_id == assets.c.id)
            stmt = stmt.where(any_attachment if where.attached else sa.not_(any_attachment))
        if not where.include_hidden:
            stmt = stmt.where(sa.not_(assets.c.hidden))
        if cursor is not None:
            created_at, asset_id = decode_cursor(cursor)
            stmt = stmt.where(sa.tuple_(assets.c.created_at, assets.c.id) < (created_at, asset_id))
        # One row more than asked tells whether another page exists.
        stmt = stmt.order_by(assets.c.created_at.desc(), assets.c.id.desc()).limit(limit + 1)
        rows = (await self._conn.execute(stmt)).all()
        items = await self._hydrate(rows[:limit])
        last = items[-1] if len(rows) > limit else None
        return Page(
            items=tuple(items),
            next_cursor=None if last is None else encode_cursor(last.created_at, last.id),
        )

    async def first_with_sha256(self, pool: str, sha256: str, *, include_hidden: bool
                                ) -> UUID | None:
        """The id of the oldest asset of `pool` (by created_at, then id) whose original
        has this hex SHA-256, hidden ones only with `include_hidden`; None if there is
        none. Read from the (pool, sha256, created_at, id) index alone: nothing else of
        the asset is loaded."""
        found: UUID | None = (await self._conn.execute(
            _FIRST_COPY[include_hidden], {"pool": pool, "sha256": sha256.lower()},
        )).scalar_one_or_none()
        return found

    async def in_galleries(self, gallery_ids: Sequence[str]) -> builtins.list[Asset]:
        """Every image (hidden ones too) of the given galleries, oldest first by
        (created_at, id)."""
        if not gallery_ids:
            return []
        stmt = (
            sa.select(assets)
            .where(assets.c.gallery.in_(gallery_ids), assets.c.type == AssetType.IMAGE.value)
            .order_by(assets.c.created_at, assets.c.id)
        )
        return await self._hydrate((await self._conn.execute(stmt)).all())

    async def update(self, asset: Asset) -> None:
        """Write every field of `asset` except versions and attachments.
        Raises AssetNotFound."""
        values = to_row(asset)
        del values["id"]
        result = await self._conn.execute(
            sa.update(assets).where(assets.c.id == asset.id).values(**values)
        )
        if result.rowcount == 0:
            raise AssetNotFound(f"no asset with id {asset.id}")

    async def delete(self, asset_id: UUID) -> None:
        """Remove the asset, its versions and attachments. Deleting an absent asset is
        not an error."""
        # Versions and attachments go by ON DELETE CASCADE (SQLite: foreign_keys=ON).
        await self._conn.execute(sa.delete(assets).where(assets.c.id == asset_id))

    async def count_in_pool(self, pool: str) -> int:
        stmt = sa.select(sa.func.count()).select_from(assets).where(assets.c.pool == pool)
        return int((await self._conn.execute(stmt)).scalar_one())

    async def set_versions(
        self, asset_id: UUID, versions: Sequence[Version]
    ) -> builtins.list[Version]:
        """Replace every converter version row of the asset with `versions`; return the
        rows that were there, by name. Transform results (renditions) are left alone."""
        if any(v.asset_id != asset_id for v in versions):
            raise ValueError(f"every version must belong to asset {asset_id}")
        old = await self._conn.execute(
            sa.delete(versions_table)
            .where(versions_table.c.asset_id == asset_id, sa.not_(versions_table.c.adhoc))
            .returning(*versions_table.c)
        )
        replaced = sorted((version_from_row(row) for row in old), key=lambda v: v.name)
        if versions:
            await self._conn.execute(
                sa.insert(versions_table), [version_to_row(v) for v in versions]
            )
        return replaced

    async def delete_version(self, asset_id: UUID, name: str) -> Version:
        """Remove one version row and return it. Raises VersionNotFound."""
        row = (
            await self._conn.execute(
                sa.delete(versions_table)
                .where(versions_table.c.asset_id == asset_id, versions_table.c.name == name,
                       sa.not_(versions_table.c.adhoc))
                .returning(*versions_table.c)
            )
        ).first()
        if row is None:
            raise VersionNotFound(f"asset {asset_id} has no version {name!r}")
        return version_from_row(row)

    async def version_owner(self, version_id: UUID) -> UUID | None:
        """The id of the asset that holds the version with this id, or None."""
        stmt = sa.select(versions_table.c.asset_id).where(versions_table.c.id == version_id)
        owner: UUID | None = (await self._conn.execute(stmt)).scalar_one_or_none()
        return owner

    async def rows(self, table: RowTable, query: ListQuery, *, pools: Sequence[str],
                   include_hidden: bool) -> RowPage:
        """A page of the original image service's table view over the assets of `pools`
        (see db/rows.py), each row with its asset loaded as `get` loads it."""
        found, count = await select_rows(self._conn, table, query, pools=pools,
                                         include_hidden=include_hidden)
        owners = list(dict.fromkeys(asset_id for _, asset_id in found))
        loaded: dict[UUID, Asset] = {}
        if owners:
            stmt = sa.select(assets).where(assets.c.id.in_(owners))
            loaded = {a.id: a for a in await self._hydrate((await self._conn.execute(stmt)).all())}
        page = []
        for row_id, asset_id in found:
            # PostgreSQL reads each statement afresh (READ COMMITTED): a row deleted or
            # replaced since the page was read is left out rather than shown half.
            asset = loaded.get(asset_id)
            if asset is None:
                continue
            if row_id == asset_id:
                page.append(Row(asset))
            elif (version := next((v for v in asset.versions if v.id == row_id), None)):
                page.append(Row(asset, version))
        return RowPage(rows=tuple(page), count=count)

    async def reserve_version_key(self, version_id: UUID, *, previous: str | None,
                                  key: str) -> bool:
        """Record `key` on a *pending* version as where a render is about to store its
        bytes, in place of `previous` (what the row named when read). False when the
        version is no longer pending or names another key."""
        result = await self._conn.execute(
            sa.update(versions_table).where(_pending_naming(version_id, previous))
            .values(blob_key=key))
        return result.rowcount == 1

    async def finish_version(
        self,
        version_id: UUID,
        *,
        status: VersionStatus,
        blob_key: str | None = None,
        facts: dict[str, Any] | None = None,
        error: str | None = None,
        reserved: str | None = None,
        encodings: Sequence[Encoding] = (),
    ) -> bool:
        """Move a *pending* version that still names `reserved` to ready or failed,
        recording `blob_key`, `error`, the `facts` (any of width, height, mime_type,
        size, sha256) and its other renditions. False otherwise (replaced, deleted,
        finished or taken over by another render)."""
        if status is VersionStatus.PENDING:
            raise ValueError("finish_version moves a version to ready or failed, not pending")
        facts = facts or {}
        if unknown := set(facts) - VERSION_FACTS:
            raise ValueError(f"unknown version facts {sorted(unknown)}")
        # The conditions make this a compare-and-set: of two renders finishing the same
        # version, or a render racing a replacement, exactly one write wins.
        result = await self._conn.execute(
            sa.update(versions_table).where(_pending_naming(version_id, reserved))
            .values(status=status.value, blob_key=blob_key, error=error,
                    encodings=[asdict(e) for e in encodings], **facts))
        return result.rowcount == 1

    async def add_rendition(self, version: Version) -> bool:
        """Insert a transform's (pending) stored result; False when the asset has one of
        that name already (another request got there first). Raises AssetNotFound."""
        dialect_insert = (
            postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        )
        stmt = dialect_insert(versions_table).values(**version_to_row(version, adhoc=True))
        try:
            inserted = await self._conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["asset_id", "name"])
                .returning(versions_table.c.id))
        except sa.exc.IntegrityError as exc:
            raise AssetNotFound(f"no asset with id {version.asset_id}") from exc
        return inserted.first() is not None

    async def touch_rendition(self, version_id: UUID, at: datetime) -> None:
        """Record that a transform's stored result was served at `at`."""
        await self._conn.execute(
            sa.update(versions_table)
            .where(versions_table.c.id == version_id, versions_table.c.adhoc)
            .values(used_at=at))

    async def drop_renditions(self, asset_id: UUID) -> builtins.list[Version]:
        """Remove every stored transform result of the asset and return them."""
        rows = await self._conn.execute(
            sa.delete(versions_table)
            .where(versions_table.c.asset_id == asset_id, versions_table.c.adhoc)
            .returning(*versions_table.c))
        return [version_from_row(row) for row in rows]

    async def trim_renditions(self, keep: int) -> builtins.list[Version]:
        """In every pool, remove all but the `keep` most recently used stored transform
        results (never served: by creation), and return the removed ones."""
        recency = sa.func.coalesce(versions_table.c.used_at, versions_table.c.created_at)
        ranked = (
            sa.select(
                versions_table.c.id,
                sa.func.row_number().over(
                    partition_by=assets.c.pool,
                    order_by=(recency.desc(), versions_table.c.id.desc()),
                ).label("rank"),
            )
            .join_from(versions_table, assets, versions_table.c.asset_id == assets.c.id)
            .where(versions_table.c.adhoc)
            .subquery()
        )
        doomed = sa.select(ranked.c.id).where(ranked.c.rank > keep)
        rows = await self._conn.execute(
            sa.delete(versions_table).where(versions_table.c.id.in_(doomed))
            .returning(*versions_table.c))
        return [version_from_row(row) for row in rows]

    async def attach(self, asset_id: UUID, resource: str, at: datetime) -> None:
        """Add a back-reference dated `at`. Attaching twice keeps the first.
        Raises AssetNotFound."""
        next_seq = (
            sa.select(sa.func.coalesce(sa.func.max(attachments.c.seq), 0) + 1)
            .where(attachments.c.asset_id == asset_id)
            .scalar_subquery()
        )
        dialect_insert = (
            postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        )
        stmt = (
            dialect_insert(attachments)
            .values(asset_id=asset_id, resource=resource, created_at=at, seq=next_seq)
            .on_conflict_do_nothing(index_elements=["asset_id", "resource"])
        )
        try:
            await self._conn.execute(stmt)
        except sa.exc.IntegrityError as exc:
            # The only constraint left once duplicates are ignored is the asset's key.
            raise AssetNotFound(f"no asset with id {asset_id}") from exc

    async def detach(self, asset_id: UUID, resource: str) -> bool:
        """Remove a back-reference; False if it was not there."""
        result = await self._conn.execute(
            sa.delete(attachments).where(
                attachments.c.asset_id == asset_id, attachments.c.resource == resource
            )
        )
        return result.rowcount > 0

    async def blob_keys(self, *, reserved: bool = True) -> AsyncIterator[str]:
        """Every blob key a row points at: originals, then versions, each rendition of
        them (a key two renditions share comes twice; pending versions' reservations
        only with `reserved`). Iterate it before the transaction ends."""
        result = await self._conn.stream(sa.select(assets.c.blob_key))
        async for key in result.scalars():
            yield key
        of_versions = sa.select(versions_table.c.blob_key, versions_table.c.encodings).where(
            versions_table.c.blob_key.is_not(None))
        if not reserved:
            of_versions = of_versions.where(
                versions_table.c.status != VersionStatus.PENDING.value)
        async for key, encodings in await self._conn.stream(of_versions):
            yield key
            for encoding in encodings or ():
                yield encoding["blob_key"]

    async def _hydrate(self, rows: Sequence[sa.Row[Any]]) -> builtins.list[Asset]:
        """Assets for `rows`, in their order, each with its versions and attachments:
        one query for all the versions and one for all the attachments."""
        ids = [row.id for row in rows]
        if not ids:
            return []
        by_asset: dict[UUID, builtins.list[Version]] = defaultdict(builtins.list)
        adhoc: dict[UUID, builtins.list[Version]] = defaultdict(builtins.list)
        for row in await self._conn.execute(
            sa.select(versions_table).where(versions_table.c.asset_id.in_(ids))
        ):
            (adhoc if row.adhoc else by_asset)[row.asset_id].append(version_from_row(row))
        attached: dict[UUID, builtins.list[str]] = defaultdict(builtins.list)
        for asset_id, resource in await self._conn.execute(
            sa.select(attachments.c.asset_id, attachments.c.resource)
            .where(attachments.c.asset_id.in_(ids))
            .order_by(attachments.c.created_at, attachments.c.seq)
        ):
            attached[asset_id].append(resource)
        return [
            # Sorted here, not in SQL: PostgreSQL's collation could order names
            # differently from SQLite's bytewise comparison.
            from_row(row, sorted(by_asset[row.id], key=lambda v: v.name), attached[row.id],
                     sorted(adhoc[row.id], key=lambda v: v.name))
            for row in rows
        ]
