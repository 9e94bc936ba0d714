"""Schema version detection, initialisation, validation and migration of a psql_dos storage.

Mirrors aiida-core's ``PsqlDosMigrator`` (docs/storage-backend.md#migration): the same states (alembic-stamped, legacy
Django, uninitialised), the same messages, the same ``repository|uuid`` cross-check with the container. fastdos ships
only aiida's *main* branch (``main_0001``, ``main_0002``); a legacy AiiDA 1.x database must be migrated once
with aiida-core, after which fastdos validates and works with it (its index names differ, which fastdos never
relies on).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from disk_objectstore import Container
from psycopg.types.json import Jsonb
from sqlalchemy.pool import NullPool

from . import db
from .clock import now
from .errors import (
    ConfigurationError,
    CorruptStorage,
    IncompatibleStorageSchema,
    NotExistent,
    StorageMigrationError,
    UnreachableStorage,
    convert,
    scrub,
)
from .profile import Profile

if TYPE_CHECKING:
    from .context import StorageContext

LOGGER = logging.getLogger("fastdos.migrate")

ALEMBIC_VERSION_TABLE = "alembic_version"
DJANGO_VERSION_TABLE = "django_migrations"
REPOSITORY_UUID_KEY = "repository|uuid"
# Tables a reset keeps: the schema version stamps (aiida's and fastdos' own).
VERSION_TABLES = frozenset({ALEMBIC_VERSION_TABLE, "fastdos_alembic_version"})
# Arbitrary constant key for pg_advisory_xact_lock: "fastdos migrate" in ASCII, truncated to 63 bits.
MIGRATION_LOCK_KEY = 0x66617374646F736D

# aiida-core's CONTAINER_DEFAULTS (docs/repository.md#container-defaults): the container must be created exactly like
# this so that aiida-core and fastdos read each other's repositories.
CONTAINER_DEFAULTS: dict[str, Any] = {
    "pack_size_target": 4 * 1024**3,
    "loose_prefix_len": 2,
    "hash_type": "sha256",
    "compression_algorithm": "zlib+1",
}

TEMPLATE_LEGACY_DJANGO_SCHEMA = """
Database schema is using the legacy Django schema.
To migrate the database schema version to the current one, run the following command:

    verdi -p {profile_name} storage migrate
"""

TEMPLATE_INVALID_SCHEMA_VERSION = """
Database schema version `{schema_version_database}` is incompatible with the required schema version `{schema_version_code}`.
To migrate the database schema version to the current one, run the following command:

    {migrate_command}
"""  # noqa: E501


def migrations_path() -> Path:
    """The alembic script directory shipped inside the package."""
    return Path(str(resources.files("fastdos.migrations")))


def alembic_config(version_table: str = ALEMBIC_VERSION_TABLE) -> Config:
    """An alembic ``Config`` on fastdos' script directory (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.attributes["version_table"] = version_table
    return config


