"""Repository maintenance: unreferenced objects, maintain, backup and restore (docs/storage-backend.md#maintenance).

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

from . import container_keys, db
from .backup import BackupReport, RestoreReport, restore, run_backup
from .errors import MissingObjectsError, TransactionStateError
from .locking import ProfileAccess, maintenance_lock
from .repository import Callback, RepositoryMaintenanceReport, resolve_maintain_options

if TYPE_CHECKING:
    from .context import StorageContext

__all__ = [
    "BackupReport",
    "MaintenanceReport",
    "RestoreReport",
    "backup",
    "get_unreferenced_keyset",
    "maintain",
    "restore",
]

LOGGER = logging.getLogger("fastdos.maintenance")

MISSING_OBJECTS_MESSAGE = (
    "There are objects referenced in the database that are not present in the repository. Aborting!"
)
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


def get_unreferenced_keyset(ctx: StorageContext, check_consistency: bool = True) -> set[str]:
    """Keys of the container's objects that no node's ``repository_metadata`` references.

    :raises RuntimeError: with ``check_consistency``, when a node references a key that is not in the
        container (aiida-core's message).
    """
    unreferenced, missing = _key_differences(ctx, check_consistency)
    if missing:
        LOGGER.error("%d referenced keys missing from the repository, e.g. %s", len(missing), missing[:5])
        raise MissingObjectsError(MISSING_OBJECTS_MESSAGE)
    return unreferenced


def _key_differences(ctx: StorageContext, check: bool) -> tuple[set[str], list[str]]:
    repository = ctx.repository
    with ctx.transaction() as conn:
        return container_keys.differences(conn, repository, check)


def maintain(ctx: StorageContext, full: bool = False, dry_run: bool = False, **kwargs: Any) -> MaintenanceReport:
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
    if ctx.in_transaction:
        raise TransactionStateError(
            "maintain() cannot run inside a transaction() block: VACUUM and the container's maintenance are "
            "not transactional"
        )
    ctx.check_open()
    report = MaintenanceReport(full=full, dry_run=dry_run)
    # A dry run changes nothing, so it needs no lock and is never refused.
    locks = contextlib.nullcontext() if dry_run else _maintenance_locks(ctx, full)
    with locks:
        unreferenced = sorted(get_unreferenced_keyset(ctx))
        report.unreferenced = len(unreferenced)
        report.add(f"Deleting {len(unreferenced)} unreferenced objects ...")
        if not dry_run and unreferenced:
            callback: Callback | None = kwargs.get("callback")
            ctx.repository.delete_objects(unreferenced)
            report.deleted = len(unreferenced)
            if callback:
                callback("init", {"total": len(unreferenced), "description": "Deleted unreferenced objects"})
                callback("update", len(unreferenced))
                callback("close", None)
        if full and not dry_run:
            _clear_stale_pack_locks(ctx.repository.path)
        report.repository = ctx.repository.maintain(live=not full, dry_run=dry_run, **kwargs)
        if full:
            report.add(f"Running VACUUM (ANALYZE) on {len(VACUUMED_TABLES)} tables ...")
            if not dry_run:
                with ctx.connection() as conn:
                    db.run(conn, "maintenance/vacuum")
                report.vacuumed_tables = VACUUMED_TABLES
    return report


@contextlib.contextmanager
def _maintenance_locks(ctx: StorageContext, full: bool) -> Iterator[None]:
    with maintenance_lock(ctx.profile):
        if not full:
            yield
            return
        access = ctx.access
        if access is None:  # a backend that did not take shared access on open
            access = ProfileAccess(ctx.profile)
        with access.exclusive():
            yield


def backup(
    ctx: StorageContext, dest: str | Path, keep: int | None = None, *, rsync: bool | None = None
) -> BackupReport:
    """A consistent, incremental backup into ``dest`` (docs/storage-backend.md#backup): dump, then container.

    Each run fills ``dest/live-backup`` and renames it to ``backup_<UTC %Y%m%d%H%M%S>_<rand>`` only when
    complete, then points ``last-backup`` at it and keeps ``keep`` earlier backups (all when None). Files
    unchanged since the previous backup are hard-linked to it. ``rsync`` (when None: used if installed)
    or a Python copy with the same ``--link-dest`` rule does the copying.

    :raises StorageBackupError: ``dest`` holds something else, a tool is missing, or a step failed (the
        previous backups and ``last-backup`` are then untouched).
    """
    ctx.check_open()
    with maintenance_lock(ctx.profile):
        # Pack loose objects first, as aiida-core does, so that the copy moves few large files; unlike
        # aiida-core, no unreferenced object is deleted: a backup never removes data.
        ctx.repository.maintain(live=True)
    return run_backup(ctx.profile, ctx.repository, dest, keep=keep, rsync=rsync)


def _clear_stale_pack_locks(container: Path) -> None:
    """Delete ``packs/<id>.lock`` files left by a process killed while writing a pack.

    disk-objectstore creates them with ``O_EXCL`` and never recognises them as stale, so one killed packer
    made every later pack fail with ``FileExistsError``. Only called with the exclusive profile lock and the
    maintenance flock held: no other process can be writing packs then.
    """
    for lock in sorted((container / "packs").glob("*.lock")):
        LOGGER.warning("removing stale pack lock %s (left by a killed process)", lock)
        lock.unlink(missing_ok=True)
