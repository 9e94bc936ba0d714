"""Unreferenced objects (computed in SQL), maintain, and the profile locks between real processes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import LockedProfileError, LockingProfileError
from fastdos.locking import ACCESS_FOLDER, ProfileAccess, maintenance_lock, read_records
from fastdos.maintenance import MISSING_OBJECTS_MESSAGE
from fastdos.profile import Profile
from fastdos.repository import build_tree
from tests.helpers import insert_node, insert_user


def put(backend: Backend, content: bytes) -> str:
    return backend.get_repository().put_object_from_filelike(io.BytesIO(content))


@pytest.fixture
def seeded(backend: Backend, conn: psycopg.Connection) -> dict[str, str]:
    """Nodes with nested trees, empty trees and shared keys; two objects referenced by nobody."""
    keys = {name: put(backend, name.encode()) for name in ("a", "b", "c", "d", "orphan1", "orphan2")}
    (packed,) = backend.get_repository().put_objects_to_pack([io.BytesIO(b"packed")])
    keys["packed"] = packed
    user = insert_user(conn)
    insert_node(conn, user, repository_metadata=build_tree({"x/y/z/deep.txt": keys["a"], "top": keys["b"]}))
    insert_node(conn, user, repository_metadata=build_tree({"same_as_top": keys["b"], "empty_dir": None}))
    insert_node(conn, user, repository_metadata={})
    insert_node(conn, user, repository_metadata={"o": {}})
    insert_node(conn, user, repository_metadata=build_tree({"c": keys["c"], "k": keys["d"], "o/k": keys["packed"]}))
    return keys


def test_unreferenced_keyset(backend: Backend, seeded: dict[str, str]) -> None:
    assert backend.get_unreferenced_keyset() == {seeded["orphan1"], seeded["orphan2"]}


def test_unreferenced_keyset_empty_storage(backend: Backend) -> None:
    assert backend.get_unreferenced_keyset() == set()
    key = put(backend, b"lonely")
    assert backend.get_unreferenced_keyset() == {key}


def test_missing_object_aborts(backend: Backend, conn: psycopg.Connection, seeded: dict[str, str]) -> None:
    ghost = "f" * 64
    insert_node(conn, insert_user(conn, "ghost@example.org"), repository_metadata=build_tree({"g": ghost}))
    with pytest.raises(RuntimeError) as info:
        backend.get_unreferenced_keyset()
    assert str(info.value) == MISSING_OBJECTS_MESSAGE
    assert backend.get_unreferenced_keyset(check_consistency=False) == {seeded["orphan1"], seeded["orphan2"]}
    with pytest.raises(RuntimeError, match="not present in the repository"):
        backend.maintain()
    assert backend.get_repository().has_object(seeded["orphan1"])  # nothing deleted


def test_keyset_twice_inside_one_transaction(backend: Backend, seeded: dict[str, str]) -> None:
    with backend.transaction():
        first = backend.get_unreferenced_keyset()
        second = backend.get_unreferenced_keyset()
    assert first == second == {seeded["orphan1"], seeded["orphan2"]}


def test_maintain_dry_run_changes_nothing(backend: Backend, seeded: dict[str, str]) -> None:
    repo = backend.get_repository()
    before = repo.container.count_objects()
    report = backend.maintain(dry_run=True)
    assert report.dry_run and report.unreferenced == 2 and report.deleted == 0
    assert report.report()[0] == "Deleting 2 unreferenced objects ..."
    assert report.report()[1].startswith("Packing all loose files (6 files")
    assert repo.container.count_objects() == before
    assert repo.has_objects([seeded["orphan1"], seeded["orphan2"]]) == [True, True]
    full = backend.maintain(full=True, dry_run=True)
    assert full.report()[-1] == "Running VACUUM (ANALYZE) on 10 tables ..." and full.vacuumed_tables == ()
    assert repo.container.count_objects() == before


def test_maintain_live_deletes_unreferenced_and_packs(backend: Backend, seeded: dict[str, str]) -> None:
    repo = backend.get_repository()
    report = backend.maintain()
    assert report.deleted == 2 and not report.full
    assert report.repository is not None and not report.repository.do_repack
    assert repo.has_objects([seeded["orphan1"], seeded["orphan2"]]) == [False, False]
    referenced = [seeded[name] for name in ("a", "b", "c", "d", "packed")]
    assert repo.has_objects(referenced) == [True] * 5
    assert repo.container.count_objects().loose == 0
    assert backend.get_unreferenced_keyset() == set()


def test_maintain_live_refuses_unsafe_overrides_first(backend: Backend, seeded: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="cannot be if `live=True`: do_repack"):
        backend.maintain(do_repack=True)
    assert backend.get_repository().has_object(seeded["orphan1"])
    with pytest.raises(TypeError, match="unexpected options"):
        backend.maintain(repack=True)


def test_maintain_inside_a_transaction_is_refused(backend: Backend) -> None:
    with backend.transaction(), pytest.raises(RuntimeError, match="inside a transaction"):
        backend.maintain()


def vacuum_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'db_dbnode'").fetchone()
    assert row is not None
    return int(row[0])


def test_maintain_full_repacks_and_vacuums(backend: Backend, conn: psycopg.Connection, seeded: dict[str, str]) -> None:
    before = vacuum_count(conn)
    report = backend.maintain(full=True)
    assert report.full and report.deleted == 2
    assert report.repository is not None and report.repository.do_repack and report.repository.do_vacuum
    assert "db_dbnode" in report.vacuumed_tables
    deadline = time.monotonic() + 10  # statistics reach other sessions with a short delay
    while vacuum_count(conn) == before and time.monotonic() < deadline:
        time.sleep(0.2)
        conn.execute("SELECT pg_stat_clear_snapshot()")
    assert vacuum_count(conn) > before
    assert backend.get_repository().get_object_content(seeded["a"]) == b"a"


# --- locks between processes ----------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    from fastdos.locking import ProfileAccess
    from fastdos.profile import Profile
    profile = Profile.from_dsn("other", sys.argv[1], sys.argv[2])
    access = ProfileAccess(profile)
    if sys.argv[3] == "shared":
        access.acquire_shared()
        print("ready", flush=True)
        sys.stdin.readline()
    else:
        with access.exclusive():
            print("ready", flush=True)
            sys.stdin.readline()
    """
)


