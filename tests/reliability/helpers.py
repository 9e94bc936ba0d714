"""Helpers of the reliability tests: worker processes, waiting for them, killing them, checking the aftermath."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg

from fastdos.backend import Backend
from fastdos.locking import ACCESS_FOLDER, read_records
from fastdos.migrator import Migrator
from fastdos.profile import Profile
from fastdos.server import EmbeddedServer

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """A worker subprocess in its own session (process group), with its stdout read by a thread."""

    def __init__(self, scenario: str, profile: Profile, **args: Any) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), scenario, profile.conninfo(), str(profile.repository_path), json.dumps(args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("")  # EOF

    def expect(self, prefix: str, timeout: float = 60) -> str:
        """The next stdout line starting with ``prefix``; fails with the worker's stderr if it exits first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"worker did not print {prefix!r} within {timeout} s") from None
            if line.startswith(prefix):
                return line
            if line == "" and self.proc.poll() is not None:
                assert self.proc.stderr is not None
                err = self.proc.stderr.read()
                raise AssertionError(f"worker exited ({self.proc.returncode}) before {prefix!r}:\n{err}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the worker and e.g. its pg_dump) and reap the worker."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def finish(self, timeout: float = 120) -> str:
        """Wait for a normal exit; return stdout's remaining lines; fail with stderr on a non-zero exit."""
        self.proc.wait(timeout=timeout)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        assert self.proc.returncode == 0, err
        self._reader.join(timeout=10)
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return "\n".join(out)


def wait_until(predicate: Any, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def backend_waits_on_lock(conn: psycopg.Connection, database: str) -> bool:
    """Whether some session of ``database`` (other than ``conn``'s) waits for a heavyweight lock."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
        " AND pid <> pg_backend_pid()",
        (database,),
    ).fetchone()
    return bool(row and row[0])


def sessions_of(conn: psycopg.Connection, database: str) -> int:
    """Client sessions on ``database`` other than ``conn``'s own."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        " AND backend_type = 'client backend'",
        (database,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def assert_recovered(profile: Profile) -> None:
    """After a kill: the storage validates, no stale record remains, a full maintenance is not refused."""
    with Migrator(profile) as migrator:
        migrator.validate_storage()
    started = time.monotonic()
    with Backend(profile, pool_timeout=10) as backend:
        assert read_records(profile.repository_path / ACCESS_FOLDER) != []  # our own shared record only
        assert all(r.pid == os.getpid() for r in read_records(profile.repository_path / ACCESS_FOLDER))
        backend.maintain(full=True)
    assert time.monotonic() - started < 60, "recovery took suspiciously long (a lock wait?)"


@contextmanager
def own_server(prefix: str = "fastdos-rel-", **kwargs: Any) -> Iterator[EmbeddedServer]:
    """A throwaway embedded cluster of this test only (never the shared server of the suite)."""
    from tests.conftest import TEST_SERVER_SETTINGS

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix=prefix))
    root.chmod(0o755)
    settings = {**TEST_SERVER_SETTINGS, **kwargs.pop("settings", {})}
    server = EmbeddedServer(root / "pgdata", settings=settings, **kwargs)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop(mode="immediate")
        finally:
            shutil.rmtree(server.data_dir, ignore_errors=True)
            shutil.rmtree(root, ignore_errors=True)
