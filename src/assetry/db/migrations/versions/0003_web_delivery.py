"""Images for the web: each asset's placeholders (ThumbHash, BlurHash, colour).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Written by hand and frozen, like 0001: it does not import assetry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Images stored before this revision have no placeholder until they are replaced.
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("placeholder", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("placeholder")
