"""Concurrency: one Backend shared by threads, several processes writing one storage, exclusive maintenance."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import LockedProfileError, LockingProfileError, ValidationError
from fastdos.profile import Profile
from tests.helpers import insert_user
from tests.reliability.helpers import Worker, assert_recovered
from tests.reliability.test_kill import _seed_graph

THREADS = 8
ROUNDS = 15
ROWS = 20


def test_backend_shared_by_eight_threads(backend: Backend, conn: psycopg.Connection) -> None:
    """Each thread inserts and reads in its own transactions; a failing nested block stays in its thread."""
    user = insert_user(conn)
    start = threading.Barrier(THREADS)
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            start.wait(timeout=30)
            mine: list[int] = []
            for round_ in range(ROUNDS):
                label = f"t{thread}"
                with backend.transaction():
                    assert backend.in_transaction
                    ids = backend.bulk_insert(
                        "node",
                        [{"user_id": user, "label": label, "attributes": {"r": round_}}] * ROWS,
                        allow_defaults=True,
                    )
                    # A nested failure rolls back its savepoint only, in this thread's transaction only.
                    with pytest.raises(ValidationError):
                        backend.bulk_insert("node", [{"user_id": user, "label": 5}], allow_defaults=True)
                    seen = backend.query().append("node", filters={"label": label}, project="id").all(flat=True)
                    assert sorted(seen) == sorted(mine + ids)  # own uncommitted rows visible, nobody else's
                mine += ids
                assert not backend.in_transaction
                assert backend.nodes.count({"label": label}) == len(mine)
            results[thread] = mine
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[0]
    every = [pk for ids in results.values() for pk in ids]
    assert len(every) == len(set(every)) == THREADS * ROUNDS * ROWS
    assert conn.execute("SELECT count(*), count(DISTINCT id) FROM db_dbnode").fetchone() == (len(every), len(every))
    assert backend.database.pool.get_stats()["pool_size"] <= 8


def test_four_ingesting_processes_and_one_deleting(profile: Profile, conn: psycopg.Connection) -> None:
    calcs, group = _seed_graph(profile, conn, 40)  # 120 nodes, 80 links, 120 memberships, to be deleted
    user = int(conn.execute("SELECT min(id) FROM db_dbuser").fetchone()[0])  # type: ignore[index]
    count = 40
    ingesters = [Worker("ingest_graph", profile, user_id=user, group=group, tag=f"p{i}", count=count) for i in range(4)]
    deleter = Worker("delete_graph", profile, ids=calcs)
    ingested = [json.loads(w.expect("IDS", timeout=240).split(" ", 1)[1]) for w in ingesters]
    deleted = json.loads(deleter.expect("DELETED", timeout=240).split(" ", 1)[1])
    for worker in [*ingesters, deleter]:
        worker.finish()
    every = [pk for ids in ingested for pk in ids]
    assert len(every) == len(set(every)) == 4 * count * 3, "no duplicate ids across processes"
    assert len(deleted) == len(set(deleted)) == 80  # each calculation and the output it created
    nodes = {int(r[0]) for r in conn.execute("SELECT id FROM db_dbnode")}
    # The 40 seeded inputs stay (deleting a calculation does not delete its inputs); nothing ingested is lost.
    assert nodes >= set(every) and len(nodes) == 4 * count * 3 + 40
    assert not nodes & set(deleted)
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == (4 * count * 2,)
    members = {
        int(r[0]) for r in conn.execute("SELECT dbnode_id FROM db_dbgroup_dbnodes WHERE dbgroup_id = %s", (group,))
    }
    assert members == nodes
    labels = Counter(r[0].split("-")[0] for r in conn.execute("SELECT label FROM db_dbnode WHERE label <> ''"))
    assert labels == {f"p{i}": count * 3 for i in range(4)}
    assert conn.execute("SELECT count(*) = count(DISTINCT uuid) FROM db_dbnode").fetchone() == (True,)


def test_full_maintain_refused_during_an_ingest(profile: Profile, conn: psycopg.Connection) -> None:
    user = insert_user(conn)
    worker = Worker("hold", profile, user_id=user, label="ingest")
    worker.expect("READY")
    with Backend(profile) as backend:
        with pytest.raises(LockingProfileError, match=f"process {worker.pid}") as info:
            backend.maintain(full=True)
        assert "exclusive use" in str(info.value)
        backend.maintain()  # live maintenance is fine beside an ingest
        worker.kill()
        # The killed client's advisory lock goes with its session: the next full run is not blocked.
        backend.maintain(full=True)
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone() == (0,)


def test_second_full_maintain_is_refused(profile: Profile, conn: psycopg.Connection) -> None:
    user = insert_user(conn)
    with Backend(profile) as backend:
        backend.bulk_insert("node", [{"user_id": user}], allow_defaults=True)
        key = backend.get_repository().put_object_from_filelike(__import__("io").BytesIO(b"orphan"))
    worker = Worker("maintain", profile, stop_at=1)  # holds the exclusive lock, waiting in its callback
    worker.expect("READY")
    with pytest.raises(LockedProfileError, match=f"process {worker.pid}") as info:
        Backend(profile)
    assert "locked" in str(info.value) and "exclusive" in str(info.value)
    worker.kill()
    assert_recovered(profile)
    with Backend(profile) as backend:
        assert not backend.get_repository().has_object(key)


def test_two_backends_in_one_process(profile: Profile) -> None:
    """The exclusive lock is per backend: a second backend of the same process also refuses it."""
    with Backend(profile) as first, Backend(profile) as second:
        with pytest.raises(LockingProfileError, match=f"process {os.getpid()}"):
            first.maintain(full=True)
        second.close()
        first.maintain(full=True)
    assert Path(profile.repository_path).is_dir()
