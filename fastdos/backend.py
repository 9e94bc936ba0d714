"""``Backend``: one open storage — the facade over the services, on a pooled storage context.

aiida-core's ``StorageBackend`` surface (docs/storage-backend.md): validation on open, ``transaction()`` /
``in_transaction``, global settings, repository access, ``get_info``, ``_clear``; and fastdos' own operations.
Every operation is a one-line delegation to the service that owns it, called with :attr:`Backend.context`
(a :class:`fastdos.context.PooledContext`), the read-only ones with :attr:`Backend.read_context` (a
replica's reads when the profile lists replicas, :mod:`fastdos.replicas`): ingest (:mod:`fastdos.ingest`),
update (:mod:`fastdos.update`), graph (:mod:`fastdos.graph`), maintenance (:mod:`fastdos.maintenance`),
import (:mod:`fastdos.importer`), query (:mod:`fastdos.query`). The same services run on a connection
someone else holds through :class:`fastdos.context.BorrowedContext` (the aiida-core plugin, :mod:`fastdos.aiida`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from . import db, graph, ingest, integrity, maintenance, rules, update
from .clock import now
from .closure import DEFAULT_ROW_BUDGET, ClosureState, RefreshReport
from .context import PooledContext, StorageContext
from .errors import ClosedStorage
from .locking import ProfileAccess
from .migrator import CONTAINER_DEFAULTS, REPOSITORY_UUID_KEY, VERSION_TABLES, Migrator, ensure_database
from .profile import Profile
from .query import (
    AuthInfoCollection,
    CommentCollection,
    ComputerCollection,
    GroupCollection,
    LogCollection,
    NodeCollection,
    QueryBuilder,
    UserCollection,
    indexes,
)
from .replicas import ReplicaStatus, open_routing
from .repository import Repository
from .rows import EntityTypes
from .storage_info import storage_info

if TYPE_CHECKING:
    from .backup import BackupReport
    from .exporter import ExportReport
    from .importer import ImportProgress, ImportReport

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


class Backend:
    """An open psql_dos storage. Use as a context manager, or call :meth:`close`."""

    read_only = False

    def __init__(
        self, profile: Profile, *, pool_max: int = DEFAULT_POOL_MAX, pool_timeout: float = 30.0, reads: str = "auto"
    ) -> None:
        """Validate the storage (version, repository UUID) and open the connection pool; ``reads`` says where
        read-only work runs: "primary", "replica" or "auto" (the profile's replicas when it lists any).

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
        try:  # a replica that refuses the credentials is an error naming it (fastdos/replicas.py)
            self._routing = open_routing(profile, reads, self._db, self._repository, self._access, pool_max)
        except BaseException:
            self._db.close()
            self._repository.close()
            self._access.release()
            raise
        self._context: PooledContext = self._routing.primary
        self._reads: StorageContext = self._routing.reads

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
            self._routing.close()
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
    def context(self) -> PooledContext:
        """The storage context the services run on (see :mod:`fastdos.context`)."""
        self._check_open()
        return self._context

    @property
    def read_context(self) -> StorageContext:
        """The context of read-only work: a usable replica's reads, else the primary (:mod:`fastdos.replicas`)."""
        self._check_open()
        return self._reads

    def replica_status(self) -> list[ReplicaStatus]:
        """Each replica of the profile: its state, replay lag and whether reads use it (read afresh)."""
        self._check_open()
        return self._routing.status()

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
        with self._context.transaction() as conn:
            yield conn

    @property
    def in_transaction(self) -> bool:
        """True only inside a :meth:`transaction` block of the calling thread."""
        return not self._db.closed and self._db.in_transaction

    # --- settings --------------------------------------------------------------------------------------

    def set_global_variable(self, key: str, value: Any, description: str | None = None, overwrite: bool = True) -> None:
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
        with self.read_context.connection() as conn:
            row = db.one(conn, "settings/get", {"key": key})
        if row is None:
            raise KeyError(f"No setting found with key {key}")
        return row[0]

    @property
    def default_user_id(self) -> int | None:
        """The id of the profile's default user (:attr:`Profile.user_email`), None when it does not exist."""
        with self.read_context.connection() as conn:
            found = db.scalar(conn, "ingest/first_user", {"email": self._profile.user_email})
        return None if found is None else int(found)

    def ensure_default_user(self) -> int:
        """The id of the profile's default user, created when missing (aiida-core creates it with the profile,
        not with the storage: ``initialise`` creates no row, so a storage is the same whoever initialised it)."""
        with self.transaction() as conn:
            db.run(conn, "settings/create_default_user", {"email": self._profile.user_email})
            return int(db.scalar(conn, "ingest/first_user", {"email": self._profile.user_email}))

    # --- repository ------------------------------------------------------------------------------------

    def get_repository(self) -> Repository:
        """The repository, kept open for the backend's lifetime."""
        self._check_open()
        return self._repository

    # --- information -----------------------------------------------------------------------------------

    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        """aiida-core's ``get_info`` (docs/storage-backend.md#get_info) plus the database size (and replicas)."""
        info = storage_info(self.read_context, detailed)
        if detailed and self._routing.router is not None:
            info["replicas"] = {r.name: r.as_dict() for r in self.replica_status()}
        return info

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
        self._context.replace_repository(self._repository)

    def clear(self) -> None:
        """Public alias of :meth:`_clear`: delete all data of the storage, keep schema and settings."""
        self._clear()

    # --- bulk ingest and update (fastdos/ingest.py, fastdos/update.py) -----------------------------------

    def bulk_insert(
        self, entity_type: EntityTypes | str, rows: Sequence[Mapping[str, Any]], allow_defaults: bool = False
    ) -> list[int]:
        """Insert rows of one entity type by binary COPY; their new ids in input order (:func:`ingest.bulk_insert`)."""
        return ingest.bulk_insert(self.context, entity_type, rows, allow_defaults)

    def bulk_insert_iter(
        self,
        entity_type: EntityTypes | str,
        rows: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = ingest.DEFAULT_BATCH_SIZE,
        allow_defaults: bool = False,
        progress: ingest.Progress | None = None,
        on_ids: Callable[[list[int]], None] | None = None,
        load_mode: bool = False,
    ) -> int:
        """Stream any number of rows into one table in one transaction (:func:`ingest.bulk_insert_iter`)."""
        return ingest.bulk_insert_iter(
            self.context,
            entity_type,
            rows,
            batch_size=batch_size,
            allow_defaults=allow_defaults,
            progress=progress,
            on_ids=on_ids,
            load_mode=load_mode,
        )

    def bulk_update(self, entity_type: EntityTypes | str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Update columns of existing rows by id (:func:`update.bulk_update`)."""
        update.bulk_update(self.context, entity_type, rows)

    def add_nodes_to_groups(self, pairs: Iterable[tuple[int, int]]) -> int:
        """Add ``(group_id, node_id)`` memberships, skipping existing ones (:func:`ingest.add_nodes_to_groups`)."""
        return ingest.add_nodes_to_groups(self.context, pairs)

    def add_nodes_to_group(self, group_id: int, node_ids: Iterable[int]) -> int:
        """Add nodes to one group, skipping existing members; how many were added."""
        return ingest.add_nodes_to_group(self.context, group_id, node_ids)

    # --- provenance graph (fastdos/graph.py) --------------------------------------------------------------

    def delete_nodes_and_connections(self, pks: Iterable[int]) -> None:
        """Delete exactly these nodes with their links and memberships; inside :meth:`transaction` only."""
        graph.delete_nodes_and_connections(self.context, pks)

    def plan_deletion(self, pks: Iterable[int], **toggles: bool) -> graph.DeletionPlan:
        """Expand ``pks`` by the DELETE traversal rules without deleting (:func:`graph.plan_deletion`)."""
        return graph.plan_deletion(self.read_context, pks, **toggles)

    def delete_nodes(self, pks: Iterable[int], dry_run: graph.DryRun = True, **toggles: bool) -> set[int]:
        """Delete ``pks`` and what AiiDA's DELETE rules drag along (:func:`graph.delete_nodes`)."""
        return graph.delete_nodes(self.read_context if dry_run is True else self.context, pks, dry_run, **toggles)

    def delete_group_nodes(self, group_pks: Iterable[int], dry_run: graph.DryRun = True, **toggles: bool) -> set[int]:
        """Delete the nodes of these groups (and what the rules drag along); the groups stay."""
        ctx = self.read_context if dry_run is True else self.context  # a deletion reads in its own transaction
        return graph.delete_group_nodes(ctx, group_pks, dry_run, **toggles)

    def get_ancestors(
        self,
        pks: Iterable[int],
        link_types: Iterable[str] = rules.PROVENANCE_LINK_TYPES,
        max_depth: int | None = None,
        use_closure: bool | None = None,
    ) -> dict[int, int]:
        """Ancestors of the start set: node id → minimal depth (:func:`graph.get_ancestors`)."""
        return graph.get_ancestors(self.read_context, pks, link_types, max_depth, use_closure)

    def get_descendants(
        self,
        pks: Iterable[int],
        link_types: Iterable[str] = rules.PROVENANCE_LINK_TYPES,
        max_depth: int | None = None,
        use_closure: bool | None = None,
    ) -> dict[int, int]:
        """Descendants of the start set: node id → minimal depth (:func:`graph.get_descendants`)."""
        return graph.get_descendants(self.read_context, pks, link_types, max_depth, use_closure)

    def install_closure(self) -> None:
        """Install the (empty) transitive-closure tables by fastdos' alembic revision."""
        graph.install_closure(self.context)

    def uninstall_closure(self) -> None:
        """Drop the transitive-closure tables."""
        graph.uninstall_closure(self.context)

    def closure_state(self) -> ClosureState:
        """Whether the closure is installed, built and current."""
        return graph.closure_state(self.read_context)

    def refresh_closure(
        self, row_budget: int | None = DEFAULT_ROW_BUDGET, force_rebuild: bool = False
    ) -> RefreshReport:
        """Bring the closure table up to date (:func:`graph.refresh_closure`)."""
        return graph.refresh_closure(self.context, row_budget, force_rebuild)

    def check_integrity(
        self, examples: int = integrity.DEFAULT_EXAMPLES, repository: bool = True
    ) -> integrity.IntegrityReport:
        """aiida 1.x's provenance integrity checks plus the repository-key check; nothing is changed."""
        return graph.check_integrity(self.read_context, examples, repository)

    # --- repository maintenance and backup (fastdos/maintenance.py) ------------------------------------------

    def get_unreferenced_keyset(self, check_consistency: bool = True) -> set[str]:
        """Keys of container objects that no node references (:func:`maintenance.get_unreferenced_keyset`)."""
        return maintenance.get_unreferenced_keyset(self.context, check_consistency)

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> maintenance.MaintenanceReport:
        """Delete unreferenced objects and maintain the repository (:func:`maintenance.maintain`)."""
        return maintenance.maintain(self.context, full, dry_run, **kwargs)

    def backup(self, dest: str | Path, keep: int | None = None, *, rsync: bool | None = None) -> BackupReport:
        """A consistent, incremental backup into ``dest`` (:func:`maintenance.backup`)."""
        return maintenance.backup(self.context, dest, keep, rsync=rsync)

    # --- archive import and export (fastdos/importer, fastdos/exporter) -----------------------------------------------

    def import_archive(
        self, path: str | Path, *, progress: ImportProgress | None = None, **options: Any
    ) -> ImportReport:
        """Import an AiiDA archive (:func:`fastdos.importer.import_archive` lists the options)."""
        from .importer import import_archive

        return import_archive(self.context, path, progress=progress, **options)

    def export_archive(self, path: str | Path, **options: Any) -> ExportReport:
        """Write an AiiDA archive (:func:`fastdos.exporter.export_archive` lists the options)."""
        from .exporter import export_archive

        return export_archive(self.read_context, path, **options)

    # --- queries, collections and indexes (fastdos/query) ------------------------------------------------

    def query(self, *, closure: bool = True) -> QueryBuilder:
        """A new QueryBuilder on this storage (``closure=False``: never read the closure table)."""
        return QueryBuilder(self.read_context, closure=closure)

    @property
    def nodes(self) -> NodeCollection:
        """The nodes (``db_dbnode``)."""
        return NodeCollection(self.read_context)

    @property
    def users(self) -> UserCollection:
        """The users (``db_dbuser``)."""
        return UserCollection(self.read_context)

    @property
    def computers(self) -> ComputerCollection:
        """The computers (``db_dbcomputer``)."""
        return ComputerCollection(self.read_context)

    @property
    def groups(self) -> GroupCollection:
        """The groups (``db_dbgroup``)."""
        return GroupCollection(self.read_context)

    @property
    def comments(self) -> CommentCollection:
        """The comments (``db_dbcomment``)."""
        return CommentCollection(self.read_context)

    @property
    def logs(self) -> LogCollection:
        """The logs (``db_dblog``)."""
        return LogCollection(self.read_context)

    @property
    def authinfos(self) -> AuthInfoCollection:
        """The authinfos (``db_dbauthinfo``)."""
        return AuthInfoCollection(self.read_context)

    def add_index(self, path: str, *, where: str | None = None) -> str:
        """Create the expression index for an attribute/extra path (:func:`fastdos.query.add_index`)."""
        return indexes.add_index(self.context, path, where=where)

    def list_indexes(self) -> list[indexes.IndexInfo]:
        """The expression indexes fastdos created."""
        return indexes.list_indexes(self.read_context)

    def drop_index(self, name: str) -> None:
        """Drop a fastdos expression index by name."""
        indexes.drop_index(self.context, name)

    def install_process_indexes(self) -> None:
        """Install the opt-in process indexes (their own alembic branch)."""
        indexes.install_process_indexes(self.context)

    def uninstall_process_indexes(self) -> None:
        """Drop the process indexes."""
        indexes.uninstall_process_indexes(self.context)