class Migrator:
    """Validate, initialise and migrate the storage of one profile."""

    alembic_version_tbl_name = ALEMBIC_VERSION_TABLE
    repository_uuid_key = REPOSITORY_UUID_KEY

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._connection: db.Connection | None = None

    # --- connection ------------------------------------------------------------------------------------

    @property
    def connection(self) -> db.Connection:
        """A lazily opened autocommit connection; ``UnreachableStorage`` when the server cannot be reached."""
        if self._connection is None or self._connection.closed:
            self._connection = db.connect(self.profile.conninfo(), password=self.profile.password)
        return self._connection

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Migrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table_exists(self, name: str) -> bool:
        return bool(db.scalar(self.connection, "migrator/table_exists", {"name": name}))

    # --- versions --------------------------------------------------------------------------------------

    @classmethod
    def get_schema_versions(cls) -> dict[str, str]:
        """All revisions shipped, oldest first, mapped to their one-line description."""
        script = ScriptDirectory.from_config(alembic_config())
        revisions = list(script.walk_revisions())
        return {rev.revision: (rev.doc or "").strip() for rev in reversed(revisions)}

    @classmethod
    def get_schema_version_head(cls) -> str:
        """The head of the main branch: ``main_0002``."""
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert head is not None
        return head

    def get_schema_version_profile(self, check_legacy: bool = False) -> str | None:
        """The revision stamped in the database; with ``check_legacy`` the Django name of a 1.x database."""
        if self._table_exists(ALEMBIC_VERSION_TABLE):
            row = db.one(
                self.connection, "migrator/alembic_revision", identifiers={"version_table": ALEMBIC_VERSION_TABLE}
            )
            return None if row is None else str(row[0])
        if check_legacy and self._table_exists(DJANGO_VERSION_TABLE):
            value = db.scalar(self.connection, "migrator/django_version")
            return None if value is None else str(value)
        return None

    # --- state -----------------------------------------------------------------------------------------

    def get_container(self) -> Container:
        """The profile's disk-objectstore container (may be uninitialised)."""
        return Container(str(self.profile.container_path))

    def get_repository_uuid(self) -> str:
        """The container id; ``UnreachableStorage`` when the container cannot be read."""
        path = self.profile.container_path
        try:
            with self.get_container() as container:
                container_id = container.container_id
        except Exception as exc:
            raise UnreachableStorage(f"Could not access disk-objectstore {path}: {exc}") from exc
        if not container_id:
            raise UnreachableStorage(f"Could not access disk-objectstore {path}: the container has no id")
        return str(container_id)

    @property
    def is_database_initialised(self) -> bool:
        """Whether the database holds aiida's or legacy Django's version table."""
        return self._table_exists(ALEMBIC_VERSION_TABLE) or self._table_exists(DJANGO_VERSION_TABLE)

    @property
    def is_repository_initialised(self) -> bool:
        """Whether the container folder holds an initialised disk-objectstore container."""
        try:
            with self.get_container() as container:
                return bool(container.is_initialised)
        except Exception:
            return False

    @property
    def is_initialised(self) -> bool:
        """Both database and repository are initialised."""
        return self.is_repository_initialised and self.is_database_initialised

    def validate_storage(self) -> None:
        """Check version and repository UUID as aiida-core does (docs/storage-backend.md#validation-on-open).

        :raises IncompatibleStorageSchema: no version table, legacy Django schema, or revision ≠ head.
        :raises UnreachableStorage: database or container cannot be reached.
        :raises CorruptStorage: the database has no repository UUID or another one than the container.
        """
        if not self._table_exists(ALEMBIC_VERSION_TABLE):
            if self._table_exists(DJANGO_VERSION_TABLE):
                raise IncompatibleStorageSchema(TEMPLATE_LEGACY_DJANGO_SCHEMA.format(profile_name=self.profile.name))
            raise IncompatibleStorageSchema("The database has no known version.")
        head = self.get_schema_version_head()
        current = self.get_schema_version_profile()
        if current != head:
            raise IncompatibleStorageSchema(
                TEMPLATE_INVALID_SCHEMA_VERSION.format(
                    schema_version_database=current,
                    schema_version_code=head,
                    migrate_command=f"fastdos migrate --profile {self.profile.name}",
                )
            )
        repository_uuid = self.get_repository_uuid()
        database_uuid = db.scalar(self.connection, "settings/get", {"key": REPOSITORY_UUID_KEY})
        if database_uuid is None:
            raise CorruptStorage("The database has no repository UUID set.")
        if database_uuid != repository_uuid:
            raise CorruptStorage(
                f"The database has a repository UUID configured to {database_uuid} "
                f"but the disk-objectstore's is {repository_uuid}."
            )

    # --- initialisation --------------------------------------------------------------------------------

    def initialise(self, reset: bool = False) -> bool:
        """Initialise database and repository if needed, then migrate to head; True if anything was created.

        ``reset=True`` first erases the container and deletes the rows of every table but the version
        tables (aiida-core's semantics). Unlike aiida-core, an existing container is never erased without
        ``reset``: when only the database is missing, it is created and linked to the existing container.
        """
        if reset:
            self.reset_repository()
            self.reset_database()
        database_ready = self.is_database_initialised
        repository_ready = self.is_repository_initialised
        if database_ready and repository_ready:
            self.migrate()
            return False
        if database_ready and not repository_ready:
            self._initialise_repository_for_existing_database()
        else:
            if not repository_ready:
                self.initialise_repository()
            self.initialise_database()
        self.migrate()
        return True

    def initialise_repository(self) -> None:
        """Create the container with aiida-core's defaults (erasing whatever is in the folder)."""
        path = self.profile.container_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.get_container() as container:
            container.init_container(clear=True, **CONTAINER_DEFAULTS)
        LOGGER.info("initialised repository container at %s", path)

    def _initialise_repository_for_existing_database(self) -> None:
        # A database without its container is only safe to re-link when no node can reference an object.
        has_nodes = self._table_exists("db_dbnode") and db.scalar(self.connection, "migrator/any_node")
        if has_nodes:
            raise CorruptStorage(
                f"The database is initialised and holds nodes, but the repository container at "
                f"{self.profile.container_path} is missing; restore the container or use reset=True."
            )
        self.initialise_repository()
        with self.connection.transaction():
            db.run(
                self.connection,
                "settings/upsert",
                {
                    "key": REPOSITORY_UUID_KEY,
                    "val": Jsonb(self.get_repository_uuid()),
                    "description": "Repository UUID",
                    "time": now(),
                },
            )

    def initialise_database(self) -> None:
        """Create the schema at head, store the repository UUID and stamp ``main@head`` — one transaction.

        An advisory lock serialises concurrent initialisations; the loser finds the schema there and stops.
        """
        repository_uuid = self.get_repository_uuid()
        with self.alembic_context() as (config, connection), connection.begin():
            raw: db.Connection = connection.connection.driver_connection  # type: ignore[assignment]
            db.run(raw, "migrator/lock", {"key": MIGRATION_LOCK_KEY})
            if db.scalar(raw, "migrator/table_exists", {"name": ALEMBIC_VERSION_TABLE}):
                return
            db.script(raw, "schema/main_0001")
            db.run(
                raw,
                "settings/insert",
                {"key": REPOSITORY_UUID_KEY, "val": Jsonb(repository_uuid), "description": "Repository UUID",
                 "time": now()},
            )
            command.stamp(config, "main@head")
        LOGGER.info("initialised database schema at %s", self.get_schema_version_head())

    def reset_repository(self) -> None:
        """Delete the container folder."""
        path = self.profile.container_path
        if path.exists():
            shutil.rmtree(path)
            LOGGER.info("deleted repository container at %s", path)

    def reset_database(self) -> None:
        """Delete all rows of every table except the version tables (only if the database is initialised)."""
        if self._table_exists(ALEMBIC_VERSION_TABLE):
            self.delete_all_tables(exclude_tables=list(VERSION_TABLES))

    def delete_all_tables(self, *, exclude_tables: list[str] | None = None) -> None:
        """DELETE the rows of every table in reverse foreign-key order, skipping ``exclude_tables``."""
        if not self._table_exists(ALEMBIC_VERSION_TABLE):
            return
        excluded = set(exclude_tables or ())
        dependencies = {str(name): set(refs) for name, refs in db.all_rows(self.connection, "migrator/tables")}
        with self.connection.transaction():
            for table in reversed(_dependency_order(dependencies)):
                if table not in excluded:
                    db.run(self.connection, "migrator/delete_rows", identifiers={"table": table})

    # --- migration -------------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Migrate to the head of the main branch (no-op at head).

        :raises StorageMigrationError: uninitialised storage, or a legacy (AiiDA 1.x) schema fastdos cannot
            migrate itself.
        """
        if not self._table_exists(ALEMBIC_VERSION_TABLE):
            if not self._table_exists(DJANGO_VERSION_TABLE):
                raise StorageMigrationError("storage is uninitialised, cannot migrate.")
            legacy = self.get_schema_version_profile(check_legacy=True)
            raise StorageMigrationError(
                f"The database has the legacy AiiDA 1.x Django schema (`{legacy}`). fastdos ships only the main "
                f"branch of the migrations: migrate it once with aiida-core (`verdi -p {self.profile.name} storage "
                "migrate`), after which fastdos works with it."
            )
        current = self.get_schema_version_profile()
        versions = self.get_schema_versions()
        if current not in versions:
            raise StorageMigrationError(
                f"The database is at schema revision `{current}`, which fastdos does not know (it ships "
                f"{', '.join(versions)}). Legacy AiiDA 1.x revisions must be migrated with aiida-core first "
                f"(`verdi -p {self.profile.name} storage migrate`)."
            )
        head = self.get_schema_version_head()
        if current == head:
            LOGGER.info("Migrating to the head of the main branch: already at %s", head)
            return
        LOGGER.info("- %s -> %s", current, head)
        self.migrate_up("main@head")

    def migrate_up(self, version: str) -> None:
        """alembic ``upgrade`` to ``version``."""
        with self.alembic_context() as (config, _connection):
            command.upgrade(config, version)

    def migrate_down(self, version: str) -> None:
        """alembic ``downgrade`` to ``version`` (``main_0001`` cannot be downgraded)."""
        with self.alembic_context() as (config, _connection):
            command.downgrade(config, version)

    def get_current_table(self, table_name: str) -> sqlalchemy.Table:
        """The table as it is in the database now (reflected), e.g. for migration tests."""
        with self.alembic_context() as (_config, connection):
            metadata = sqlalchemy.MetaData()
            return sqlalchemy.Table(table_name, metadata, autoload_with=connection)

    @contextmanager
    def alembic_context(self) -> Iterator[tuple[Config, sqlalchemy.Connection]]:
        """An alembic config bound to a SQLAlchemy connection made from the profile's conninfo."""
        engine = create_engine(self.profile)
        try:
            with engine.connect() as connection:
                config = alembic_config()
                config.attributes["connection"] = connection
                yield config, connection
                connection.commit()
        except sqlalchemy.exc.OperationalError as exc:
            raise UnreachableStorage(
                f"Could not connect to database: {scrub(str(exc.orig), self.profile.password)}"
            ) from exc
        except sqlalchemy.exc.DBAPIError as exc:
            raise convert(exc.orig or exc, "alembic", self.profile.password) from exc
        finally:
            engine.dispose()


