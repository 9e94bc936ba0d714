"""Backend lifecycle: validation on open, transactions with real nesting, settings, close, clear."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import (
    ClosedStorage,
    CorruptStorage,
    IncompatibleStorageSchema,
    IntegrityError,
    UnreachableStorage,
)
from fastdos.profile import Profile
from tests.conftest import PgServer, make_profile
from tests.helpers import insert_node, insert_user


def count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {}").format(psycopg.sql.Identifier(table))).fetchone()
    assert row is not None
    return int(row[0])


def test_open_and_close(profile: Profile) -> None:
    storage = Backend(profile)
    assert not storage.is_closed
    assert str(storage).startswith("Storage for 'test' [open] @ postgresql+psycopg://")
    assert "DiskObjectStoreRepository: " in str(storage) and str(profile.container_path) in str(storage)
    storage.close()
    storage.close()
    assert storage.is_closed
    assert "[closed]" in str(storage)
    with pytest.raises(ClosedStorage, match="closed"):
        storage.get_global_variable("x")
    with pytest.raises(ClosedStorage), storage.transaction():
        pass
    with pytest.raises(ClosedStorage):
        storage.get_repository()


def test_versions(profile: Profile) -> None:
    assert Backend.version_head() == "main_0002"
    assert Backend.version_profile(profile) == "main_0002"
    assert Backend.initialise(profile) is False


def test_password_masked_in_str(pg_server: PgServer, db_name: str, tmp_path: Path) -> None:
    params = {**pg_server.params, "password": "sentinel-secret"}
    dsn = psycopg.conninfo.make_conninfo("", **params, dbname=db_name)
    profile = Profile.from_dsn("pw", dsn, tmp_path / "repo")
    Backend.initialise(profile, reset=True)
    with Backend(profile) as storage:
        assert "sentinel-secret" not in str(storage) and "sentinel-secret" not in repr(storage)
        if "password" in pg_server.params or not pg_server.embedded:
            assert ":***@" in str(storage)


def test_open_validates(profile: Profile, conn: psycopg.Connection) -> None:
    conn.execute("UPDATE alembic_version SET version_num = 'main_0001'")
    with pytest.raises(IncompatibleStorageSchema, match="main_0001"):
        Backend(profile)
    conn.execute("UPDATE alembic_version SET version_num = 'main_0002'")
    conn.execute("UPDATE db_dbsetting SET val = '\"abc\"' WHERE key = 'repository|uuid'")
    with pytest.raises(CorruptStorage):
        Backend(profile)


def test_open_missing_container(profile: Profile) -> None:
    shutil.rmtree(profile.container_path)
    with pytest.raises(UnreachableStorage, match="disk-objectstore"):
        Backend(profile)


def test_open_unreachable(tmp_path: Path) -> None:
    profile = Profile.from_dsn("x", "host=127.0.0.1 port=1 user=u password=sentinel-pw dbname=x", tmp_path)
    with pytest.raises(UnreachableStorage) as info:
        Backend(profile)
    assert "sentinel-pw" not in str(info.value)


def test_open_missing_database(pg_server: PgServer, tmp_path: Path) -> None:
    with pytest.raises(UnreachableStorage, match="fastdos_missing_db"):
        Backend(make_profile(pg_server, "fastdos_missing_db", tmp_path))


def test_transaction_commit_and_rollback(backend: Backend, conn: psycopg.Connection) -> None:
    assert not backend.in_transaction
    with backend.transaction() as tx:
        assert backend.in_transaction
        insert_user(tx, "a@x")
        assert count(conn, "db_dbuser") == 0, "not visible before commit"
    assert not backend.in_transaction
    assert count(conn, "db_dbuser") == 1
    with pytest.raises(RuntimeError, match="boom"), backend.transaction() as tx:
        insert_user(tx, "b@x")
        raise RuntimeError("boom")
    assert count(conn, "db_dbuser") == 1
    assert not backend.in_transaction


def test_nested_transactions(backend: Backend, conn: psycopg.Connection) -> None:
    with backend.transaction() as outer:
        insert_user(outer, "outer@x")
        with backend.transaction() as inner:
            assert inner is outer
            insert_user(inner, "inner-ok@x")
        # Inner success only released its savepoint: nothing is committed yet.
        assert count(conn, "db_dbuser") == 0
        with pytest.raises(ValueError), backend.transaction() as inner:
            insert_user(inner, "inner-fail@x")
            raise ValueError
        assert backend.in_transaction
        insert_user(outer, "after@x")
    emails = {row[0] for row in conn.execute("SELECT email FROM db_dbuser")}
    assert emails == {"outer@x", "inner-ok@x", "after@x"}


def test_outer_failure_rolls_back_inner_success(backend: Backend, conn: psycopg.Connection) -> None:
    with pytest.raises(KeyError), backend.transaction():
        with backend.transaction() as inner:
            insert_user(inner, "inner@x")
        raise KeyError("outer fails")
    assert count(conn, "db_dbuser") == 0


def test_constraint_violation_converted(backend: Backend, conn: psycopg.Connection) -> None:
    with pytest.raises(IntegrityError) as info, backend.transaction() as tx:
        insert_user(tx, "dup@x")
        from fastdos import db
        from fastdos.migrator import now

        db.run(tx, "settings/insert", {"key": "repository|uuid", "val": None, "description": "", "time": now()})
    assert info.value.constraint == "uq_db_dbsetting_key"
    assert "uq_db_dbsetting_key" in str(info.value)
    assert count(conn, "db_dbuser") == 0


def test_transactions_are_per_thread(backend: Backend, conn: psycopg.Connection) -> None:
    seen: list[bool] = []

    def worker() -> None:
        seen.append(backend.in_transaction)
        with backend.transaction() as tx:
            insert_user(tx, "thread@x")

    with backend.transaction() as tx:
        insert_user(tx, "main@x")
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == [False]
    assert count(conn, "db_dbuser") == 2


def test_global_variables(backend: Backend, conn: psycopg.Connection) -> None:
    with pytest.raises(KeyError, match="No setting found with key test"):
        backend.get_global_variable("test|key")
    backend.set_global_variable("test|key", "v1", description="a test")
    assert backend.get_global_variable("test|key") == "v1"
    row = conn.execute("SELECT val, jsonb_typeof(val), description, time FROM db_dbsetting WHERE key = 'test|key'")
    first = row.fetchone()
    assert first is not None and first[:3] == ("v1", "string", "a test") and first[3].tzinfo is not None
    backend.set_global_variable("test|key", {"nested": [1, 2.5, None]}, description="ignored on update")
    second = conn.execute("SELECT val, description, time FROM db_dbsetting WHERE key = 'test|key'").fetchone()
    assert second is not None
    assert second[0] == {"nested": [1, 2.5, None]}
    assert second[1] == "a test", "the description is kept on update"
    assert second[2] > first[3], "time is bumped on update"
    with pytest.raises(ValueError, match="The setting test|key already exists"):
        backend.set_global_variable("test|key", "v3", overwrite=False)
    assert backend.get_global_variable("test|key") == {"nested": [1, 2.5, None]}


def test_repository_uuid_matches(backend: Backend) -> None:
    repo = backend.get_repository()
    assert backend.get_repository() is repo
    assert backend.get_global_variable("repository|uuid") == repo.uuid


def test_get_info(backend: Backend, conn: psycopg.Connection) -> None:
    user = insert_user(conn, "info@x")
    insert_node(conn, user)
    info = backend.get_info()
    assert info["entities"]["Users"] == {"count": 1}
    assert info["entities"]["Nodes"] == {"count": 1}
    assert list(info["entities"]) == ["Users", "Computers", "Nodes", "Groups", "Comments", "Logs", "Links"]
    assert info["repository"]["SHA-hash algorithm"] == "sha256"
    assert info["repository"]["Compression algorithm"] == "zlib+1"
    detailed = backend.get_info(detailed=True)
    assert detailed["entities"]["Users"]["emails"] == ["info@x"]
    assert detailed["entities"]["Nodes"]["node_types"] == ["data.core.int.Int."]
    assert detailed["entities"]["Nodes"]["process_types"] == []
    assert "Size (MB)" in detailed["repository"]
    assert detailed["database"]["size (MB)"] > 0


def test_clear(backend: Backend, conn: psycopg.Connection) -> None:
    import io

    user = insert_user(conn, "clear@x")
    insert_node(conn, user)
    backend.set_global_variable("keep|me", 1)
    key = backend.get_repository().put_object_from_filelike(io.BytesIO(b"content"))
    old_uuid = backend.get_repository().uuid
    backend._clear()
    assert count(conn, "db_dbnode") == 0 and count(conn, "db_dbuser") == 0
    assert backend.get_global_variable("keep|me") == 1
    repo = backend.get_repository()
    assert repo.uuid != old_uuid
    assert backend.get_global_variable("repository|uuid") == repo.uuid
    assert not repo.has_object(key)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("main_0002",)
    backend.close()
    Backend(backend.profile).close()


def test_context_manager_closes(profile: Profile) -> None:
    with Backend(profile) as storage:
        pass
    assert storage.is_closed
