"""Indexes that carry every listing filter and the galleries at any number of assets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

- `ix_assets_pool_type_created_at_id`: a listing filtered by type reads its page from
  this index, instead of walking the pool newest first until enough assets of that
  type turn up (the whole pool when the type is rare in it).
- `ix_assets_gallery_pool_created_at_id` replaces `ix_assets_gallery_created_at`: it
  still finds the images of some gallery ids by its prefix, and a listing filtered by
  gallery now reads its page from it too. With the old index SQLite, which has no
  statistics, walked the whole pool instead.

Measured with bench/bench_scale.py (docs/benchmarks.md, "Metadata at scale").
Written by hand and frozen, like 0001.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_assets_pool_type_created_at_id", "assets", ["pool", "type", "created_at", "id"]
    )
    op.create_index(
        "ix_assets_gallery_pool_created_at_id", "assets", ["gallery", "pool", "created_at", "id"]
    )
    op.drop_index("ix_assets_gallery_created_at", table_name="assets")


def downgrade() -> None:
    op.create_index("ix_assets_gallery_created_at", "assets", ["gallery", "created_at"])
    op.drop_index("ix_assets_gallery_pool_created_at_id", table_name="assets")
    op.drop_index("ix_assets_pool_type_created_at_id", table_name="assets")
