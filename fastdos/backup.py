"""Backup and restore of a storage: a database dump plus a copy of the container (docs/storage-backend.md#backup).

The layout is aiida-core's ``verdi storage backup`` layout, so either tool reads the other's backups::

    dest/config.json                        the profile (password removed) + the repository uuid
    dest/backup_<UTC %Y%m%d%H%M%S>_<rand>/  complete backups: db.psql, container/, fastdos-backup.json
    dest/last-backup -> backup_...          the newest complete backup
    dest/live-backup/                       the backup in progress (renamed only when complete)

Consistency: the dump is taken first (pg_dump reads one snapshot); the container is copied afterwards in
disk-objectstore's safe order (loose objects, then the SQLite pack index through SQLite's backup API, then
the pack files), so every object the dump references is in the copy even while the storage is in use,
because objects are only ever added while a backend holds shared access (repack and deletion of packed data
need the exclusive lock). Incremental: a file whose size and mtime match the previous backup's is hard-linked
to it (rsync ``--link-dest``; the Python copy applies the same rule when rsync is absent).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import random
import re
import shutil
import sqlite3
import string
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import container_keys, db
from .errors import CorruptStorage, StorageBackupError, scrub
from .locking import ACCESS_FOLDER, exclusive_lock
from .pgclient import client_args, find_pg_tool, run_client, server_version
from .profile import Profile
from .repository import Repository

LIVE_FOLDER = "live-backup"
LAST_LINK = "last-backup"
DUMP_FILE = "db.psql"
MANIFEST_FILE = "fastdos-backup.json"
CONFIG_FILE = "config.json"
BACKUP_NAME = re.compile(r"^backup_\d{14}_[a-z0-9]{4}$")
# aiida-core's config schema version written into dest/config.json (what `verdi storage backup` writes).
AIIDA_CONFIG_VERSION = {"CURRENT": 9, "OLDEST_COMPATIBLE": 9}
# Container entries copied by dedicated steps (or never: the sandbox holds only half-written temp files).
_CONTAINER_SPECIAL = ("loose", "packs", "packs.idx", "packs.idx-wal", "packs.idx-shm", "sandbox")


@dataclass
class CopyStats:
    """Files copied and hard-linked by one backup (None when rsync did the copying)."""

    copied: int = 0
    linked: int = 0
    bytes_copied: int = 0


@dataclass
class BackupReport:
    """The outcome of :meth:`MaintenanceMixin.backup`."""

    path: Path
    previous: Path | None
    tool: str  # "rsync" or "python"
    pg_dump: Path
    stats: CopyStats | None
    deleted: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI."""
        out = [f"Backup written to {self.path}"]
        out.append(f"Incremental against {self.previous}" if self.previous else "First backup (no previous one)")
        if self.stats is not None:
            out.append(
                f"{self.stats.copied} files copied ({self.stats.bytes_copied / 1024**2:.2f} MB), "
                f"{self.stats.linked} hard-linked to the previous backup"
            )
        out.extend(f"Deleted old backup {path}" for path in self.deleted)
        return out


@dataclass
class RestoreReport:
    """The outcome of :func:`restore`."""

    source: Path
    profile: str
    nodes: int
    objects: int

    def lines(self) -> list[str]:
        """Human-readable summary for the CLI."""
        return [f"Restored {self.source} into profile `{self.profile}`: {self.nodes} nodes, {self.objects} objects"]


# --- backup ---------------------------------------------------------------------------------------------


