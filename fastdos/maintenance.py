"""Repository maintenance: unreferenced objects, maintain, backup and restore (spec §4.9, §4.12).

The set difference between the keys the nodes reference and the keys the container holds is computed inside
PostgreSQL: the referenced keys come from a recursive walk over every ``repository_metadata`` tree, the
container's keys are streamed into a temp table with COPY, and one anti-join in each direction gives the
unreferenced objects and (for the consistency check) the missing ones. No node is loaded into Python.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import db
from .backup import BackupReport, RestoreReport, restore, run_backup
from .locking import ProfileAccess, maintenance_lock
from .repository import Callback, RepositoryMaintenanceReport, resolve_maintain_options

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from .profile import Profile
    from .repository import Repository

__all__ = ["BackupReport", "MaintenanceMixin", "MaintenanceReport", "RestoreReport", "restore"]

LOGGER = logging.getLogger("fastdos.maintenance")

MISSING_OBJECTS_MESSAGE = (
    "There are objects referenced in the database that are not present in the repository. Aborting!"
)
# Keys per COPY write: 64-hex keys plus newline, so ~650 KiB per write; batching the writes made streaming
# 10^5 keys about 3x faster than one write_row per key (bench/notes/repository.md).
COPY_BATCH = 10_000
MAINTAIN_OPTIONS = frozenset(
    {"pack_loose", "do_repack", "clean_storage", "do_vacuum", "compress", "incremental_cleanup", "callback"}
)
VACUUMED_TABLES = (
    "db_dbnode",
    "db_dblink",
    "db_dbgroup",
    "db_dbgroup_dbnodes",
    "db_dbuser",
    "db_dbcomputer",
    "db_dbauthinfo",
    "db_dbcomment",
    "db_dblog",
    "db_dbsetting",
)


@dataclass
class MaintenanceReport:
    """What :meth:`MaintenanceMixin.maintain` did, or with ``dry_run`` would do."""

    full: bool
    dry_run: bool
    unreferenced: int = 0
    deleted: int = 0
    repository: RepositoryMaintenanceReport | None = None
    vacuumed_tables: tuple[str, ...] = ()
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        """Record (and log) one report line."""
        LOGGER.info("%s%s", "[dry run] " if self.dry_run else "", line)
        self.lines.append(line)

    def report(self) -> list[str]:
        """Every line, in order: own steps and the repository's."""
        head, tail = self.lines[:1], self.lines[1:]
        return head + (self.repository.lines if self.repository else []) + tail


