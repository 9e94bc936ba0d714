"""Alembic environment of fastdos-only schema objects (the opt-in closure table).

It keeps its own version table, ``fastdos_alembic_version``, so aiida-core's ``alembic_version`` keeps
reading ``main_0002`` whatever is installed here. Like the main environment it runs online only, on the
SQLAlchemy connection passed in ``config.attributes['connection']``.

aiida-core's ``_clear`` and ``initialise(reset=True)`` delete the rows of every table but ``alembic_version``
(and ``db_dbsetting``), so this version table can be emptied under our feet while the objects stay: every
revision here is therefore idempotent (``IF NOT EXISTS`` / ``IF EXISTS``) and re-running it is harmless.
"""

from alembic import context

from fastdos.errors import ConfigurationError

VERSION_TABLE = "fastdos_alembic_version"


def run_migrations_online() -> None:
    """Run the fastdos-only revisions on the connection handed over by the caller."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise ConfigurationError("the alembic environment needs config.attributes['connection']")
    context.configure(
        connection=connection,
        target_metadata=None,
        transaction_per_migration=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise NotImplementedError("fastdos migrations run online only")
run_migrations_online()