def run_backup(
    profile: Profile, repository: Repository, dest: str | Path, *, keep: int | None = None, rsync: bool | None = None
) -> BackupReport:
    """Write one complete backup into ``dest``; see :meth:`fastdos.maintenance.MaintenanceMixin.backup`."""
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
        raise ValueError(f"keep must be a non-negative integer or None, got {keep!r}")
    folder = _local_destination(dest)
    repository_uuid = repository.uuid
    if repository_uuid is None:
        raise StorageBackupError(f"the repository container at {repository.path} is not initialised")
    use_rsync = _want_rsync(rsync)
    _validate_or_init_destination(folder, profile, repository_uuid)
    previous = last_backup(folder)
    live = folder / LIVE_FOLDER
    shutil.rmtree(live, ignore_errors=True)  # left by an interrupted run: never a complete backup
    live.mkdir()
    try:
        server_major, server_number = server_version(profile)
        pg_dump = find_pg_tool("pg_dump", server_major)
        _dump_database(profile, pg_dump, live / DUMP_FILE)
        stats = copy_container(
            repository, live / "container", previous / "container" if previous else None, rsync=use_rsync
        )
        manifest = {
            "format": 1,
            "profile": profile.name,
            "profile_uuid": profile.uuid,
            "repository_uuid": repository_uuid,
            "server_version": server_number,
            "pg_dump": str(pg_dump),
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        (live / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    except BaseException as exc:
        shutil.rmtree(live, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, StorageBackupError):
            raise StorageBackupError(
                f"backup failed, nothing was changed in {folder} (last-backup still points at the previous "
                f"backup): {type(exc).__name__}: {scrub(str(exc), profile.password)}"
            ) from exc
        raise
    final = folder / _backup_name()
    os.rename(live, final)
    _point_last_backup(folder, final)
    deleted = _prune(folder, keep)
    return BackupReport(final, previous, "rsync" if use_rsync else "python", pg_dump, stats, deleted)


def backup_folders(dest: Path) -> list[Path]:
    """The complete backups in ``dest``, oldest first."""
    if not dest.is_dir():
        return []
    found = [p for p in dest.iterdir() if p.is_dir() and not p.is_symlink() and BACKUP_NAME.match(p.name)]
    # The name's timestamp has one-second resolution and a random suffix: two backups within one second are
    # ordered by the time their manifest (the last file written) was written.
    return sorted(found, key=lambda p: (p.name[7:21], _written(p)))


def _written(folder: Path) -> int:
    with contextlib.suppress(OSError):
        return (folder / MANIFEST_FILE).stat().st_mtime_ns
    return folder.stat().st_mtime_ns


def last_backup(dest: Path) -> Path | None:
    """The newest complete backup in ``dest`` (None when there is none)."""
    folders = backup_folders(dest)
    return folders[-1] if folders else None


def _backup_name() -> str:
    timestamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
    return f"backup_{timestamp}_{suffix}"


def _local_destination(dest: str | Path) -> Path:
    text = str(dest)
    if re.match(r"^[^/]+:", text):
        raise StorageBackupError(
            f"remote destination {text!r} is not supported: back up to a local (or mounted) folder"
        )
    return Path(text).expanduser().absolute()


def _want_rsync(rsync: bool | None) -> bool:
    found = shutil.which("rsync") is not None
    if rsync and not found:
        raise StorageBackupError("rsync was requested but is not installed; use rsync=None for the Python copy")
    return found if rsync is None else rsync


def _validate_or_init_destination(folder: Path, profile: Profile, repository_uuid: str) -> None:
    """Accept an empty/missing folder (and write its config.json) or one holding backups of this storage."""
    config_path = folder / CONFIG_FILE
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            profiles = config["profiles"]
            (entry,) = profiles.values()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageBackupError(
                f"{folder} is not a backup folder of profile `{profile.name}`: its config.json is not a backup "
                f"configuration with exactly one profile ({type(exc).__name__})"
            ) from None
        same = (
            entry.get("PROFILE_UUID") == profile.uuid
            or config.get("fastdos", {}).get("repository_uuid") == repository_uuid
        )
        if not same:
            raise StorageBackupError(
                f"{folder} holds backups of another storage (profile {next(iter(profiles))!r}); "
                "choose an empty or new folder"
            )
        return
    if folder.exists():
        if not folder.is_dir():
            raise StorageBackupError(f"backup destination {folder} exists and is not a folder")
        entries = sorted(p.name for p in folder.iterdir())
        if entries:
            raise StorageBackupError(
                f"backup destination {folder} is not empty and holds no backup of profile `{profile.name}` "
                f"(found {', '.join(entries[:5])}{' ...' if len(entries) > 5 else ''}); choose an empty or new folder"
            )
    folder.mkdir(parents=True, exist_ok=True)
    entry = profile.to_dict()
    entry["storage"]["config"].pop("database_password", None)  # a backup never stores the password
    config = {
        "CONFIG_VERSION": AIIDA_CONFIG_VERSION,
        "profiles": {profile.name: entry},
        "fastdos": {"repository_uuid": repository_uuid},
    }
    tmp = config_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2), encoding="utf-8")
    os.replace(tmp, config_path)


