"""Alembic environment of fastdos: online only, on the connection the migrator hands over.

Like aiida-core's ``psql_dos/migrations/env.py`` it requires ``config.attributes['connection']`` (a
SQLAlchemy connection) and runs one transaction per migration, so an interrupted upgrade stops at the last
completed revision.
"""

from alembic import context

from fastdos.errors import ConfigurationError
from fastdos.schema import METADATA


def run_migrations_online() -> None:
    """Run the migrations on the connection passed in by :class:`fastdos.migrator.Migrator`."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise ConfigurationError("the alembic environment needs config.attributes['connection']")
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        transaction_per_migration=True,
        version_table=context.config.attributes.get("version_table", "alembic_version"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise NotImplementedError("fastdos migrations run online only (they read the database they change)")
run_migrations_online()
