"""``FastdosStorage``: aiida-core's ``PsqlDosBackend`` whose slow paths run on fastdos.

Everything aiida-core does with a storage (ORM, sessions, migrations, validation, ``verdi profile setup``'s
options) is inherited from ``PsqlDosBackend``; the database and the container are exactly a
``core.psql_dos`` storage's. Overridden, with aiida-core's contracts kept (exceptions, return shapes,
transactions, profile locks):

* ``bulk_insert`` / ``bulk_update``: binary COPY and one ``UPDATE ... FROM`` instead of the ORM's
  ``executemany`` (bench/notes/aiida_plugin.md).
* ``delete_nodes_and_connections``: four set-wise statements on id arrays.
* ``get_unreferenced_keyset``: the referenced keys extracted inside PostgreSQL, no node loaded into Python; ``maintain``
  uses it, and so does ``backup`` (aiida-core's ``_backup_storage`` runs ``self.maintain`` first, then its
  ``pg_dump`` and rsync steps, which are kept as they are). ``maintain(full=True)`` takes aiida-core's profile
  lock and fastdos' locks.
* ``get_info``: the entity counts and details in two statements instead of a dozen QueryBuilder queries.
* ``query()``: fastdos' QueryBuilder adapter (``fastdos.aiida.querybuilder``) when it is installed.

Same connection, same transaction: fastdos runs on the psycopg connection of aiida's current SQLAlchemy
session (:class:`fastdos.context.BorrowedContext`), after flushing the session, so objects the ORM stored but
did not commit are visible to fastdos, and fastdos' rows are visible to the ORM and go with its rollback.
Outside a ``transaction()`` block a call commits, as aiida-core's own ``bulk_insert`` does.

A batch that fastdos' stricter value checks refuse (``fastdos.errors.ValidationError``: nothing was sent) is
handed to aiida-core's own implementation, so the caller gets exactly aiida-core's outcome; it is logged at
DEBUG with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, NoReturn, cast

from aiida.common import exceptions
from aiida.manage.profile_access import ProfileAccessManager
from aiida.orm.entities import EntityTypes
from aiida.storage.log import STORAGE_LOGGER
from aiida.storage.psql_dos.backend import PsqlDosBackend, get_filepath_container

from .. import errors, graph, ingest, maintenance, update
from ..context import BorrowedContext
from ..locking import ProfileAccess, maintenance_lock
from ..profile import Profile, PsqlConfig
from ..repository import Repository

if TYPE_CHECKING:
    from aiida.manage.configuration.profile import Profile as AiidaProfile
    from aiida.orm.implementation import BackendQueryBuilder

__all__ = ("ENTRY_POINT", "FastdosStorage")

LOGGER = logging.getLogger("fastdos.aiida")

ENTRY_POINT = "fastdos"

# aiida-core renames the ``metadata`` key of these rows to the ``_metadata`` attribute of its models.
_METADATA_ENTITIES = (EntityTypes.COMPUTER, EntityTypes.LOG, EntityTypes.AUTHINFO)


def fastdos_profile(profile: AiidaProfile) -> Profile:
    """The fastdos view of an aiida profile on a psql_dos database (same storage config)."""
    return Profile(
        name=profile.name,
        storage_config=cast(PsqlConfig, dict(profile.storage_config)),
        uuid=profile.uuid,
        default_user_email=profile.default_user_email,
        storage_backend=ENTRY_POINT,
    )


def _sqlalchemy_error(exc: errors.IntegrityError) -> NoReturn:
    """Raise what aiida-core's SQLAlchemy statement raises for the same violated constraint."""
    from sqlalchemy.exc import IntegrityError as SqlaIntegrityError

    cause = exc.__cause__
    raise SqlaIntegrityError(str(exc), None, cast(Exception, cause if cause is not None else exc)) from exc


