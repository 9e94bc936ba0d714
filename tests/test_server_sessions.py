"""`fastdos server stop` with sessions connected needs --force; an open Backend whose server went away fails
at once with one message, without the pool's reconnection warnings."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fastdos.backend import Backend
from fastdos.cli import main
from fastdos.errors import UnreachableStorage
from fastdos.migrator import ensure_database
from fastdos.profile import Profile
from fastdos.server import EmbeddedServer
from tests.conftest import TEST_SERVER_SETTINGS


@pytest.fixture
def own_server() -> Iterator[EmbeddedServer]:
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="fastdos-sessions-"))
    root.chmod(0o755)
    server = EmbeddedServer(root / "pgdata", settings=TEST_SERVER_SETTINGS)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def storage_profile(own_server: EmbeddedServer, tmp_path: Path) -> Profile:
    profile = Profile.from_dsn("sessions", own_server.conninfo("fastdos_sessions"), tmp_path / "repo")
    ensure_database(profile)
    Backend.initialise(profile)
    return profile


def test_stop_refuses_with_sessions(own_server: EmbeddedServer, storage_profile: Profile) -> None:
    stop = ["server", "stop", "--data-dir", str(own_server.requested_dir)]
    with Backend(storage_profile) as storage:
        storage.set_global_variable("k", 1)
        refused = CliRunner().invoke(main, stop, catch_exceptions=False)
        assert refused.exit_code == 1, refused.output
        assert "session(s) are connected" in refused.output and "--force" in refused.output
        assert "fastdos:sessions" in refused.output  # the Backend's application name
        assert own_server.is_running()
        assert storage.get_global_variable("k") == 1
        forced = CliRunner().invoke(main, [*stop, "--force"], catch_exceptions=False)
        assert forced.exit_code == 0, forced.output
        assert "disconnected" in forced.output
        assert not own_server.is_running()
    again = CliRunner().invoke(main, stop, catch_exceptions=False)
    assert again.exit_code == 0 and "not running" in again.output


def test_backend_fails_fast_when_the_server_went_away(
    own_server: EmbeddedServer, storage_profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="psycopg.pool")
    with Backend(storage_profile) as storage:  # the default 30 s pool timeout
        storage.set_global_variable("k", 1)
        own_server.stop()
        for _ in range(2):  # the first call finds the dead connection, the second an empty pool
            started = time.monotonic()
            with pytest.raises(UnreachableStorage, match="the database server went away"):
                storage.get_global_variable("k")
            assert time.monotonic() - started < 5
        time.sleep(1.5)  # the pool's own reconnection attempts run meanwhile, quietly
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "psycopg.pool"]
        assert [r.getMessage() for r in warnings if "error connecting" in r.getMessage()] == []
        own_server.start()
        started = time.monotonic()
        assert storage.get_global_variable("k") == 1  # back at once, not at the pool's next back-off retry
        assert time.monotonic() - started < 5