@pytest.fixture
def holder(profile: Profile) -> Iterator[object]:
    processes: list[subprocess.Popen[str]] = []

    def start(mode: str) -> subprocess.Popen[str]:
        dsn = profile.conninfo()
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, dsn, str(profile.repository_path), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        return proc

    yield start
    for proc in processes:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait(timeout=30)


def test_full_maintain_refused_while_another_process_uses_the_profile(
    backend: Backend, holder: object, seeded: dict[str, str]
) -> None:
    proc = holder("shared")  # type: ignore[operator]
    with pytest.raises(LockingProfileError) as info:
        backend.maintain(full=True)
    assert f"process {proc.pid}" in str(info.value)
    assert backend.get_repository().has_object(seeded["orphan1"])  # nothing done
    backend.maintain(full=True, dry_run=True)  # a dry run needs no lock
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=30)
    assert backend.maintain(full=True).deleted == 2


def test_opening_is_refused_while_another_process_holds_the_exclusive_lock(profile: Profile, holder: object) -> None:
    proc = holder("exclusive")  # type: ignore[operator]
    access = ProfileAccess(profile)
    with pytest.raises(LockedProfileError) as info:
        access.acquire_shared()
    assert f"process {proc.pid}" in str(info.value) and "exclusive" in str(info.value)
    with pytest.raises(LockingProfileError, match=f"process {proc.pid}"), access.exclusive():
        pass


def test_shared_access_upgrades_in_place_but_not_over_a_second_holder(profile: Profile) -> None:
    first = ProfileAccess(profile).acquire_shared()
    with first.exclusive():
        records = read_records(profile.repository_path / ACCESS_FOLDER)
        assert sorted(r.mode for r in records) == ["exclusive", "shared"]
    second = ProfileAccess(profile).acquire_shared()  # the upgrade was released, shared access is fine
    with pytest.raises(LockingProfileError, match=f"process {os.getpid()}"), first.exclusive():
        pass
    second.release()
    first.release()
    assert read_records(profile.repository_path / ACCESS_FOLDER) == []


def test_stale_records_of_dead_processes_are_cleared(profile: Profile) -> None:
    folder = profile.repository_path / ACCESS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    for suffix in ("pid", "lock"):
        (folder / f"{dead.pid}-dead.{suffix}").write_text(
            json.dumps({"pid": dead.pid, "host": socket.gethostname(), "start": 1, "mode": suffix})
        )
    with ProfileAccess(profile).exclusive():
        pass
    assert not list(folder.glob(f"{dead.pid}-*"))


def test_maintenance_lock_is_exclusive(profile: Profile) -> None:
    with maintenance_lock(profile):
        code = (
            "import sys\nfrom fastdos.profile import Profile\nfrom fastdos.locking import maintenance_lock\n"
            "p = Profile.from_dsn('x', sys.argv[1], sys.argv[2])\n"
            "try:\n    with maintenance_lock(p): print('got it')\nexcept Exception as e: print(type(e).__name__, e)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, profile.conninfo(), str(profile.repository_path)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert out.startswith("LockedProfileError") and f"process {os.getpid()}" in out
