"""Versions keep their other renditions: `versions.encodings`, a JSON list of the formats
(`format: auto`) and srcset widths (`widths`) each version is also stored in, with the
blob key and facts of each. Existing versions have none.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Written by hand and frozen, like 0001: it does not import assetry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server default fills the rows already there; SQLite adds such a column in place.
    op.add_column("versions", sa.Column("encodings", sa.JSON(), nullable=False,
                                        server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("encodings")
