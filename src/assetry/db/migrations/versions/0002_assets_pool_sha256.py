"""Index assets by (pool, sha256, created_at, id): the listing's sha256 filter, which a
resumable bulk import asks once per file ("is this file already in the pool?"), newest
first straight from the index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Written by hand and frozen, like 0001: it does not import assetry.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_assets_pool_sha256_created_at_id", "assets",
                    ["pool", "sha256", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_assets_pool_sha256_created_at_id", table_name="assets")
