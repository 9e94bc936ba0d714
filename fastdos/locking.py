"""Profile access and locks: who uses a storage, and who may have it alone.

Two mechanisms, each covering what the other cannot:

* a PostgreSQL session-level advisory lock on the profile's database, held on one dedicated connection
  for as long as the access lasts: *shared* for normal use (an open :class:`~fastdos.backend.Backend`),
  *exclusive* for ``maintain(full=True)``, direct-to-pack writes and restore. It is the authority: it spans
  hosts, and the server drops it when the holder dies, so a crash never leaves a stale lock. Its
  ``application_name`` carries the holder's OS pid, so a refusal can name it even across hosts;
* a record file per holder in ``<repository>/.fastdos-access/`` (``<pid>-<token>.pid`` for shared access,
  ``<pid>-<token>.lock`` for the exclusive lock; JSON with pid, host, process start time), readable without
  a database connection (``ls``), like aiida-core's ``ProfileAccessManager`` records. A record of a process
  on this host that no longer runs (or whose pid now belongs to another process) is stale and is deleted
  whenever records are read.

A separate ``flock`` (:func:`maintenance_lock`) serialises repository maintenance between processes even in
live mode, because disk-objectstore allows only one process at a time to pack, repack or clean a container.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from . import db
from .errors import FastdosError, LockedProfileError, LockingProfileError
from .profile import Profile

ACCESS_FOLDER = ".fastdos-access"
# Arbitrary constant advisory-lock key ("fastdosA" in ASCII). Advisory locks are scoped to one database, so
# one key per storage suffices: every fastdos process on the same database meets on it, whatever the profile
# is called.
ACCESS_LOCK_KEY = 0x66617374646F7341
APPLICATION_PREFIX = "fastdos-access"
MAINTENANCE_FLOCK = "maintenance.flock"


@dataclass(frozen=True)
class AccessRecord:
    """One holder of a profile, from its record file or from the server's view of the advisory lock."""

    pid: int
    host: str
    mode: str  # "shared" or "exclusive"
    since: str = ""
    path: Path | None = None

    def describe(self) -> str:
        """``process 1234 on host (shared access since ...)``."""
        since = f" since {self.since}" if self.since else ""
        return f"process {self.pid} on {self.host} ({self.mode}{since})"


