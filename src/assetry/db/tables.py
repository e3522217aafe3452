"""Table definitions: the only place column and table names are chosen (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp that is always stored as UTC and always read back UTC-aware.

    SQLite has no time zone type: SQLAlchemy writes the wall-clock digits and drops the
    offset, so a non-UTC aware value would be stored wrongly and reads come back naive.
    Converting on the way in and out makes both back-ends agree, also for the values
    bound in comparisons (cursors, due dates), which SQLite compares as text.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the database stores UTC-aware times only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Names for constraints a table does not name itself, so that later (batch) migrations
#: can refer to them on both back-ends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

NAME = 64  #: pool, converter, version and token names: 1-64 of a-z 0-9 - _
RESOURCE = 512  #: attachment resource strings: 1-512 characters

pools = sa.Table(
    "pools",
    metadata,
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("asset_types", sa.JSON(), nullable=False),  #: list of AssetType values
    sa.Column("max_size", sa.BigInteger(), nullable=False),
    sa.Column("converter", sa.String(NAME), nullable=False),
    sa.Column("public", sa.Boolean(), nullable=False),
    #: "off" or "signed": whether GET /api/assets/{id}/render serves this pool's images
    sa.Column("transforms", sa.String(16), nullable=False, server_default="off"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("name", name="pk_pools"),
)

converters = sa.Table(
    "converters",
    metadata,
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("versions", sa.JSON(), nullable=False),  #: list of VersionSpec.to_json()
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("modified_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("name", name="pk_converters"),
)

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("pool", sa.String(NAME), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("filename", sa.Text(), nullable=False),
    sa.Column("mime_type", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("blob_key", sa.String(1024), nullable=False),
    sa.Column("width", sa.Integer(), nullable=True),
    sa.Column("height", sa.Integer(), nullable=True),
    sa.Column("frames", sa.Integer(), nullable=False),
    sa.Column("gallery", sa.String(255), nullable=False),
    # No foreign key: deleting a converter must not rewrite or block the assets it made.
    sa.Column("converter", sa.String(NAME), nullable=True),
    sa.Column("metadata", sa.JSON(), nullable=False),
    #: {"thumbhash", "blurhash", "color"} of an image; null for files and older images
    sa.Column("placeholder", sa.JSON(), nullable=True),
    sa.Column("hidden", sa.Boolean(), nullable=False),
    sa.Column("creator", sa.String(255), nullable=True),
    sa.Column("modified_by", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("modified_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_assets"),
    sa.ForeignKeyConstraint(["pool"], ["pools.name"], name="fk_assets_pool_pools"),
    # The pool listing: newest first by (created_at, id), from a cursor. Filtered by type,
    # gallery or sha256, the page comes in that order from an index of its own, so it never
    # costs more when the value is rare in the pool (bench/bench_scale.py measures it).
    sa.Index("ix_assets_pool_created_at_id", "pool", "created_at", "id"),
    sa.Index("ix_assets_pool_type_created_at_id", "pool", "type", "created_at", "id"),
    # Also the galleries: every image of some gallery ids, by the prefix.
    sa.Index("ix_assets_gallery_pool_created_at_id", "gallery", "pool", "created_at", "id"),
    # The sha256 filter ("is this file already in the pool?", asked once per file by a
    # resumable bulk import). created_at and id let the listing's order come from the
    # index too: with (pool, sha256) alone SQLite prefers the index above and scans the pool.
    sa.Index("ix_assets_pool_sha256_created_at_id", "pool", "sha256", "created_at", "id"),
)

versions = sa.Table(
    "versions",
    metadata,
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("asset_id", sa.Uuid(), nullable=False),
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),  #: VersionSpec.to_json()
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("width", sa.Integer(), nullable=True),
    sa.Column("height", sa.Integer(), nullable=True),
    sa.Column("mime_type", sa.String(255), nullable=True),
    sa.Column("size", sa.BigInteger(), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("blob_key", sa.String(1024), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    #: an on-the-fly transform's stored result (named by its canonical spec), not a
    #: converter's version: listings, convert and replace leave these out
    sa.Column("adhoc", sa.Boolean(), nullable=False, server_default=sa.false()),
    #: when an ad-hoc result was last served (to the minute): `assetry gc` trims the
    #: least recently used first
    sa.Column("used_at", UtcDateTime(), nullable=True),
    # The version's other renditions (formats of `format: auto`, srcset widths): a list
    # of {format, srcset_width, blob_key, mime_type, width, height, size, sha256}. Always
    # read and written with the row, never queried on their own, so no table of their own.
    sa.Column("encodings", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    sa.PrimaryKeyConstraint("id", name="pk_versions"),
    sa.ForeignKeyConstraint(
        ["asset_id"], ["assets.id"], name="fk_versions_asset_id_assets", ondelete="CASCADE"
    ),
    sa.UniqueConstraint("asset_id", "name", name="uq_versions_asset_id_name"),
    # gc's trim: a pool's ad-hoc results, least recently used first.
    sa.Index("ix_versions_adhoc_used_at", "adhoc", "used_at"),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("asset_id", sa.Uuid(), nullable=False),
    sa.Column("resource", sa.String(RESOURCE), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # Per-asset insertion counter: breaks created_at ties so "oldest first" is stable
    # (SQLite cannot autoincrement a column that is not the rowid).
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("asset_id", "resource", name="pk_attachments"),
    sa.ForeignKeyConstraint(
        ["asset_id"], ["assets.id"], name="fk_attachments_asset_id_assets", ondelete="CASCADE"
    ),
    # The attached_to filter and "what is attached to this resource".
    sa.Index("ix_attachments_resource", "resource"),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("kind", sa.String(NAME), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  #: queued, running or failed
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("locked_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    # claim(): the oldest due queued job.
    sa.Index("ix_jobs_status_due_at", "status", "due_at"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("name", sa.String(NAME), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("hash", sa.String(128), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("name", name="pk_tokens"),
    # Authentication looks a bearer token up by its hash.
    sa.UniqueConstraint("hash", name="uq_tokens_hash"),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.Uuid(), nullable=False),
    # No foreign key: an unfinished upload must not keep its pool from being deleted;
    # finishing one into a deleted pool fails like any upload to an unknown pool.
    sa.Column("pool", sa.String(NAME), nullable=False),
    sa.Column("creator", sa.String(255), nullable=True),
    sa.Column("length", sa.BigInteger(), nullable=False),
    sa.Column("received", sa.BigInteger(), nullable=False),  #: the tus Upload-Offset
    sa.Column("metadata", sa.JSON(), nullable=False),  #: Upload-Metadata: key -> base64
    sa.Column("asset_id", sa.Uuid(), nullable=True),  #: set once the upload became an asset
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id", name="pk_uploads"),
    # gc: the uploads that have expired.
    sa.Index("ix_uploads_expires_at", "expires_at"),
)

upload_parts = sa.Table(
    "upload_parts",
    metadata,
    sa.Column("upload_id", sa.Uuid(), nullable=False),
    sa.Column("start", sa.BigInteger(), nullable=False),  #: the part's first byte's offset
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("blob_key", sa.String(1024), nullable=False),
    # One part per offset: the second of two PATCHes racing from one offset cannot record.
    sa.PrimaryKeyConstraint("upload_id", "start", name="pk_upload_parts"),
    sa.ForeignKeyConstraint(
        ["upload_id"], ["uploads.id"], name="fk_upload_parts_upload_id_uploads", ondelete="CASCADE"
    ),
)

direct_uploads = sa.Table(
    "direct_uploads",
    metadata,
    sa.Column("id", sa.Uuid(), nullable=False),
    # No foreign key: an unfinished upload must not keep its pool from being deleted;
    # completing one into a deleted pool fails like any upload to an unknown pool.
    sa.Column("pool", sa.String(NAME), nullable=False),
    sa.Column("creator", sa.String(255), nullable=True),
    sa.Column("filename", sa.Text(), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("mime_type", sa.String(255), nullable=True),
    sa.Column("form", sa.JSON(), nullable=False),  #: type, gallery, converter, metadata
    sa.Column("blob_key", sa.String(1024), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("url_expires_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("claimed_at", UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_direct_uploads"),
    # gc: the uploads that have expired.
    sa.Index("ix_direct_uploads_expires_at", "expires_at"),
)
