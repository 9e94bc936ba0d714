"""The PostgreSQL server restarted or killed under an open Backend; pool exhaustion.

Restarts use a throwaway embedded cluster of this module (never the suite's shared server): the next call
either fails with ``UnreachableStorage`` or succeeds after the pool reconnects; nothing hangs, nothing
committed is lost, nothing uncommitted survives.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fastdos.backend import Backend
from fastdos.cli import main
from fastdos.errors import UnreachableStorage
from fastdos.locking import ProfileAccess
from fastdos.migrator import Migrator, ensure_database
from fastdos.profile import Profile
from fastdos.server import EmbeddedServer
from tests.reliability.helpers import own_server


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with own_server("fastdos-rel-srv-") as srv:
        yield srv


@pytest.fixture
def storage(server: EmbeddedServer, tmp_path: Path) -> Profile:
    if not server.is_running():
        server.start()
    profile = Profile.from_dsn("srv", server.conninfo(f"rel_{uuid.uuid4().hex[:10]}"), tmp_path / "repo")
    ensure_database(profile)
    Backend.initialise(profile)
    return profile


def _restart(server: EmbeddedServer) -> None:
    server.stop()
    server.start()


def _user(backend: Backend) -> int:
    return backend.bulk_insert("user", [{"email": "u@x"}], allow_defaults=True)[0]


def test_restart_during_a_transaction(server: EmbeddedServer, storage: Profile) -> None:
    with Backend(storage, pool_timeout=5) as backend:
        user = _user(backend)
        started = time.monotonic()
        with pytest.raises(UnreachableStorage), backend.transaction():
            backend.bulk_insert("node", [{"user_id": user, "label": "lost"}], allow_defaults=True)
            _restart(server)
            backend.bulk_insert("node", [{"user_id": user, "label": "lost"}], allow_defaults=True)
        assert time.monotonic() - started < 60
        assert not backend.in_transaction
        # The broken connection went back to the pool; the check on checkout replaces it.
        backend.bulk_insert("node", [{"user_id": user, "label": "kept"}], allow_defaults=True)
        assert backend.nodes.count() == 1
        labels = backend.query().append("node", project="label").all(flat=True)
        assert labels == ["kept"]


def test_restart_during_an_iterall_cursor(server: EmbeddedServer, storage: Profile) -> None:
    with Backend(storage, pool_timeout=5) as backend:
        user = _user(backend)
        backend.bulk_insert(
            "node", [{"user_id": user, "attributes": {"i": i}} for i in range(3000)], allow_defaults=True
        )
        rows = backend.query().append("node", project="id").iterall(batch_size=100)
        assert len(next(rows)) == 1  # one row, its projections; the cursor holds the next 99
        _restart(server)
        with pytest.raises(UnreachableStorage):
            for _ in rows:
                pass
        assert backend.nodes.count() == 3000
        assert len(backend.query().append("node", project="id").all()) == 3000


def test_restart_then_full_maintain_and_profile_lock(server: EmbeddedServer, storage: Profile) -> None:
    """The shared-access connection dies with the server: the lock must still work afterwards."""
    with Backend(storage, pool_timeout=5) as backend:
        _restart(server)
        backend.maintain(full=True)
        # Another process's full maintenance must still see this open backend.
        with pytest.raises(Exception, match=f"process {os.getpid()}"), ProfileAccess(storage).exclusive():
            pass
    with ProfileAccess(storage).exclusive():
        pass


def test_stopped_server_is_a_quick_clear_error(server: EmbeddedServer, storage: Profile) -> None:
    with Backend(storage, pool_timeout=3) as backend:
        backend.set_global_variable("k", 1)
        server.stop()
        try:
            started = time.monotonic()
            for call in (
                lambda: backend.get_global_variable("k"),
                lambda: backend.nodes.count(),
                lambda: backend.bulk_insert("user", [{"email": "a"}], allow_defaults=True),
            ):
                with pytest.raises(UnreachableStorage):
                    call()
            assert time.monotonic() - started < 30
        finally:
            server.start()
        # psycopg_pool retries its connection with a doubling back-off (1 s, 2 s, 4 s, ...), so after an outage
        # of a few seconds the first calls may still fail, quickly and clearly, until the pool reconnects.
        started = time.monotonic()
        while True:
            try:
                assert backend.get_global_variable("k") == 1
                break
            except UnreachableStorage:
                assert time.monotonic() - started < 60, "the pool did not reconnect within 60 s"


def test_postmaster_sigkill_then_cli_server_start(server: EmbeddedServer, storage: Profile) -> None:
    with Backend(storage, pool_timeout=5) as backend:
        user = _user(backend)
        ids = backend.bulk_insert(
            "node", [{"user_id": user, "label": f"n{i}"} for i in range(500)], allow_defaults=True
        )
        with psycopg.connect(storage.conninfo(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")  # fsync=off in test clusters: make the commit durable before the kill
        pid = server.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        with pytest.raises(UnreachableStorage):
            backend.nodes.count()
        result = CliRunner().invoke(
            main, ["server", "start", "--data-dir", str(server.requested_dir), "--port", str(server.port)]
        )
        assert result.exit_code == 0, result.output
        assert server.is_running()
        assert backend.nodes.count() == 500
        assert sorted(backend.query().append("node", project="id").all(flat=True)) == ids
    with Migrator(storage) as migrator:
        migrator.validate_storage()


def test_pool_exhaustion_is_a_clear_timeout(profile: Profile) -> None:
    """All connections of the pool held by other threads: a timely error naming the pool size."""
    with Backend(profile, pool_max=2, pool_timeout=1) as backend:
        holding = threading.Barrier(3)
        release = threading.Event()

        def hold() -> None:
            with backend.transaction():
                holding.wait()
                release.wait(30)

        threads = [threading.Thread(target=hold) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            holding.wait(timeout=30)
            started = time.monotonic()
            with pytest.raises(UnreachableStorage, match="all 2 connections of the pool") as info:
                backend.nodes.count()
            assert time.monotonic() - started < 10
            with pytest.raises(UnreachableStorage, match="all 2 connections of the pool"), backend.transaction():
                pass
            assert "pool" in str(info.value)
        finally:
            release.set()
            for thread in threads:
                thread.join(timeout=30)
        assert backend.nodes.count() == 0  # the pool recovers once connections come back
