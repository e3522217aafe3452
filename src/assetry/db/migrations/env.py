"""Alembic environment: runs the migrations on the connection assetry.db.migrate passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from assetry.db.tables import metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending migrations inside the caller's transaction."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(_connection, Connection):
    raise RuntimeError(
        "Assetry's migrations run through assetry.db.migrate.upgrade (`assetry migrate`), "
        "which passes the connection in; there is no alembic.ini and no offline mode"
    )
run_migrations(_connection)
