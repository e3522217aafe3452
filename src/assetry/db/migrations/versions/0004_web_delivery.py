"""Images for the web: each asset's placeholders (ThumbHash, BlurHash, colour); pools that
serve signed on-the-fly transforms; versions that are stored transform results.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Written by hand and frozen, like 0001: it does not import assetry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Images stored before this revision have no placeholder until they are replaced.
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("placeholder", sa.JSON(), nullable=True))
    with op.batch_alter_table("pools") as batch:
        batch.add_column(sa.Column("transforms", sa.String(16), nullable=False,
                                   server_default="off"))
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("adhoc", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_versions_adhoc_used_at", "versions", ["adhoc", "used_at"])


def downgrade() -> None:
    op.drop_index("ix_versions_adhoc_used_at", table_name="versions")
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("used_at")
        batch.drop_column("adhoc")
    with op.batch_alter_table("pools") as batch:
        batch.drop_column("transforms")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("placeholder")
