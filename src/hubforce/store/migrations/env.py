"""Alembic environment: migrations run on the connection `hubforce.store.db.upgrade` passes in.

There is no alembic.ini: the store is migrated programmatically when it is opened, so an
installed package needs nothing but its own files.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from hubforce.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("run migrations through hubforce.store.open_store, not the alembic CLI")
_run(_connection)
