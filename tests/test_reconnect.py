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
