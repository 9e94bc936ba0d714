"""fastdos: a raw-SQL, performance-first storage engine for AiiDA psql_dos provenance graphs.

The database is exactly aiida-core's ``core.psql_dos`` schema (head ``main_0002``) plus a disk-objectstore
repository, so storages move freely between aiida-core and fastdos.

The names below are loaded on first use (PEP 562), so that ``import fastdos`` — which every submodule, the
CLI included, runs first — does not import psycopg's pool, SQLAlchemy or alembic before they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "AlembicRunner": "fastdos.alembic_cli",
    "Backend": "fastdos.backend",
    "BorrowedContext": "fastdos.context",
    "PooledContext": "fastdos.context",
    "StorageContext": "fastdos.context",
    "ClosedStorage": "fastdos.errors",
    "ConfigurationError": "fastdos.errors",
    "CorruptStorage": "fastdos.errors",
    "FastdosError": "fastdos.errors",
    "IncompatibleStorageSchema": "fastdos.errors",
    "IntegrityError": "fastdos.errors",
    "NotExistent": "fastdos.errors",
    "StorageMigrationError": "fastdos.errors",
    "UnreachableStorage": "fastdos.errors",
    "ValidationError": "fastdos.errors",
    "EntityTypes": "fastdos.rows",
    "import_archive": "fastdos.importer",
    "export_archive": "fastdos.exporter",
    "Migrator": "fastdos.migrator",
    "Profile": "fastdos.profile",
    "PsqlConfig": "fastdos.profile",
    "load_profile": "fastdos.profile",
    "save_profile": "fastdos.profile",
    "Repository": "fastdos.repository",
}

__all__ = [
    "AlembicRunner",
    "Backend",
    "BorrowedContext",
    "ClosedStorage",
    "ConfigurationError",
    "CorruptStorage",
    "EntityTypes",
    "FastdosError",
    "IncompatibleStorageSchema",
    "IntegrityError",
    "Migrator",
    "NotExistent",
    "PooledContext",
    "Profile",
    "PsqlConfig",
    "Repository",
    "StorageContext",
    "StorageMigrationError",
    "UnreachableStorage",
    "ValidationError",
    "export_archive",
    "import_archive",
    "load_profile",
    "save_profile",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fastdos' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from .alembic_cli import AlembicRunner
    from .backend import Backend
    from .context import BorrowedContext, PooledContext, StorageContext
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
    from .exporter import export_archive
    from .importer import import_archive
    from .migrator import Migrator
    from .profile import Profile, PsqlConfig, load_profile, save_profile
    from .repository import Repository
    from .rows import EntityTypes