def run_environment(context: Any, *, version_table: str, target_metadata: Any = None) -> None:
    """The body of both alembic ``env.py`` files: online only, on ``config.attributes['connection']``.

    One transaction per migration, so an interrupted upgrade stops at the last completed revision.
    """
    if context.is_offline_mode():
        raise NotImplementedError("fastdos migrations run online only (they read the database they change)")
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise ConfigurationError("the alembic environment needs config.attributes['connection']")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        transaction_per_migration=True,
        version_table=context.config.attributes.get("version_table", version_table),
    )
    with context.begin_transaction():
        context.run_migrations()


def ensure_database(profile: Profile, maintenance_db: str = "postgres") -> bool:
    """Create the profile's database when it does not exist; True when it was created.

    Connects to ``maintenance_db`` on the same server with the profile's credentials (which therefore need
    the CREATEDB privilege when the database is missing).
    """
    name = profile.storage_config.get("database_name")
    if not name:
        raise ConfigurationError(f"profile {profile.name!r} names no database")
    with db.connect(profile.conninfo(maintenance_db), password=profile.password) as conn:
        if db.scalar(conn, "admin/database_exists", {"name": name}):
            return False
        db.run(conn, "admin/create_database", identifiers={"dbname": name})
    LOGGER.info("created database %s", name)
    return True


