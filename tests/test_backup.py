"""Backup and restore: a round trip into a new profile, incremental hard links, refusals, interruption."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

import fastdos.backup as backup_module
from fastdos.backend import Backend
from fastdos.backup import find_pg_tool, restore
from fastdos.errors import StorageBackupError
from fastdos.profile import Profile
from fastdos.repository import build_tree, iter_keys
from tests.conftest import PgServer, make_profile
from tests.helpers import insert_node, insert_user

COPIERS = [pytest.param(False, id="python-copy")]
if shutil.which("rsync"):
    COPIERS.append(pytest.param(True, id="rsync"))


def seed(backend: Backend, conn: psycopg.Connection, n: int = 20) -> None:
    """Nodes with files (loose and packed), a chain of links, and one node without files."""
    repo = backend.get_repository()
    user = insert_user(conn)
    ids = []
    packed = repo.put_objects_to_pack([io.BytesIO(f"packed {i}".encode()) for i in range(n)])
    for i in range(n):
        loose = repo.put_object_from_filelike(io.BytesIO(f"loose {i}".encode() * 50))
        tree = build_tree({f"dir/{i}.txt": loose, "shared/p.bin": packed[i], "empty": None})
        ids.append(insert_node(conn, user, repository_metadata=tree))
    ids.append(insert_node(conn, user, repository_metadata={}))
    for source, target in itertools.pairwise(ids):
        conn.execute(
            "INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (%s, %s, 'x', 'create')",
            (source, target),
        )


def snapshot(profile: Profile) -> dict[str, Any]:
    """Everything a user would look for again: nodes (by uuid), links (by uuids), file contents."""
    with psycopg.connect(profile.conninfo(), autocommit=True) as conn:
        nodes = {
            str(u): (t, md)
            for u, t, md in conn.execute("SELECT uuid, node_type, repository_metadata FROM db_dbnode").fetchall()
        }
        links = sorted(
            (str(a), str(b), label, kind)
            for a, b, label, kind in conn.execute(
                "SELECT i.uuid, o.uuid, l.label, l.type FROM db_dblink l"
                " JOIN db_dbnode i ON i.id = l.input_id JOIN db_dbnode o ON o.id = l.output_id"
            ).fetchall()
        )
        users = sorted(r[0] for r in conn.execute("SELECT email FROM db_dbuser").fetchall())
    with Backend(profile) as backend:
        repo = backend.get_repository()
        keys = {key for _, md in nodes.values() for key in iter_keys(md)}
        files = {key: repo.get_object_content(key) for key in keys}
    return {"nodes": nodes, "links": links, "users": users, "files": files}


@pytest.fixture
def seeded(backend: Backend, conn: psycopg.Connection) -> Backend:
    seed(backend, conn)
    return backend


@pytest.fixture
def new_profile(pg_server: PgServer, empty_db: str, tmp_path: Path) -> Profile:
    return make_profile(pg_server, empty_db, tmp_path / "restored", name="restored")


@pytest.mark.parametrize("use_rsync", COPIERS)
def test_backup_restore_round_trip(
    seeded: Backend, profile: Profile, new_profile: Profile, tmp_path: Path, use_rsync: bool
) -> None:
    dest = tmp_path / "backups"
    report = seeded.backup(dest, rsync=use_rsync)
    assert report.previous is None and report.path.parent == dest
    assert report.path.name.startswith("backup_") and (dest / "last-backup").resolve() == report.path
    assert (report.path / "db.psql").is_file() and (report.path / "container" / "packs.idx").is_file()
    config = json.loads((dest / "config.json").read_text())
    assert list(config["profiles"]) == [profile.name]
    assert "database_password" not in config["profiles"][profile.name]["storage"]["config"]
    assert not (dest / "live-backup").exists()

    restored = restore(dest, new_profile)
    assert restored.nodes == 21 and restored.source == report.path
    assert snapshot(new_profile) == snapshot(profile)
    with Backend(new_profile) as backend:
        assert backend.get_unreferenced_keyset() == set()


@pytest.mark.parametrize("use_rsync", COPIERS)
def test_incremental_backups_hard_link_and_keep(
    seeded: Backend, conn: psycopg.Connection, tmp_path: Path, use_rsync: bool
) -> None:
    dest = tmp_path / "backups"
    first = seeded.backup(dest, rsync=use_rsync)
    key = seeded.get_repository().put_object_from_filelike(io.BytesIO(b"new in the second backup"))
    insert_node(conn, insert_user(conn, "second@example.org"), repository_metadata=build_tree({"n": key}))
    second = seeded.backup(dest, rsync=use_rsync)
    assert second.previous == first.path and (dest / "last-backup").resolve() == second.path
    old_pack = first.path / "container" / "packs" / "0"
    new_pack = second.path / "container" / "packs" / "0"
    old_config = first.path / "container" / "config.json"
    assert old_config.stat().st_ino == (second.path / "container" / "config.json").stat().st_ino  # hard link
    assert new_pack.exists() and old_pack.exists()
    if not use_rsync:
        assert second.stats is not None and second.stats.linked >= 1
    third = seeded.backup(dest, keep=1, rsync=use_rsync)
    assert [p.name for p in backup_module.backup_folders(dest)] == [second.path.name, third.path.name]
    assert third.deleted == [first.path]
    fourth = seeded.backup(dest, keep=0, rsync=use_rsync)
    assert backup_module.backup_folders(dest) == [fourth.path]


def test_backup_into_a_foreign_folder_is_refused(seeded: Backend, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(StorageBackupError, match="not empty"):
        seeded.backup(foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]

    other = tmp_path / "other_profile"
    other.mkdir()
    (other / "config.json").write_text(
        json.dumps({"profiles": {"someone": {"PROFILE_UUID": "0" * 32}}, "fastdos": {"repository_uuid": "1" * 32}})
    )
    with pytest.raises(StorageBackupError, match="another storage"):
        seeded.backup(other)
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(StorageBackupError, match="not a folder"):
        seeded.backup(tmp_path / "a_file")
    with pytest.raises(StorageBackupError, match="remote"):
        seeded.backup("host:/backups")
    with pytest.raises(ValueError, match="keep"):
        seeded.backup(tmp_path / "fine", keep=-1)


def test_interrupted_backup_leaves_the_previous_one_valid(
    seeded: Backend, profile: Profile, new_profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "backups"
    first = seeded.backup(dest, rsync=False)
    expected = snapshot(profile)
    seeded.get_repository().put_object_from_filelike(io.BytesIO(b"written after the first backup"))

    real_copy = backup_module._copy_file
    calls = {"n": 0}

    def failing_copy(*args: Any) -> None:  # the disk fills up (or the process dies) halfway through the copy
        calls["n"] += 1
        if calls["n"] > 1:  # the pack file is copied, then the copy fails
            raise OSError(28, "No space left on device")
        real_copy(*args)

    monkeypatch.setattr(backup_module, "_copy_file", failing_copy)
    with pytest.raises(StorageBackupError, match="No space left") as info:
        seeded.backup(dest, keep=0, rsync=False)
    assert "previous backup" in str(info.value)
    monkeypatch.undo()
    assert backup_module.backup_folders(dest) == [first.path]
    assert (dest / "last-backup").resolve() == first.path
    assert not (dest / "live-backup").exists()
    restore(dest, new_profile)
    assert snapshot(new_profile) == expected


def test_stale_live_folder_is_replaced(seeded: Backend, tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    seeded.backup(dest)
    (dest / "live-backup" / "container").mkdir(parents=True)
    (dest / "live-backup" / "half").write_text("from a crashed run")
    report = seeded.backup(dest)
    assert not (dest / "live-backup").exists() and not (report.path / "half").exists()


def test_restore_refuses_a_non_empty_profile(
    seeded: Backend, profile: Profile, new_profile: Profile, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    seeded.backup(dest)
    with pytest.raises(StorageBackupError, match="repository folder .* is not empty"):
        restore(dest, profile)  # the source profile itself: database and repository in use
    same_database = Profile("same_db", {**profile.storage_config, "repository_uri": (tmp_path / "fresh").as_uri()})
    with pytest.raises(StorageBackupError, match="database .* is not empty"):
        restore(dest, same_database)
    assert not (tmp_path / "fresh" / "container").exists()
    new_profile.repository_path.mkdir(parents=True)
    (new_profile.repository_path / "stray.txt").write_text("x")
    with pytest.raises(StorageBackupError, match="repository folder .* is not empty"):
        restore(dest, new_profile)
    (new_profile.repository_path / "stray.txt").unlink()
    with pytest.raises(StorageBackupError, match="is not a backup"):
        restore(tmp_path / "nothing_here", new_profile)
    restore(dest, new_profile)  # now it is empty: works
    with pytest.raises(StorageBackupError, match="not empty"):
        restore(dest, new_profile)  # and a second restore into it is refused


def test_failed_database_load_leaves_the_profile_empty(seeded: Backend, new_profile: Profile, tmp_path: Path) -> None:
    dest = tmp_path / "backups"
    report = seeded.backup(dest)
    dump = report.path / "db.psql"
    dump.write_text(dump.read_text() + "\nTHIS IS NOT SQL;\n")
    with pytest.raises(StorageBackupError, match="psql"):
        restore(report.path, new_profile)
    with psycopg.connect(new_profile.conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        ).fetchone()
    assert row is not None and row[0] == 0
    assert not new_profile.container_path.exists()


def test_pg_tool_selection() -> None:
    tool = find_pg_tool("pg_dump", 10)
    assert tool.name == "pg_dump" and os.access(tool, os.X_OK)
    with pytest.raises(StorageBackupError, match="PostgreSQL 99 or newer"):
        find_pg_tool("pg_dump", 99)
