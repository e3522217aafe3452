"""Direct uploads to S3: the announced uploads whose objects a client PUTs through a
presigned URL before asking for them to be ingested.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Written by hand and frozen, like 0001: it does not import assetry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "direct_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("creator", sa.String(255), nullable=True),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.String(255), nullable=True),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("blob_key", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_direct_uploads"),
    )
    op.create_index("ix_direct_uploads_expires_at", "direct_uploads", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_direct_uploads_expires_at", table_name="direct_uploads")
    op.drop_table("direct_uploads")
