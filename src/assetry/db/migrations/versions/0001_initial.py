"""Initial schema: pools, converters, assets, versions, attachments, jobs, tokens; the
default pool and the default converter.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written by hand and frozen: it must not import assetry (tables, converter defaults),
so later changes to that code cannot change what this revision did.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DEFAULT_VERSIONS = [
    {
        "name": "detail",
        "width": 800,
        "height": 800,
        "fit": "cover",
        "gravity": "centre",
        "format": "same",
        "quality": 80,
        "upscale": False,
        "operations": [],
    },
    {
        "name": "thumbnail",
        "width": 100,
        "height": 100,
        "fit": "cover",
        "gravity": "centre",
        "format": "same",
        "quality": 80,
        "upscale": False,
        "operations": [],
    },
]


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("asset_types", sa.JSON(), nullable=False),
        sa.Column("max_size", sa.BigInteger(), nullable=False),
        sa.Column("converter", sa.String(64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pools"),
    )
    op.create_table(
        "converters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_converters"),
    )
    op.create_table(
        "assets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pool", sa.String(64), nullable=False),
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
        sa.Column("converter", sa.String(64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("creator", sa.String(255), nullable=True),
        sa.Column("modified_by", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assets"),
        sa.ForeignKeyConstraint(["pool"], ["pools.name"], name="fk_assets_pool_pools"),
    )
    op.create_index("ix_assets_pool_created_at_id", "assets", ["pool", "created_at", "id"])
    op.create_index("ix_assets_gallery_created_at", "assets", ["gallery", "created_at"])
    op.create_table(
        "versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("mime_type", sa.String(255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("blob_key", sa.String(1024), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_versions"),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name="fk_versions_asset_id_assets", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("asset_id", "name", name="uq_versions_asset_id_name"),
    )
    op.create_table(
        "attachments",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "resource", name="pk_attachments"),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name="fk_attachments_asset_id_assets", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_attachments_resource", "attachments", ["resource"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_status_due_at", "jobs", ["status", "due_at"])
    op.create_table(
        "tokens",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_tokens"),
        sa.UniqueConstraint("hash", name="uq_tokens_hash"),
    )

    # Written as UTC wall-clock digits without an offset, the form SQLite gets for every
    # timestamp (PostgreSQL reads it in its session time zone, so give it the offset).
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    op.bulk_insert(
        sa.table(
            "pools",
            sa.column("name", sa.String()),
            sa.column("title", sa.Text()),
            sa.column("asset_types", sa.JSON()),
            sa.column("max_size", sa.BigInteger()),
            sa.column("converter", sa.String()),
            sa.column("public", sa.Boolean()),
            sa.column("created_at", sa.DateTime(timezone=True)),
        ),
        [
            {
                "name": "default",
                "title": "Default",
                "asset_types": ["image", "file"],
                "max_size": 16777216,
                "converter": "default",
                "public": True,
                "created_at": now,
            }
        ],
    )
    op.bulk_insert(
        sa.table(
            "converters",
            sa.column("name", sa.String()),
            sa.column("versions", sa.JSON()),
            sa.column("created_at", sa.DateTime(timezone=True)),
            sa.column("modified_at", sa.DateTime(timezone=True)),
        ),
        [{"name": "default", "versions": DEFAULT_VERSIONS, "created_at": now, "modified_at": now}],
    )


def downgrade() -> None:
    op.drop_table("tokens")
    op.drop_index("ix_jobs_status_due_at", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_attachments_resource", table_name="attachments")
    op.drop_table("attachments")
    op.drop_table("versions")
    op.drop_index("ix_assets_gallery_created_at", table_name="assets")
    op.drop_index("ix_assets_pool_created_at_id", table_name="assets")
    op.drop_table("assets")
    op.drop_table("converters")
    op.drop_table("pools")