class MaintenanceMixin:
    """Methods mixed into :class:`fastdos.backend.Backend`."""

    if TYPE_CHECKING:  # provided by Backend (``self: Backend`` annotations are refused by mypy for mixins)

        @property
        def profile(self) -> Profile: ...

        @property
        def database(self) -> db.Database: ...

        @property
        def in_transaction(self) -> bool: ...

        def transaction(self) -> AbstractContextManager[db.Connection]: ...

        def get_repository(self) -> Repository: ...

        def _check_open(self) -> None: ...

    def get_unreferenced_keyset(self, check_consistency: bool = True) -> set[str]:
        """Keys of the container's objects that no node's ``repository_metadata`` references.

        :raises RuntimeError: with ``check_consistency``, when a node references a key that is not in the
            container (aiida-core's message).
        """
        unreferenced, missing = self._key_differences(check_consistency)
        if missing:
            LOGGER.error("%d referenced keys missing from the repository, e.g. %s", len(missing), missing[:5])
            raise RuntimeError(MISSING_OBJECTS_MESSAGE)
        return set(unreferenced)

    def _key_differences(self, check: bool) -> tuple[list[str], list[str]]:
        repository = self.get_repository()
        with self.transaction() as conn:
            db.run(conn, "maintenance/drop_container_keys")
            db.run(conn, "maintenance/create_container_keys")
            with db.copy(conn, "maintenance/copy_container_keys") as copy:
                batch: list[str] = []
                for key in repository.list_objects():
                    batch.append(key)
                    if len(batch) >= COPY_BATCH:
                        copy.write("\n".join(batch) + "\n")
                        batch.clear()
                if batch:
                    copy.write("\n".join(batch) + "\n")
            db.run(conn, "maintenance/analyze_container_keys")
            rows = db.all_rows(conn, "maintenance/key_differences", {"check": check})
            db.run(conn, "maintenance/drop_container_keys")
        unreferenced = [str(key) for key, missing in rows if not missing]
        missing_keys = [str(key) for key, missing in rows if missing]
        return unreferenced, missing_keys

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> MaintenanceReport:
        """Delete unreferenced objects, then maintain the repository (``live=not full``); full mode also VACUUMs.

        ``kwargs`` are the repository options (``pack_loose``, ``do_repack``, ``clean_storage``, ``do_vacuum``,
        ``compress``, ``incremental_cleanup``) plus an optional progress ``callback``; an unsafe override in
        live mode raises aiida's ``ValueError`` before anything is changed. ``full=True`` holds the exclusive
        profile lock for the whole run (``LockingProfileError`` naming the other holders when the profile is
        in use elsewhere). ``dry_run`` changes nothing and reports what would be done.
        """
        unknown = set(kwargs) - MAINTAIN_OPTIONS
        if unknown:
            raise TypeError(f"maintain() got unexpected options {sorted(unknown)}; allowed: {sorted(MAINTAIN_OPTIONS)}")
        resolve_maintain_options(
            not full,
            kwargs.get("pack_loose"),
            kwargs.get("do_repack"),
            kwargs.get("clean_storage"),
            kwargs.get("do_vacuum"),
        )
        if self.in_transaction:
            raise RuntimeError(
                "maintain() cannot run inside a transaction() block: VACUUM and the container's maintenance are "
                "not transactional"
            )
        self._check_open()
        report = MaintenanceReport(full=full, dry_run=dry_run)
        # A dry run changes nothing, so it needs no lock and is never refused.
        locks = contextlib.nullcontext() if dry_run else self._maintenance_locks(full)
        with locks:
            unreferenced = sorted(self.get_unreferenced_keyset())
            report.unreferenced = len(unreferenced)
            report.add(f"Deleting {len(unreferenced)} unreferenced objects ...")
            if not dry_run and unreferenced:
                callback: Callback | None = kwargs.get("callback")
                self.get_repository().delete_objects(unreferenced)
                report.deleted = len(unreferenced)
                if callback:
                    callback("init", {"total": len(unreferenced), "description": "Deleted unreferenced objects"})
                    callback("update", len(unreferenced))
                    callback("close", None)
            if full and not dry_run:
                _clear_stale_pack_locks(self.get_repository().path)
            report.repository = self.get_repository().maintain(live=not full, dry_run=dry_run, **kwargs)
            if full:
                report.add(f"Running VACUUM (ANALYZE) on {len(VACUUMED_TABLES)} tables ...")
                if not dry_run:
                    with self.database.connection() as conn:
                        db.run(conn, "maintenance/vacuum")
                    report.vacuumed_tables = VACUUMED_TABLES
        return report

    @contextlib.contextmanager
    def _maintenance_locks(self, full: bool) -> Iterator[None]:
        with maintenance_lock(self.profile):
            if not full:
                yield
                return
            access: ProfileAccess | None = getattr(self, "_access", None)
            if access is None:  # a backend that did not take shared access on open
                access = ProfileAccess(self.profile)
            with access.exclusive():
                yield

    def backup(self, dest: str | Path, keep: int | None = None, *, rsync: bool | None = None) -> BackupReport:
        """A consistent, incremental backup into ``dest`` (spec §4.12): database dump, then the container.

        Each run fills ``dest/live-backup`` and renames it to ``backup_<UTC %Y%m%d%H%M%S>_<rand>`` only when
        complete, then points ``last-backup`` at it and keeps ``keep`` earlier backups (all when None). Files
        unchanged since the previous backup are hard-linked to it. ``rsync`` (when None: used if installed)
        or a Python copy with the same ``--link-dest`` rule does the copying.

        :raises StorageBackupError: ``dest`` holds something else, a tool is missing, or a step failed (the
            previous backups and ``last-backup`` are then untouched).
        """
        self._check_open()
        with maintenance_lock(self.profile):
            # Pack loose objects first, as aiida-core does, so that the copy moves few large files; unlike
            # aiida-core, no unreferenced object is deleted: a backup never removes data.
            self.get_repository().maintain(live=True)
        return run_backup(self.profile, self.get_repository(), dest, keep=keep, rsync=rsync)


def _clear_stale_pack_locks(container: Path) -> None:
    """Delete ``packs/<id>.lock`` files left by a process killed while writing a pack.

    disk-objectstore creates them with ``O_EXCL`` and never recognises them as stale, so one killed packer
    made every later pack fail with ``FileExistsError``. Only called with the exclusive profile lock and the
    maintenance flock held: no other process can be writing packs then.
    """
    for lock in sorted((container / "packs").glob("*.lock")):
        LOGGER.warning("removing stale pack lock %s (left by a killed process)", lock)
        lock.unlink(missing_ok=True)
