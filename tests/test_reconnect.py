"""A PostgreSQL restart while a Backend is open costs a reconnect; a stopped server is a clear error."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastdos.backend import Backend
from fastdos.errors import UnreachableStorage
from fastdos.migrator import ensure_database
from fastdos.profile import Profile
from fastdos.server import EmbeddedServer
from tests.conftest import TEST_SERVER_SETTINGS


@pytest.fixture
def own_server() -> Iterator[EmbeddedServer]:
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="fastdos-reconnect-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pgdata", settings=TEST_SERVER_SETTINGS)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def test_restart_and_stop(own_server: EmbeddedServer, tmp_path: Path) -> None:
    profile = Profile.from_dsn("rc", own_server.conninfo("fastdos_rc"), tmp_path / "repo")
    ensure_database(profile)
    Backend.initialise(profile)
    with Backend(profile, pool_timeout=3) as storage:
        storage.set_global_variable("k", 1)
        own_server.stop()
        own_server.start()
        # The pooled connections died with the server; the pool's check replaces them transparently.
        assert storage.get_global_variable("k") == 1
        storage.set_global_variable("k", 2)
        own_server.stop()
        with pytest.raises(UnreachableStorage):
            storage.get_global_variable("k")
        own_server.start()
        assert storage.get_global_variable("k") == 2


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_wrong_password(tmp_path: Path) -> None:
    """A server that checks passwords: the wrong one is a clear UnreachableStorage that does not echo it."""
    import psycopg

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="fastdos-pw-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pgdata", port=_free_port(), tcp=True, settings=TEST_SERVER_SETTINGS)
    server.start()
    try:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE ROLE fastdos_pw LOGIN CREATEDB PASSWORD 'right-password'")
            conn.execute("CREATE DATABASE fastdos_pw OWNER fastdos_pw")
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])  # type: ignore[index]
        # Prepend a rule: TCP logins of this role must present the password (the rest stays trust).
        original = hba.read_text()
        hba.write_text(f"host all fastdos_pw 127.0.0.1/32 scram-sha-256\n{original}")
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        good = f"host=127.0.0.1 port={server.port} user=fastdos_pw password=right-password dbname=fastdos_pw"
        Backend.initialise(Profile.from_dsn("pw", good, tmp_path / "repo"))
        bad = good.replace("right-password", "wrong-sentinel")
        with pytest.raises(UnreachableStorage, match="password authentication failed") as info:
            Backend(Profile.from_dsn("pw", bad, tmp_path / "repo"))
        assert "wrong-sentinel" not in str(info.value) and "right-password" not in str(info.value)
        with Backend(Profile.from_dsn("pw", good, tmp_path / "repo")) as storage:
            assert "right-password" not in str(storage)
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