def _point_last_backup(folder: Path, final: Path) -> None:
    link = folder / LAST_LINK
    tmp = folder / f".{LAST_LINK}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(final.name, tmp)
        os.replace(tmp, link)  # atomic: last-backup always names a complete backup
    except OSError:
        tmp.unlink(missing_ok=True)  # a filesystem without symlinks: the newest backup_* folder still wins


def _prune(folder: Path, keep: int | None) -> list[Path]:
    """aiida-core's rule: keep the new backup plus ``keep`` earlier ones."""
    if keep is None:
        return []
    folders = backup_folders(folder)
    doomed = folders[: -(keep + 1)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


# --- the database dump ----------------------------------------------------------------------------------


def _dump_database(profile: Profile, pg_dump: Path, target: Path) -> None:
    """Plain-SQL dump of the profile's database only, without owners and grants (restores under any role)."""
    conninfo, env = client_args(profile)
    args = [
        str(pg_dump),
        "--format=p",
        "--no-owner",
        "--no-privileges",
        "--no-password",
        f"--file={target}",
        f"--dbname={conninfo}",
    ]
    run_client(args, env, "pg_dump", profile.password)


# --- the container copy ---------------------------------------------------------------------------------


def copy_container(repository: Repository, target: Path, previous: Path | None, *, rsync: bool) -> CopyStats | None:
    """Copy a (possibly live) container in disk-objectstore's safe order, hard-linking unchanged files."""
    source = repository.path
    stats = None if rsync else CopyStats()
    target.mkdir(parents=True)

    def tree(name: str) -> None:
        src, dst = source / name, target / name
        if not src.is_dir():
            dst.mkdir(exist_ok=True)
            return
        link = previous / name if previous is not None and (previous / name).is_dir() else None
        _copy_tree(src, dst, link, stats)

    tree("loose")  # 1. loose objects: whatever is packed meanwhile is then still in the index copied next
    _sqlite_backup(source / "packs.idx", target / "packs.idx")  # 2. the index, consistently
    tree("packs")  # 3. pack files: append-only while live, so they hold everything the index copy names
    for entry in sorted(source.iterdir()):  # 4. config.json, duplicates/, anything else
        if entry.name in _CONTAINER_SPECIAL:
            continue
        if entry.is_dir():
            tree(entry.name)
        else:
            prev = previous / entry.name if previous is not None else None
            _copy_file(entry, target / entry.name, prev, stats)
    (target / "sandbox").mkdir(exist_ok=True)
    return stats


def _copy_tree(src: Path, dst: Path, link_dest: Path | None, stats: CopyStats | None) -> None:
    if stats is None:
        args = ["rsync", "-a"]
        if link_dest is not None:
            args.append(f"--link-dest={link_dest.resolve()}")
        args += [f"{src}/", f"{dst}/"]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StorageBackupError(f"rsync of {src} failed (exit code {result.returncode}): {result.stderr.strip()}")
        return
    dst.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        for name in dirs:
            (dst / rel / name).mkdir(exist_ok=True)
        for name in files:
            prev = link_dest / rel / name if link_dest is not None else None
            _copy_file(Path(root) / name, dst / rel / name, prev, stats)


def _copy_file(src: Path, dst: Path, prev: Path | None, stats: CopyStats | None) -> None:
    """rsync's quick check: same size and mtime as in the previous backup -> hard link, else copy (with mtime)."""
    source_stat = src.stat()
    if prev is not None:
        with contextlib.suppress(OSError):
            prev_stat = prev.stat()
            if prev_stat.st_size == source_stat.st_size and prev_stat.st_mtime_ns == source_stat.st_mtime_ns:
                os.link(prev, dst)
                if stats is not None:
                    stats.linked += 1
                return
    shutil.copy2(src, dst)
    if stats is not None:
        stats.copied += 1
        stats.bytes_copied += source_stat.st_size


def _sqlite_backup(source: Path, target: Path) -> None:
    """Copy the pack index through SQLite's online backup API (safe while other processes write to it)."""
    if not source.exists():
        raise StorageBackupError(f"the container has no pack index {source}")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(str(target))
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


# --- restore --------------------------------------------------------------------------------------------


def resolve_backup(src: str | Path) -> Path:
    """The backup folder named by ``src``: a ``backup_*`` folder itself, or a destination (its newest backup)."""
    path = Path(src).expanduser().absolute()
    if (path / DUMP_FILE).is_file():
        return path
    if (path / LAST_LINK).exists() and (path / LAST_LINK / DUMP_FILE).is_file():
        return (path / LAST_LINK).resolve()
    newest = last_backup(path)
    if newest is not None and (newest / DUMP_FILE).is_file():
        return newest
    raise StorageBackupError(f"{path} is not a backup: it holds no {DUMP_FILE} and no complete backup_* folder")


def restore(src: str | Path, profile: Profile, *, validate: bool = True) -> RestoreReport:
    """Restore a backup (fastdos' or aiida-core's) into an EMPTY profile: its database and its repository.

    The profile's database is created when missing and must hold no relation; its repository folder must be
    missing or empty. The container is copied beside its final place first, the dump is loaded in one
    transaction (``psql --single-transaction``, stop on the first error), and only then is the container moved
    into place, so a failure leaves the profile empty. With ``validate`` the restored storage is opened and
    every key the nodes reference is checked to be in the container.

    :raises StorageBackupError: the source is not a backup, the profile is not empty, or a step failed.
    """
    from .migrator import Migrator, ensure_database

    folder = resolve_backup(src)
    container_src = folder / "container"
    if not (container_src / "config.json").is_file() or not (container_src / "packs.idx").is_file():
        raise StorageBackupError(f"{folder} holds no complete container (container/config.json, packs.idx)")
    repository_path = profile.repository_path
    if repository_path.exists():
        leftovers = sorted(p.name for p in repository_path.iterdir() if p.name != ACCESS_FOLDER)
        if leftovers:
            raise StorageBackupError(
                f"cannot restore into profile `{profile.name}`: its repository folder {repository_path} is not "
                f"empty (found {', '.join(leftovers[:5])}); restore only into an empty profile"
            )
    ensure_database(profile)
    with db.connect(profile.conninfo(), password=profile.password) as conn:
        relations = int(db.scalar(conn, "maintenance/relation_count"))
        server_major = int(db.scalar(conn, "maintenance/server_version")) // 10000
    if relations:
        raise StorageBackupError(
            f"cannot restore into profile `{profile.name}`: its database "
            f"`{profile.storage_config.get('database_name')}` is not empty ({relations} relations); restore only "
            "into an empty database"
        )
    psql = find_pg_tool("psql", server_major)
    repository_path.mkdir(parents=True, exist_ok=True)
    target = profile.container_path
    staging = target.with_name(f"{target.name}.restoring")
    with exclusive_lock(profile):
        shutil.rmtree(staging, ignore_errors=True)
        try:
            shutil.copytree(container_src, staging, symlinks=True)
            conninfo, env = client_args(profile)
            args = [
                str(psql),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "--single-transaction",
                "--no-password",
                f"--dbname={conninfo}",
                f"--file={folder / DUMP_FILE}",
            ]
            run_client(args, env, "psql (loading the database dump)", profile.password)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.rename(staging, target)
    nodes, objects = _validate_restored(profile, Migrator) if validate else (-1, -1)
    return RestoreReport(folder, profile.name, nodes, objects)


def _validate_restored(profile: Profile, migrator_cls: Any) -> tuple[int, int]:
    """Validate like opening the storage, then check that every referenced object was restored."""
    with migrator_cls(profile) as migrator:
        migrator.validate_storage()
    repository = Repository(profile.container_path)
    try:
        with db.connect(profile.conninfo(), password=profile.password) as conn, conn.transaction():
            _, missing = container_keys.differences(conn, repository, check=True)
            if missing:
                raise CorruptStorage(
                    f"the restored storage is inconsistent: {len(missing)} objects referenced in the database are "
                    f"not present in the repository (e.g. {missing[0]})"
                )
            nodes = int(db.scalar(conn, "maintenance/node_count"))
        objects = sum(1 for _ in repository.list_objects())
    finally:
        repository.close()
    return nodes, objects