def run_fastdos_revisions(ctx: StorageContext, command_name: str, target: str) -> None:
    """Run alembic ``command_name`` (upgrade/downgrade) to ``target`` in fastdos' own revision environment.

    fastdos' opt-in objects (closure tables, process indexes) are branches of ``migrations/fastdos`` with their
    own version table ``fastdos_alembic_version``, so aiida-core still sees ``main_0002``.
    """
    if not (migrations_path() / "fastdos").is_dir():
        raise NotExistent("the fastdos alembic environment (migrations/fastdos) is not installed")
    ctx.check_open()
    with Migrator(ctx.profile) as migrator, migrator.alembic_context() as (config, _connection):
        config.set_main_option("script_location", str(migrations_path() / "fastdos"))
        getattr(command, command_name)(config, target)


def create_engine(profile: Profile) -> sqlalchemy.Engine:
    """A SQLAlchemy engine for alembic only; the password stays in the conninfo, never in a URL."""
    conninfo = profile.conninfo()
    return sqlalchemy.create_engine(
        "postgresql+psycopg://",
        creator=lambda: db.connect(conninfo, password=profile.password, autocommit=False),
        poolclass=NullPool,
    )


def _dependency_order(dependencies: dict[str, set[str]]) -> list[str]:
    """Tables ordered so that every table comes after the tables it references (cycles broken by name)."""
    ordered: list[str] = []
    done: set[str] = set()

    def visit(table: str, trail: frozenset[str]) -> None:
        if table in done or table in trail:
            return
        for ref in sorted(dependencies.get(table, ())):
            visit(ref, trail | {table})
        done.add(table)
        ordered.append(table)

    for table in sorted(dependencies):
        visit(table, frozenset())
    return ordered
