"""The container's keys read from its folder, and the referenced keys extracted in PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest

from fastdos import container_keys, db
from fastdos.backend import Backend
from fastdos.migrator import CONTAINER_DEFAULTS
from fastdos.repository import Repository, build_tree
from tests.helpers import insert_node, insert_user


def test_list_keys_equals_disk_objectstore(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "c")
    repo.initialise(**CONTAINER_DEFAULTS)
    try:
        loose = [repo.put_object_from_filelike(io.BytesIO(f"loose {i}".encode())) for i in range(5)]
        packed = repo.put_objects_to_pack([io.BytesIO(f"packed {i}".encode()) for i in range(7)])
        both = repo.put_object_from_filelike(io.BytesIO(b"packed 0"))  # loose copy of a packed object
        assert both == packed[0]
        # Foreign names in the loose folder are not keys (disk-objectstore skips them too).
        (repo.path / "loose" / "zz").mkdir()
        (repo.path / "loose" / "zz" / "abc").write_bytes(b"")
        (repo.path / "loose" / loose[0][:2] / "not-hex").write_bytes(b"")
        keys = container_keys.list_keys(repo)
        assert keys == set(repo.list_objects()) == set(loose) | set(packed)
        repo.delete_objects([packed[1], loose[1]])
        assert container_keys.list_keys(repo) == set(repo.list_objects()) == (set(loose) | set(packed)) - {
            packed[1],
            loose[1],
        }
    finally:
        repo.close()


def test_list_keys_of_flat_loose_folder(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "flat")
    repo.initialise(**{**CONTAINER_DEFAULTS, "loose_prefix_len": 0})
    try:
        keys = {repo.put_object_from_filelike(io.BytesIO(f"o {i}".encode())) for i in range(3)}
        (repo.path / "loose" / "README").write_bytes(b"")
        assert container_keys.list_keys(repo) == set(repo.list_objects()) == keys
    finally:
        repo.close()


def test_list_keys_of_uninitialised_container(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError):  # what disk-objectstore raises
        container_keys.list_keys(repo)


def test_referenced_keys_and_jit_restored(backend: Backend, conn: psycopg.Connection) -> None:
    user = insert_user(conn)
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    insert_node(conn, user, repository_metadata=build_tree({"x/y/k": a, "k": b, "empty": None}))
    insert_node(conn, user, repository_metadata=build_tree({"same": a}))
    insert_node(conn, user, repository_metadata={"o": {"bad": {"k": 7}}})  # not a string: not a key
    insert_node(conn, user, repository_metadata={})
    insert_node(conn, user, repository_metadata=build_tree({"c.txt": c}))
    once_per_reference = [a, a, b, c]  # (a is in two trees)
    with db.connect(backend.profile.conninfo()) as direct, direct.transaction():
        direct.execute("SET LOCAL jit = on")
        assert sorted(container_keys.referenced_keys(direct)) == once_per_reference
        assert direct.execute("SHOW jit").fetchone() == ("on",)  # the caller's transaction keeps its setting
    # Keys that a space-joined transfer could not split back (and an empty one): the row-per-key fallback.
    odd = {"with space", " lead", "", "trail "}
    insert_node(conn, user, repository_metadata={"o": {f"f{i}": {"k": key} for i, key in enumerate(sorted(odd))}})
    with db.connect(backend.profile.conninfo()) as direct, direct.transaction():
        direct.execute("SET LOCAL jit = on")
        assert sorted(container_keys.referenced_keys(direct)) == sorted(once_per_reference + list(odd))
        assert direct.execute("SHOW jit").fetchone() == ("on",)  # the caller's transaction keeps its setting


def test_referenced_keys_of_an_empty_storage(backend: Backend) -> None:
    with db.connect(backend.profile.conninfo()) as direct, direct.transaction():
        assert container_keys.referenced_keys(direct) == []


def test_differences_with_and_without_check(backend: Backend, conn: psycopg.Connection) -> None:
    repo = backend.get_repository()
    kept = repo.put_object_from_filelike(io.BytesIO(b"kept"))
    (orphan,) = repo.put_objects_to_pack([io.BytesIO(b"orphan")])
    ghost = "f" * 64
    insert_node(conn, insert_user(conn), repository_metadata=build_tree({"a": kept, "g": ghost}))
    with db.connect(backend.profile.conninfo()) as direct, direct.transaction():
        assert container_keys.differences(direct, repo, check=True) == ({orphan}, [ghost])
        assert container_keys.differences(direct, repo, check=False) == ({orphan}, [])
