"""Alembic environment of fastdos-only schema objects (the opt-in closure table).

It keeps its own version table, ``fastdos_alembic_version``, so aiida-core's ``alembic_version`` keeps
reading ``main_0002`` whatever is installed here. Like the main environment it runs online only, on the
SQLAlchemy connection passed in ``config.attributes['connection']``.

aiida-core's ``_clear`` and ``initialise(reset=True)`` delete the rows of every table but ``alembic_version``
(and ``db_dbsetting``), so this version table can be emptied under our feet while the objects stay: every
revision here is therefore idempotent (``IF NOT EXISTS`` / ``IF EXISTS``) and re-running it is harmless.
"""

from alembic import context

from fastdos.migrator import run_environment

VERSION_TABLE = "fastdos_alembic_version"

# The version table is fixed here (not taken from the caller's config): aiida-core's stays untouched.
context.config.attributes["version_table"] = VERSION_TABLE
run_environment(context, version_table=VERSION_TABLE)
