"""``Backend``: one open storage — a psycopg pool on the database plus the repository container.

Composes the lower layers into aiida-core's ``StorageBackend`` surface (spec §4): validation on open,
``transaction()``/``in_transaction``, global settings, repository access, ``get_info``, ``_clear``. Bulk
ingest, deletion and maintenance build on :meth:`Backend.transaction` and the executor in :mod:`fastdos.db`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg.types.json import Jsonb

from . import db
from .clock import now
from .errors import ClosedStorage
from .graph import GraphMixin
from .ingest import IngestMixin
from .locking import ProfileAccess
from .maintenance import MaintenanceMixin
from .migrator import CONTAINER_DEFAULTS, REPOSITORY_UUID_KEY, VERSION_TABLES, Migrator, ensure_database
from .profile import Profile
from .query import QueryMixin
from .repository import Repository

LOGGER = logging.getLogger("fastdos.backend")

# Per-process pool bound. aiida-core's QueuePool allows 5+10 per process, which exhausted servers with many
# processes (aiida-core#4741, #4374); fastdos needs one connection per concurrently working thread.
DEFAULT_POOL_MAX = 8


def ensure_server(profile: Profile) -> None:
    """Start the embedded cluster of an embedded profile (no-op when it runs or for external servers)."""
    if profile.embedded is None:
        return
    from .server import EmbeddedServer

    server = EmbeddedServer(profile.embedded.data_dir, port=profile.embedded.port, tcp=profile.embedded.tcp)
    if not server.is_running():
        server.start()


class Backend(IngestMixin, GraphMixin, MaintenanceMixin, QueryMixin):
    """An open psql_dos storage. Use as a context manager, or call :meth:`close`."""

    read_only = False

    def __init__(self, profile: Profile, *, pool_max: int = DEFAULT_POOL_MAX, pool_timeout: float = 30.0) -> None:
        """Validate the storage (version, repository UUID) and open the connection pool.

        :raises UnreachableStorage: database or container cannot be reached.
        :raises IncompatibleStorageSchema: the schema is not at ``main_0002``.
        :raises CorruptStorage: the repository UUID of database and container differ.
        """
        self._profile = profile
        ensure_server(profile)
        with Migrator(profile) as migrator:
            migrator.validate_storage()
        self._db = db.Database(
            profile.conninfo(),
            password=profile.password,
            max_size=pool_max,
            timeout=pool_timeout,
            application_name=f"fastdos:{profile.name}"[:63],
        )
        self._db.open()
        # Shared access to the profile: lets maintain(full=True) in another process see that we are here.
        try:
            self._access = ProfileAccess(profile).acquire_shared()
        except BaseException:
            self._db.close()
            raise
        self._repository = Repository(profile.container_path)

    # --- class-level storage operations ----------------------------------------------------------------

    @classmethod
    def version_head(cls) -> str:
        """The schema revision this code works with (``main_0002``)."""
        return Migrator.get_schema_version_head()

    @classmethod
    def version_profile(cls, profile: Profile) -> str | None:
        """The schema revision of the profile's database (legacy Django name for 1.x), None if empty."""
        ensure_server(profile)
        with Migrator(profile) as migrator:
            return migrator.get_schema_version_profile(check_legacy=True)

    @classmethod
    def initialise(cls, profile: Profile, reset: bool = False) -> bool:
        """Initialise the storage if needed and migrate it to head; True when something was created.

        For an embedded profile the cluster is started and its database created first (fastdos owns that
        server); on an external server the database must exist (``fastdos init`` creates it when allowed).
        """
        ensure_server(profile)
        if profile.embedded is not None:
            ensure_database(profile)
        with Migrator(profile) as migrator:
            return migrator.initialise(reset=reset)

    @classmethod
    def migrate(cls, profile: Profile) -> None:
        """Migrate the storage to head."""
        ensure_server(profile)
        with Migrator(profile) as migrator:
            migrator.migrate()

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def profile(self) -> Profile:
        """The profile this storage belongs to."""
        return self._profile

    def __str__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"Storage for {self._profile.name!r} [{state}] @ {self._profile.safe_url()} / {self._repository}"

    def __repr__(self) -> str:
        return f"<Backend {self}>"

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool and the container; idempotent. The instance cannot be reopened."""
        if not self._db.closed:
            self._db.close()
            self._repository.close()
            self._access.release()

    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._db.closed

    def _check_open(self) -> None:
        if self._db.closed:
            raise ClosedStorage(str(self))

    @property
    def database(self) -> db.Database:
        """The connection pool and transaction state (for the modules that build on the backend)."""
        self._check_open()
        return self._db

    # --- transactions ----------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[db.Connection]:
        """A transaction; nested blocks are savepoints (inner success releases, inner failure rolls back)."""
        self._check_open()
        with self._db.transaction() as conn:
            yield conn

    @property
    def in_transaction(self) -> bool:
        """True only inside a :meth:`transaction` block of the calling thread."""
        return not self._db.closed and self._db.in_transaction

    # --- settings --------------------------------------------------------------------------------------

    def set_global_variable(
        self, key: str, value: Any, description: str | None = None, overwrite: bool = True
    ) -> None:
        """Set a global setting; ``ValueError`` if it exists and ``overwrite`` is False.

        An update replaces the value and bumps ``time`` but keeps the description (aiida-core's behaviour).
        """
        with self.transaction() as conn:
            exists = db.one(conn, "settings/lock", {"key": key}) is not None
            if exists and not overwrite:
                raise ValueError(f"The setting {key} already exists")
            if exists:
                db.run(conn, "settings/update", {"key": key, "val": Jsonb(value), "time": now()})
            else:
                db.run(
                    conn,
                    "settings/insert",
                    {"key": key, "val": Jsonb(value), "description": description or "", "time": now()},
                )

    def get_global_variable(self, key: str) -> Any:
        """The value of a global setting; ``KeyError`` when there is none."""
        with self.database.connection() as conn:
            row = db.one(conn, "settings/get", {"key": key})
        if row is None:
            raise KeyError(f"No setting found with key {key}")
        return row[0]

    # --- repository ------------------------------------------------------------------------------------

    def get_repository(self) -> Repository:
        """The repository, kept open for the backend's lifetime."""
        self._check_open()
        return self._repository

    # --- information -----------------------------------------------------------------------------------

    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """aiida-core's ``get_info`` (entities and repository, spec §4.8) plus the database size."""
        with self.database.connection() as conn:
            counts = db.one(conn, "info/counts")
            assert counts is not None
            users, computers, nodes, groups, comments, logs, links = counts
            entities: dict[str, Any] = {
                "Users": {"count": users},
                "Computers": {"count": computers},
                "Nodes": {"count": nodes},
                "Groups": {"count": groups},
                "Comments": {"count": comments},
                "Logs": {"count": logs},
                "Links": {"count": links},
            }
            if detailed:
                details = db.one(conn, "info/details")
                assert details is not None
                emails, labels, first, last, node_types, process_types, group_types = details
                entities["Users"]["emails"] = list(emails)
                entities["Computers"]["labels"] = list(labels)
                entities["Nodes"]["first_created"] = None if first is None else str(first)
                entities["Nodes"]["last_created"] = None if last is None else str(last)
                entities["Nodes"]["node_types"] = list(node_types)
                entities["Nodes"]["process_types"] = list(process_types)
                entities["Groups"]["type_strings"] = list(group_types)
            size = db.scalar(conn, "info/database_size")
        return {
            "entities": entities,
            "repository": self._repository.get_info(detailed),
            "database": {"size (MB)": round(int(size) / 1024**2, 2)},
        }

    # --- clearing --------------------------------------------------------------------------------------

    def _clear(self) -> None:
        """Empty every table but the version tables and ``db_dbsetting``; re-create the container.

        The new container is built beside the old one first; the rows are deleted and ``repository|uuid``
        is pointed at the new container in one transaction, and only after that commits are the folders
        swapped, so a failure before the commit leaves the storage exactly as it was.
        """
        self._check_open()
        target = self._profile.container_path
        staging = target.with_name(f"{target.name}.clearing")
        shutil.rmtree(staging, ignore_errors=True)
        fresh = Repository(staging)
        fresh.initialise(clear=True, **CONTAINER_DEFAULTS)
        fresh_uuid = fresh.uuid
        fresh.close()
        try:
            with Migrator(self._profile) as migrator, migrator.connection.transaction():
                migrator.delete_all_tables(exclude_tables=[*VERSION_TABLES, "db_dbsetting"])
                db.run(
                    migrator.connection,
                    "settings/update",
                    {"key": REPOSITORY_UUID_KEY, "val": Jsonb(fresh_uuid), "time": now()},
                )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._repository.close()
        retired = target.with_name(f"{target.name}.retired")
        shutil.rmtree(retired, ignore_errors=True)
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
        self._repository = Repository(target)

    def clear(self) -> None:
        """Public alias of :meth:`_clear`: delete all data of the storage, keep schema and settings."""
        self._clear()
