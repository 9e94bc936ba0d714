"""fastdos' own alembic environment: optional fastdos-only schema objects, versioned in ``fastdos_alembic_version``."""
