"""fastdos: a raw-SQL, performance-first storage engine for AiiDA psql_dos provenance graphs.

The database is exactly aiida-core's ``core.psql_dos`` schema (head ``main_0002``) plus a disk-objectstore
repository, so storages move freely between aiida-core and fastdos.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .alembic_cli import AlembicRunner
    from .backend import Backend
    from .errors import (
        ClosedStorage,
        ConfigurationError,
        CorruptStorage,
        FastdosError,
        IncompatibleStorageSchema,
        IntegrityError,
        NotExistent,
        StorageMigrationError,
        UnreachableStorage,
        ValidationError,
    )
    from .importer import import_archive
    from .migrator import Migrator
    from .profile import Profile, PsqlConfig, load_profile, save_profile
    from .repository import Repository

# The public names, imported on first use (PEP 562): `import fastdos.cli` (the `fastdos` command) must not
# pay for alembic, SQLAlchemy and psycopg before a command needs them (`fastdos --help` took 1.1-1.3 s).
_EXPORTS: dict[str, str] = {
    "AlembicRunner": "alembic_cli",
    "Backend": "backend",
    "ClosedStorage": "errors",
    "ConfigurationError": "errors",
    "CorruptStorage": "errors",
    "FastdosError": "errors",
    "IncompatibleStorageSchema": "errors",
    "IntegrityError": "errors",
    "NotExistent": "errors",
    "StorageMigrationError": "errors",
    "UnreachableStorage": "errors",
    "ValidationError": "errors",
    "import_archive": "importer",
    "Migrator": "migrator",
    "Profile": "profile",
    "PsqlConfig": "profile",
    "load_profile": "profile",
    "save_profile": "profile",
    "Repository": "repository",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fastdos' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__version__ = "0.1.0"

__all__ = [
    "AlembicRunner",
    "Backend",
    "ClosedStorage",
    "ConfigurationError",
    "CorruptStorage",
    "FastdosError",
    "IncompatibleStorageSchema",
    "IntegrityError",
    "Migrator",
    "NotExistent",
    "Profile",
    "PsqlConfig",
    "Repository",
    "StorageMigrationError",
    "UnreachableStorage",
    "ValidationError",
    "import_archive",
    "load_profile",
    "save_profile",
]
