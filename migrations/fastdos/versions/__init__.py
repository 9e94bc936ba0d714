"""Revisions of fastdos-only schema objects (never part of aiida-core's ``alembic_version``)."""