class ProfileAccess:
    """Access to one profile by this process: shared by default, upgradeable to exclusive.

    Wiring into a backend: ``self._access = ProfileAccess(profile).acquire_shared()`` in ``__init__`` and
    ``self._access.release()`` in ``close``. :meth:`exclusive` upgrades in place (the own shared hold does not
    conflict, any other holder - another process, or another backend of this process - does).
    """

    def __init__(self, profile: Profile) -> None:
        self._profile = profile
        self._folder = profile.repository_path / ACCESS_FOLDER
        self._token = secrets.token_hex(4)
        self._conn: db.Connection | None = None
        self._shared = False
        self._exclusive = 0

    @property
    def folder(self) -> Path:
        """The folder of the record files."""
        return self._folder

    @property
    def is_shared(self) -> bool:
        """Whether this object holds shared access."""
        return self._shared

    @property
    def is_exclusive(self) -> bool:
        """Whether this object holds the exclusive lock."""
        return self._exclusive > 0

    # --- acquiring -------------------------------------------------------------------------------------

    def acquire_shared(self) -> ProfileAccess:
        """Take shared access; ``LockedProfileError`` naming the holder when another process has it locked."""
        if self._shared:
            return self
        read_records(self._folder)  # clears stale records of dead processes
        conn = self._connection()
        if not db.scalar(conn, "locking/try_shared", {"key": ACCESS_LOCK_KEY}):
            holders = self._other_holders(conn, mode="exclusive")
            self._close_if_idle()
            raise LockedProfileError(
                f"The profile `{self._profile.name}` is locked by {_names(holders)}; wait until it finishes "
                "(for example `fastdos maintain --full`) and try again."
            )
        self._shared = True
        self._write_record("shared")
        return self

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[ProfileAccess]:
        """Hold the exclusive lock for the block (upgrading own shared access, which is kept afterwards).

        :raises LockingProfileError: another process (or another backend of this process) uses the profile;
            the message names every holder with its pid.
        """
        read_records(self._folder)  # clears stale records of dead processes
        conn = self._connection()
        if not db.scalar(conn, "locking/try_exclusive", {"key": ACCESS_LOCK_KEY}):
            holders = self._other_holders(conn, mode=None)
            self._close_if_idle()
            raise LockingProfileError(
                f"Cannot lock the profile `{self._profile.name}` for exclusive use: it is in use by "
                f"{_names(holders)}. Close those processes (or their backends) and try again."
            )
        self._exclusive += 1
        record = self._write_record("exclusive")
        try:
            yield self
        finally:
            self._exclusive -= 1
            record.unlink(missing_ok=True)
            if self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.Error, FastdosError):  # a dead session holds no lock
                    db.scalar(self._conn, "locking/unlock_exclusive", {"key": ACCESS_LOCK_KEY})
            self._close_if_idle()

    def release(self) -> None:
        """Give up shared access (idempotent); the exclusive lock is released by its block."""
        if self._shared:
            self._shared = False
            self._record_path("shared").unlink(missing_ok=True)
            if self._conn is not None and not self._conn.closed:
                with contextlib.suppress(psycopg.Error, FastdosError):  # a dead session holds no lock
                    db.scalar(self._conn, "locking/unlock_shared", {"key": ACCESS_LOCK_KEY})
        self._close_if_idle()

    def __enter__(self) -> ProfileAccess:
        return self.acquire_shared()

    def __exit__(self, *exc: object) -> None:
        self.release()

    # --- records ---------------------------------------------------------------------------------------

    def records(self) -> list[AccessRecord]:
        """Live record files of every process (stale ones of dead processes on this host are deleted)."""
        return read_records(self._folder)

    def _record_path(self, mode: str) -> Path:
        suffix = "lock" if mode == "exclusive" else "pid"
        return self._folder / f"{os.getpid()}-{self._token}.{suffix}"

    def _write_record(self, mode: str) -> Path:
        self._folder.mkdir(parents=True, exist_ok=True)
        path = self._record_path(mode)
        payload = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "start": _start_time(os.getpid()),
            "mode": mode,
            "since": time.strftime("%Y-%m-%d %H:%M:%S%z"),
            "profile": self._profile.name,
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def _other_holders(self, conn: db.Connection, mode: str | None) -> list[AccessRecord]:
        """Holders other than this object: record files first, then server sessions with no record."""
        own = {self._record_path("shared"), self._record_path("exclusive")}
        files = [r for r in self.records() if r.path not in own and (mode is None or r.mode == mode)]
        pids = {r.pid for r in files}
        sessions = []
        for granted_mode, application, client in db.all_rows(conn, "locking/holders", {"key": ACCESS_LOCK_KEY}):
            kind = "exclusive" if granted_mode == "ExclusiveLock" else "shared"
            if mode is not None and kind != mode:
                continue
            pid, host = _parse_application(str(application or ""), str(client or "?"))
            if pid is not None and pid in pids:
                continue
            sessions.append(AccessRecord(pid=pid or -1, host=host, mode=kind))
        return files + sessions

    # --- connection ------------------------------------------------------------------------------------

    def _connection(self) -> db.Connection:
        if self._conn is not None and not self._conn.closed and not _alive(self._conn):
            # The server restarted or ended the session, and the advisory lock went with it: reconnect and
            # take shared access again, or later locking calls would fail for the rest of the backend's life.
            self._conn.close()
            self._conn = None
            if self._shared and not db.scalar(self._connection(), "locking/try_shared", {"key": ACCESS_LOCK_KEY}):
                self._shared = False
                self._record_path("shared").unlink(missing_ok=True)
                raise LockedProfileError(
                    f"The profile `{self._profile.name}` lost its shared access when the database server restarted "
                    "and another process has locked it since; close this backend."
                )
        if self._conn is None or self._conn.closed:
            application = f"{APPLICATION_PREFIX}:{os.getpid()}:{socket.gethostname()}"[:63]
            self._conn = db.connect(
                self._profile.conninfo(), password=self._profile.password, application_name=application
            )
        return self._conn

    def _close_if_idle(self) -> None:
        if not self._shared and not self._exclusive and self._conn is not None:
            self._conn.close()
            self._conn = None


@contextlib.contextmanager
def exclusive_lock(profile: Profile) -> Iterator[ProfileAccess]:
    """The exclusive lock of a profile for a process that does not hold a backend on it (e.g. restore)."""
    access = ProfileAccess(profile)
    with access.exclusive():
        yield access


@contextlib.contextmanager
def maintenance_lock(profile: Profile) -> Iterator[None]:
    """One repository maintainer at a time (non-blocking ``flock``); ``LockedProfileError`` when busy."""
    folder = profile.repository_path / ACCESS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MAINTENANCE_FLOCK
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedProfileError(
                f"The repository of profile `{profile.name}` is being maintained by {holder}; try again later."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_records(folder: Path) -> list[AccessRecord]:
    """The live access records in ``folder``; deletes the stale ones (dead process or reused pid, this host)."""
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    records = []
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".pid", ".lock"):
            continue
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            # Half-written by a process that died mid-write, or not ours: only trust it while fresh.
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > 60:
                    path.unlink(missing_ok=True)
            continue
        if data.get("host") == host and not _is_alive(pid, data.get("start")):
            path.unlink(missing_ok=True)
            continue
        mode = "exclusive" if path.suffix == ".lock" else "shared"
        records.append(AccessRecord(pid, str(data.get("host")), mode, str(data.get("since", "")), path))
    return records


def _is_alive(pid: int, start: Any) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    current = _start_time(pid)
    return start is None or current is None or current == start


def _start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot (Linux), to tell a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses: split after its closing parenthesis.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _parse_application(application: str, client: str) -> tuple[int | None, str]:
    parts = application.split(":")
    if len(parts) >= 3 and parts[0] == APPLICATION_PREFIX and parts[1].isdigit():
        return int(parts[1]), parts[2] or client
    return None, client


def _alive(conn: db.Connection) -> bool:
    """One empty round trip on an idle lock connection (only before lock operations, which are rare)."""
    try:
        conn.execute("")
    except psycopg.Error:
        return False
    return True


def _names(holders: list[AccessRecord]) -> str:
    if not holders:
        return "another process (it released the lock in the meantime, or holds no record)"
    return ", ".join(holder.describe() for holder in holders)
