"""Version detection, initialisation, validation and migration against a real PostgreSQL + container."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from fastdos.errors import CorruptStorage, IncompatibleStorageSchema, StorageMigrationError, UnreachableStorage
from fastdos.migrator import Migrator, ensure_database
from fastdos.profile import Profile
from tests.conftest import PgServer, drop_database, make_profile
from tests.helpers import insert_node, insert_user


@pytest.fixture
def empty_profile(pg_server: PgServer, empty_db: str, tmp_path: Path) -> Profile:
    return make_profile(pg_server, empty_db, tmp_path / "repo")


def test_versions() -> None:
    versions = Migrator.get_schema_versions()
    assert list(versions) == ["main_0001", "main_0002"]
    assert Migrator.get_schema_version_head() == "main_0002"


def test_initialise_is_idempotent(empty_profile: Profile) -> None:
    with Migrator(empty_profile) as migrator:
        with pytest.raises(IncompatibleStorageSchema, match="The database has no known version."):
            migrator.validate_storage()
        assert migrator.get_schema_version_profile() is None
        assert migrator.initialise() is True
        assert migrator.initialise() is False
        migrator.validate_storage()
        assert migrator.get_schema_version_profile() == "main_0002"
        uuid_db = migrator.connection.execute(
            "SELECT val, jsonb_typeof(val), description FROM db_dbsetting WHERE key = 'repository|uuid'"
        ).fetchone()
    assert uuid_db is not None
    assert uuid_db[0] == migrator.get_repository_uuid() and uuid_db[1] == "string"
    assert uuid_db[2] == "Repository UUID"
    assert len(uuid_db[0]) == 32 and "-" not in uuid_db[0]


def test_container_has_aiida_defaults(profile: Profile) -> None:
    import json

    config = json.loads((profile.container_path / "config.json").read_text())
    assert config["loose_prefix_len"] == 2
    assert config["pack_size_target"] == 4 * 1024**3
    assert config["hash_type"] == "sha256"
    assert config["compression_algorithm"] == "zlib+1"


def test_migrate_uninitialised(empty_profile: Profile) -> None:
    with Migrator(empty_profile) as migrator, pytest.raises(
        StorageMigrationError, match="storage is uninitialised, cannot migrate."
    ):
        migrator.migrate()


def test_legacy_django_database(empty_profile: Profile) -> None:
    with Migrator(empty_profile) as migrator:
        migrator.connection.execute(
            "CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255),"
            " applied timestamptz)"
        )
        migrator.connection.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES"
            " ('db', '0048_computer_name_to_label', now()), ('db', '0049_entry_point_core_prefix', now()),"
            " ('auth', '0012_alter_user', now())"
        )
        assert migrator.get_schema_version_profile() is None
        assert migrator.get_schema_version_profile(check_legacy=True) == "0049_entry_point_core_prefix"
        assert migrator.is_database_initialised
        with pytest.raises(IncompatibleStorageSchema, match="legacy Django schema"):
            migrator.validate_storage()
        with pytest.raises(StorageMigrationError, match="0049_entry_point_core_prefix"):
            migrator.migrate()


def test_other_revision_is_incompatible(profile: Profile) -> None:
    with Migrator(profile) as migrator:
        migrator.connection.execute("UPDATE alembic_version SET version_num = 'main_0001'")
        with pytest.raises(IncompatibleStorageSchema, match="`main_0001` is incompatible .* `main_0002`"):
            migrator.validate_storage()
        migrator.migrate()
        migrator.validate_storage()
        migrator.connection.execute("UPDATE alembic_version SET version_num = '1de112340b18'")
        with pytest.raises(IncompatibleStorageSchema, match="1de112340b18"):
            migrator.validate_storage()
        with pytest.raises(StorageMigrationError, match="does not know"):
            migrator.migrate()


def test_repository_uuid_checks(profile: Profile) -> None:
    with Migrator(profile) as migrator:
        migrator.connection.execute("UPDATE db_dbsetting SET val = '\"0123\"' WHERE key = 'repository|uuid'")
        with pytest.raises(CorruptStorage, match="configured to 0123 but the disk-objectstore's is"):
            migrator.validate_storage()
        migrator.connection.execute("DELETE FROM db_dbsetting WHERE key = 'repository|uuid'")
        with pytest.raises(CorruptStorage, match="The database has no repository UUID set."):
            migrator.validate_storage()


def test_missing_container(profile: Profile) -> None:
    shutil.rmtree(profile.container_path)
    with Migrator(profile) as migrator, pytest.raises(UnreachableStorage, match="Could not access disk-objectstore"):
        migrator.validate_storage()


def test_missing_container_with_nodes_is_not_silently_replaced(profile: Profile) -> None:
    with Migrator(profile) as migrator:
        insert_node(migrator.connection, insert_user(migrator.connection))
    shutil.rmtree(profile.container_path)
    with Migrator(profile) as migrator, pytest.raises(CorruptStorage, match="container .* is missing"):
        migrator.initialise()
    assert not profile.container_path.exists()


def test_missing_container_without_nodes_is_relinked(profile: Profile) -> None:
    shutil.rmtree(profile.container_path)
    with Migrator(profile) as migrator:
        assert migrator.initialise() is True
        migrator.validate_storage()


def test_existing_container_is_kept_when_database_is_new(
    pg_server: PgServer, empty_db: str, tmp_path: Path
) -> None:
    first = make_profile(pg_server, empty_db, tmp_path / "repo")
    with Migrator(first) as migrator:
        migrator.initialise_repository()
        container_id = migrator.get_repository_uuid()
        assert migrator.initialise() is True
        assert migrator.get_repository_uuid() == container_id
        migrator.validate_storage()


def test_reset_deletes_rows_but_not_versions(profile: Profile) -> None:
    with Migrator(profile) as migrator:
        user = insert_user(migrator.connection)
        insert_node(migrator.connection, user)
        old_container = migrator.get_repository_uuid()
        assert migrator.initialise(reset=True) is True
        counts = migrator.connection.execute(
            "SELECT (SELECT count(*) FROM db_dbnode), (SELECT count(*) FROM db_dbuser),"
            " (SELECT count(*) FROM alembic_version)"
        ).fetchone()
        assert counts == (0, 0, 1)
        assert migrator.get_repository_uuid() != old_container
        migrator.validate_storage()
        # DELETE, not TRUNCATE: sequences keep counting.
        assert insert_user(migrator.connection) > user


def test_main_0002_drops_calcjob_hashes(profile: Profile) -> None:
    with Migrator(profile) as migrator:
        conn = migrator.connection
        user = insert_user(conn)
        calc = insert_node(conn, user, "process.calculation.calcjob.CalcJobNode.", {"_aiida_hash": "x", "k": 1})
        data = insert_node(conn, user, "data.core.int.Int.", {"_aiida_hash": "y"})
        migrator.migrate_down("main_0001")
        assert migrator.get_schema_version_profile() == "main_0001"
        conn.execute(
            "UPDATE db_dbnode SET extras = extras || '{\"_aiida_hash\": \"x\"}' WHERE id = %s", (calc,)
        )
        migrator.migrate()
        assert migrator.get_schema_version_profile() == "main_0002"
        extras = dict(conn.execute("SELECT id, extras FROM db_dbnode").fetchall())
    assert extras[calc] == {"k": 1}
    assert extras[data] == {"_aiida_hash": "y"}
    with Migrator(profile) as migrator:
        migrator.migrate_down("main_0001")
        with pytest.raises(NotImplementedError):
            migrator.migrate_down("base")


def test_legacy_index_names_validate(profile: Profile) -> None:
    """A database that reached main_0002 from AiiDA 1.x has other index/FK names; fastdos never uses names."""
    with Migrator(profile) as migrator:
        conn = migrator.connection
        rows = conn.execute(
            "SELECT indexname, tablename FROM pg_indexes WHERE schemaname = 'public' AND indexname LIKE 'ix\\_db%'"
        ).fetchall()
        for index, table in rows:
            legacy = index.replace(f"ix_{table}_{table}_", f"ix_{table}_")
            conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(index), sql.Identifier(legacy)))
        conn.execute(
            "ALTER TABLE db_dbgroup RENAME CONSTRAINT fk_db_dbgroup_user_id_db_dbuser TO db_dbgroup_user_id_db_dbuser"
        )
        migrator.validate_storage()
        assert migrator.initialise() is False


def test_unreachable_server(tmp_path: Path) -> None:
    profile = Profile.from_dsn("x", "host=127.0.0.1 port=1 user=postgres password=sentinel-pw dbname=x", tmp_path)
    with Migrator(profile) as migrator, pytest.raises(UnreachableStorage, match="Could not connect") as info:
        migrator.validate_storage()
    assert "sentinel-pw" not in str(info.value)


def test_missing_database(pg_server: PgServer, tmp_path: Path) -> None:
    profile = make_profile(pg_server, "fastdos_does_not_exist", tmp_path)
    with Migrator(profile) as migrator, pytest.raises(UnreachableStorage, match="fastdos_does_not_exist"):
        migrator.validate_storage()


def test_ensure_database(pg_server: PgServer, tmp_path: Path) -> None:
    name = "fastdos_ensure_db_test"
    drop_database(pg_server, name)
    profile = make_profile(pg_server, name, tmp_path)
    try:
        assert ensure_database(profile) is True
        assert ensure_database(profile) is False
        with Migrator(profile) as migrator:
            assert migrator.initialise() is True
    finally:
        drop_database(pg_server, name)


def test_unknown_role(pg_server: PgServer, empty_db: str, tmp_path: Path) -> None:
    params = {**pg_server.params, "user": "fastdos_no_such_role", "password": "sentinel-pw"}
    dsn = psycopg.conninfo.make_conninfo("", **params, dbname=empty_db)
    profile = Profile.from_dsn("x", dsn, tmp_path)
    with Migrator(profile) as migrator, pytest.raises(UnreachableStorage, match="fastdos_no_such_role") as info:
        migrator.validate_storage()
    assert "sentinel-pw" not in str(info.value)
