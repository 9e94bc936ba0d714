"""fastdos: a raw-SQL, performance-first storage engine for AiiDA psql_dos provenance graphs.

The database is exactly aiida-core's ``core.psql_dos`` schema (head ``main_0002``) plus a disk-objectstore
repository, so storages move freely between aiida-core and fastdos.
"""

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
