"""The repository adapter: writes (loose and straight into packs), reads, deletion, maintenance, info, trees."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import CorruptStorage, UnreachableStorage
from fastdos.migrator import CONTAINER_DEFAULTS
from fastdos.profile import Profile
from fastdos.repository import Repository, build_tree, iter_keys, resolve_maintain_options
from tests.conftest import PgServer, make_profile


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    repository = Repository(tmp_path / "container")
    repository.initialise(**CONTAINER_DEFAULTS)
    yield repository
    repository.close()


# --- writing and reading --------------------------------------------------------------------------------


def test_put_and_read_back(repo: Repository, tmp_path: Path) -> None:
    key = repo.put_object_from_filelike(io.BytesIO(b"hello"))
    assert key == sha(b"hello")
    path = tmp_path / "f.bin"
    path.write_bytes(b"from a file")
    assert repo.put_object_from_file(path) == sha(b"from a file")
    assert repo.get_object_content(key) == b"hello"
    with repo.open(key) as handle:
        assert handle.read() == b"hello"
    assert repo.has_objects([key, sha(b"nope")]) == [True, False]
    assert repo.has_object(key) and not repo.has_object(sha(b"nope"))
    assert repo.get_object_hash(key) == key
    assert sorted(repo.list_objects()) == sorted([key, sha(b"from a file")])
    assert repo.key_format == "sha256" and repo.uuid is not None


def test_non_binary_streams_are_refused(repo: Repository, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="byte stream"):
        repo.put_object_from_filelike(io.StringIO("text"))  # type: ignore[arg-type]
    path = tmp_path / "t.txt"
    path.write_text("text")
    with open(path, encoding="utf-8") as text_handle, pytest.raises(TypeError, match="byte stream"):
        repo.put_object_from_filelike(text_handle)  # type: ignore[arg-type]
    # straight into packs: one bad stream among good ones -> nothing written at all
    with pytest.raises(TypeError, match="stream 1"):
        repo.put_objects_to_pack([io.BytesIO(b"a"), io.StringIO("b"), io.BytesIO(b"c")])  # type: ignore[list-item]
    assert list(repo.list_objects()) == []


def test_missing_keys(repo: Repository) -> None:
    present = repo.put_object_from_filelike(io.BytesIO(b"present"))
    missing_a, missing_b = sha(b"a"), sha(b"b")
    with pytest.raises(FileNotFoundError, match=missing_a), repo.open(missing_a):
        pass
    with pytest.raises(FileNotFoundError):
        repo.get_object_content(missing_a)
    with pytest.raises(FileNotFoundError) as info:
        repo.delete_objects([present, missing_a, missing_b])
    assert missing_a in str(info.value) and missing_b in str(info.value)
    assert repo.has_object(present)  # nothing was deleted
    with pytest.raises(FileNotFoundError, match=missing_b):
        list(repo.iter_object_streams([present, missing_b]))


def test_put_objects_to_pack(repo: Repository) -> None:
    contents = [f"object {i}".encode() for i in range(50)] + [b"object 3"]  # one duplicate
    keys = repo.put_objects_to_pack([io.BytesIO(c) for c in contents])
    assert keys == [sha(c) for c in contents]  # input order
    counts = repo.container.count_objects()
    assert counts.loose == 0 and counts.packed == 50 and counts.pack_files == 1
    streamed = {key: stream.read() for key, stream in repo.iter_object_streams(keys[:10])}
    assert streamed == {sha(c): c for c in contents[:10]}
    assert repo.put_objects_to_pack([]) == []


def test_delete_objects(repo: Repository) -> None:
    loose = repo.put_object_from_filelike(io.BytesIO(b"loose"))
    (packed,) = repo.put_objects_to_pack([io.BytesIO(b"packed")])
    repo.delete_objects([loose, packed])
    assert repo.has_objects([loose, packed]) == [False, False]
    repo.put_object_from_filelike(io.BytesIO(b"again"))
    repo.delete_object(sha(b"again"))
    assert list(repo.list_objects()) == []


# --- maintenance ----------------------------------------------------------------------------------------


def test_maintain_defaults_and_live_overrides() -> None:
    assert resolve_maintain_options(live=True) == {
        "pack_loose": True,
        "do_repack": False,
        "clean_storage": True,
        "do_vacuum": False,
    }
    assert resolve_maintain_options(live=False) == {
        "pack_loose": True,
        "do_repack": True,
        "clean_storage": True,
        "do_vacuum": True,
    }
    assert resolve_maintain_options(live=False, do_repack=False)["do_repack"] is False
    assert resolve_maintain_options(live=True, clean_storage=False)["clean_storage"] is False
    with pytest.raises(ValueError) as info:
        resolve_maintain_options(live=True, do_repack=True, do_vacuum=True)
    assert str(info.value) == "The following overrides were enabled but cannot be if `live=True`: do_repack, do_vacuum"


def test_maintain_live_refuses_overrides_before_doing_anything(repo: Repository) -> None:
    repo.put_object_from_filelike(io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="clean_storage"):
        repo.maintain(live=True, clean_storage=True)
    assert repo.container.count_objects().loose == 1


def test_maintain_dry_run_changes_nothing(repo: Repository) -> None:
    for i in range(5):
        repo.put_object_from_filelike(io.BytesIO(f"{i}".encode()))
    report = repo.maintain(dry_run=True, live=False)
    assert report.lines[0].startswith("Packing all loose files (5 files occupying")
    assert report.lines[1].startswith("Re-packing all pack files (0 files in packs")
    assert report.lines[2] == "Cleaning the repository database (with `vacuum=True`) ..."
    counts = repo.container.count_objects()
    assert counts.loose == 5 and counts.packed == 0


def test_maintain_live_then_full(repo: Repository) -> None:
    keys = [repo.put_object_from_filelike(io.BytesIO(f"{i}".encode() * 100)) for i in range(20)]
    events: list[str] = []
    report = repo.maintain(live=True, callback=lambda action, value: events.append(action))
    assert not report.do_repack and report.clean_storage and len(report.lines) == 2
    assert "init" in events
    counts = repo.container.count_objects()
    assert counts.loose == 0 and counts.packed == 20
    repo.delete_objects(keys[:10])  # soft delete in the pack: space comes back with a repack
    before = repo.container.get_total_size().total_size_packfiles_on_disk
    report = repo.maintain(live=False, compress=True)
    assert report.do_repack and report.do_vacuum
    assert repo.container.get_total_size().total_size_packfiles_on_disk < before
    assert [repo.get_object_content(k) for k in keys[10:]] == [f"{i}".encode() * 100 for i in range(10, 20)]


def test_get_info_shape(repo: Repository) -> None:
    repo.put_object_from_filelike(io.BytesIO(b"x" * 2048))
    info = repo.get_info()
    assert info == {
        "SHA-hash algorithm": "sha256",
        "Compression algorithm": "zlib+1",
        "Objects": {"packed": 0, "loose": 1, "pack_files": 0},
    }
    detailed = repo.get_info(detailed=True)["Size (MB)"]
    assert list(detailed) == [
        "total_size_packed",
        "total_size_packed_on_disk",
        "total_size_packfiles_on_disk",
        "total_size_packindexes_on_disk",
        "total_size_loose",
    ]
    assert all(isinstance(v, float) for v in detailed.values())


# --- repository_metadata trees --------------------------------------------------------------------------


def test_build_tree_nested_and_empty() -> None:
    a, b, c = sha(b"a"), sha(b"b"), sha(b"c")
    tree = build_tree({"top.txt": a, "x/y/z.txt": b, "x/y2.txt": a, "empty": None, "x/also_empty/": None, "w": c})
    assert tree == {
        "o": {
            "top.txt": {"k": a},
            "x": {"o": {"y": {"o": {"z.txt": {"k": b}}}, "y2.txt": {"k": a}, "also_empty": {}}},
            "empty": {},
            "w": {"k": c},
        }
    }
    assert sorted(iter_keys(tree)) == sorted([a, b, a, c])  # shared keys come once per file
    assert build_tree({}) == {}
    assert list(iter_keys({})) == []
    assert list(iter_keys({"o": {"d": {}}})) == []


@pytest.mark.parametrize(
    "files",
    [
        {"/abs": sha(b"a")},
        {"a/../b": sha(b"a")},
        {"": sha(b"a")},
        {"a//b": sha(b"a")},
        {"a": sha(b"a"), "a/b": sha(b"b")},  # a file used as a directory
        {"a/b": sha(b"b"), "a": sha(b"a")},  # a directory replaced by a file
        {"a": sha(b"a"), "a/": None},  # both a file and a directory
    ],
)
def test_build_tree_refuses_bad_paths(files: dict[str, str | None]) -> None:
    with pytest.raises(ValueError):
        build_tree(files)


def test_build_tree_refuses_non_string_keys() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        build_tree({"a": 1})  # type: ignore[dict-item]


# --- the container seen from a profile ------------------------------------------------------------------


def test_container_at_the_wrong_path(profile: Profile, tmp_path: Path) -> None:
    wrong = Repository(tmp_path / "elsewhere" / "container")
    assert not wrong.is_initialised and wrong.uuid is None and wrong.key_format is None
    bad = Profile(profile.name, {**profile.storage_config, "repository_uri": (tmp_path / "elsewhere").as_uri()})
    with pytest.raises(UnreachableStorage, match="disk-objectstore"):
        Backend(bad)


def test_uuid_mismatch_with_another_profiles_container(
    pg_server: PgServer, profile: Profile, db_name: str, tmp_path: Path
) -> None:
    other = Repository(tmp_path / "other" / "container")
    other.initialise(**CONTAINER_DEFAULTS)
    other.close()
    crossed = make_profile(pg_server, db_name, tmp_path / "other")
    with pytest.raises(CorruptStorage, match="repository UUID"):
        Backend(crossed)
    with psycopg.connect(profile.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT val FROM db_dbsetting WHERE key = 'repository|uuid'").fetchone()
    assert (
        row is not None
        and row[0] != json.loads((tmp_path / "other" / "container" / "config.json").read_text())["container_id"]
    )


def test_direct_reads_follow_packing_compression_and_repacks(repo: Repository) -> None:
    data = {f"obj {i}".encode() * (1 + i * 40): None for i in range(30)}
    keys = [repo.put_object_from_filelike(io.BytesIO(c)) for c in data]
    assert [repo.get_object_content(k) for k in keys] == list(data)  # loose
    repo.container.pack_all_loose(compress=True)  # packed and compressed, loose copies still there
    repo.container.clean_storage()
    assert repo.container.count_objects().loose == 0
    assert [repo.get_object_content(k) for k in keys] == list(data)
    repo.container.delete_objects(keys[:15])
    repo.container.repack()  # rewrites pack 0 behind the reader's open file: the reader must notice
    assert [repo.get_object_content(k) for k in keys[15:]] == list(data)[15:]
    for key in keys[:15]:
        with pytest.raises(FileNotFoundError, match=key):
            repo.get_object_content(key)
    repo.close()
    assert repo.get_object_content(keys[-1]) == list(data)[-1]  # reopens lazily


def test_has_objects_loose_packed_and_moved(repo: Repository) -> None:
    loose = repo.put_object_from_filelike(io.BytesIO(b"loose one"))
    (packed,) = repo.put_objects_to_pack([io.BytesIO(b"packed one")])
    absent = sha(b"absent")
    # "" and a folder-like key name no object: the loose lookup wants a file
    assert repo.has_objects([loose, packed, absent, "", loose[:2]]) == [True, True, False, False, False]
    repo.container.pack_all_loose(clean_loose_per_pack=True)  # the loose object moves into a pack
    assert repo.has_objects([loose, packed, absent]) == [True, True, False]
    assert repo.has_objects([]) == []