class FastdosStorage(PsqlDosBackend):  # type: ignore[misc]  # aiida-core is untyped for mypy here
    """A ``core.psql_dos`` storage whose bulk, deletion, maintenance and query paths run on fastdos."""

    def __init__(self, profile: AiidaProfile) -> None:
        super().__init__(profile)
        self._fastdos_profile = fastdos_profile(profile)

    def __str__(self) -> str:
        return f"fastdos {super().__str__()}"

    # --- the borrowed context ----------------------------------------------------------------------------

    @contextmanager
    def borrowed_context(self) -> Iterator[BorrowedContext]:
        """fastdos' context on the connection of this thread's session, inside its transaction.

        The session is flushed first: pending ORM objects become rows fastdos' statements see.
        """
        session = self.get_session()
        session.flush()
        conn = session.connection().connection.driver_connection
        repository = Repository(get_filepath_container(self.profile))
        try:
            yield BorrowedContext(conn, self._fastdos_profile, repository)
        finally:
            repository.close()

    def _unit_of_work(self) -> Any:
        """aiida-core's rule for its bulk methods: join the open transaction, else commit one of our own."""
        return nullcontext() if self.in_transaction else self.transaction()

    # --- bulk insert and update --------------------------------------------------------------------------

    def bulk_insert(
        self, entity_type: EntityTypes, rows: list[dict[str, Any]], allow_defaults: bool = False
    ) -> list[int]:
        _, keys = self._get_mapper_from_entity(entity_type, False)
        if not rows:
            return []
        renamed = entity_type in _METADATA_ENTITIES
        for row in rows:
            given = {"_metadata" if renamed and key == "metadata" else key for key in row}
            if renamed and "metadata" not in row:
                raise KeyError("metadata")  # what aiida-core's ``row.pop('metadata')`` raises
            if allow_defaults:
                if not keys.issuperset(given):
                    raise exceptions.IntegrityError(
                        f"Incorrect fields given for {entity_type}: {given} not subset of {keys}"
                    )
            elif given != keys:
                raise exceptions.IntegrityError(f"Incorrect fields given for {entity_type}: {given} != {keys}")
        with self._unit_of_work():
            try:
                with self.borrowed_context() as ctx:
                    ids = ingest.bulk_insert(ctx, entity_type.value, rows, allow_defaults)
            except errors.ValidationError as exc:
                LOGGER.debug("bulk_insert of %s falls back to aiida-core: %s", entity_type.value, exc)
                return cast(list[int], super().bulk_insert(entity_type, rows, allow_defaults))
            except errors.IntegrityError as exc:
                _sqlalchemy_error(exc)
        if renamed:  # aiida-core leaves the rows renamed; callers may look at them
            for row in rows:
                row["_metadata"] = row.pop("metadata")
        return ids

    def bulk_update(self, entity_type: EntityTypes, rows: list[dict[str, Any]]) -> None:
        _, keys = self._get_mapper_from_entity(entity_type, True)
        if not rows:
            return None
        for row in rows:
            if "id" not in row:
                raise exceptions.IntegrityError(f"'id' field not given for {entity_type}: {set(row)}")
            if not keys.issuperset(row):
                raise exceptions.IntegrityError(
                    f"Incorrect fields given for {entity_type}: {set(row)} not subset of {keys}"
                )
        with self._unit_of_work():
            try:
                with self.borrowed_context() as ctx:
                    update.bulk_update(ctx, entity_type.value, rows)
            except (errors.ValidationError, errors.NotExistent) as exc:
                # An unknown id: aiida-core's statement raises SQLAlchemy's StaleDataError naming the counts and
                # keeps nothing; its own path gives exactly that (fastdos' savepoint already left nothing).
                LOGGER.debug("bulk_update of %s falls back to aiida-core: %s", entity_type.value, exc)
                super().bulk_update(entity_type, rows)
                return None
            except errors.IntegrityError as exc:
                _sqlalchemy_error(exc)
        return None

    # --- deletion ----------------------------------------------------------------------------------------

    def delete_nodes_and_connections(self, pks_to_delete: Iterable[int]) -> None:
        if not self.in_transaction:
            raise AssertionError("Cannot delete nodes and links outside a transaction")
        pks = list(pks_to_delete)
        if not pks:
            return
        try:
            with self.borrowed_context() as ctx:
                graph.delete_nodes_and_connections(ctx, pks)
        except errors.IntegrityError as exc:
            _sqlalchemy_error(exc)
        self._forget_deleted(set(pks))

    def _forget_deleted(self, pks: set[int]) -> None:
        """Drop the session's objects for the deleted rows, as aiida-core's ``synchronize_session`` does.

        Identity keys and loaded values only: reading an attribute of an expired object would load the
        (deleted) row.
        """
        from aiida.storage.psql_dos.models.group import DbGroupNode
        from aiida.storage.psql_dos.models.node import DbLink, DbNode
        from sqlalchemy import inspect

        session = self.get_session()
        for key, obj in list(session.identity_map.items()):
            cls = key[0]
            if cls is DbNode:
                gone = key[1][0] in pks
            elif cls is DbLink:
                loaded = inspect(obj).dict
                gone = loaded.get("input_id") in pks or loaded.get("output_id") in pks
            elif cls is DbGroupNode:
                gone = inspect(obj).dict.get("dbnode_id") in pks
            else:
                continue
            if gone:
                session.expunge(obj)

    # --- repository maintenance --------------------------------------------------------------------------

    def get_unreferenced_keyset(self, check_consistency: bool = True) -> set[str]:
        STORAGE_LOGGER.info("Obtaining unreferenced object keys ...")
        # A read: like aiida-core's queries it leaves the session's transaction open and commits nothing.
        with self.borrowed_context() as ctx:
            try:
                return maintenance.get_unreferenced_keyset(ctx, check_consistency)
            except errors.MissingObjectsError as exc:  # aiida-core raises a plain RuntimeError, same message
                raise RuntimeError(str(exc)) from exc

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> None:
        repository = self.get_repository()
        with self._maintenance_locks(full):
            unreferenced_objects = self.get_unreferenced_keyset()
            STORAGE_LOGGER.info(f"Deleting {len(unreferenced_objects)} unreferenced objects ...")
            if not dry_run:
                repository.delete_objects(list(unreferenced_objects))
            STORAGE_LOGGER.info("Starting repository-specific operations ...")
            repository.maintain(live=not full, dry_run=dry_run, **kwargs)

    @contextmanager
    def _maintenance_locks(self, full: bool) -> Iterator[None]:
        """aiida-core's profile lock for a full run (the checks ``verdi`` relies on), plus fastdos' own.

        fastdos' locks: one repository maintainer at a time (a ``flock``), and for a full run the exclusive
        profile access that ``fastdos`` processes on the same storage respect. Their ``LockedProfileError`` and
        ``LockingProfileError`` become aiida-core's exceptions of the same name.
        """
        if not full:
            yield
            return
        with ProfileAccessManager(self._profile).lock():
            try:
                with maintenance_lock(self._fastdos_profile), ProfileAccess(self._fastdos_profile).exclusive():
                    yield
            except errors.LockedProfileError as exc:
                raise exceptions.LockedProfileError(str(exc)) from exc
            except errors.LockingProfileError as exc:
                raise exceptions.LockingProfileError(str(exc)) from exc

    # --- information -------------------------------------------------------------------------------------

    def get_info(self, detailed: bool = False, **kwargs: Any) -> dict[str, Any]:
        from .. import db

        with self.borrowed_context() as ctx, ctx.connection() as conn:
            counts = db.one(conn, "info/counts")
            details = db.one(conn, "info/details") if detailed else None
        assert counts is not None
        names = ("Users", "Computers", "Nodes", "Groups", "Comments", "Logs", "Links")
        entities: dict[str, Any] = {name: {"count": int(count)} for name, count in zip(names, counts, strict=True)}
        if details is not None:
            # aiida-core sorts in Python (code point order), not in the database's collation.
            emails, labels, first, last, node_types, process_types, group_types = details
            entities["Users"]["emails"] = sorted(emails)
            entities["Computers"]["labels"] = sorted(labels)
            entities["Nodes"]["first_created"] = str(first) if first else None
            entities["Nodes"]["last_created"] = str(last) if last else None
            entities["Nodes"]["node_types"] = sorted(node_types)
            entities["Nodes"]["process_types"] = sorted(process_types)
            entities["Groups"]["type_strings"] = sorted(group_types)
        return {"entities": entities, "repository": self.get_repository().get_info(detailed)}

    # --- queries -----------------------------------------------------------------------------------------

    def query(self) -> BackendQueryBuilder:
        try:
            from .querybuilder import FastdosQueryBuilder
        except ModuleNotFoundError as exc:  # no adapter in this build: aiida-core's own builder answers
            if exc.name != f"{__package__}.querybuilder":
                raise
            return super().query()
        return FastdosQueryBuilder(self)
