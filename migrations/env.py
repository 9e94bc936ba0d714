"""Alembic environment of fastdos: aiida-core's main-branch revisions, version table ``alembic_version``.

Like aiida-core's ``psql_dos/migrations/env.py`` it requires ``config.attributes['connection']`` (a
SQLAlchemy connection handed over by :class:`fastdos.migrator.Migrator`) and runs online only.
"""

from alembic import context

from fastdos.migrator import ALEMBIC_VERSION_TABLE, run_environment
from fastdos.schema import METADATA

run_environment(context, version_table=ALEMBIC_VERSION_TABLE, target_metadata=METADATA)
