"""A process killed with SIGKILL in the middle of an operation: all or nothing, no stale lock, orphans reclaimed.

The kill points are deterministic: the worker either stops inside its own transaction (a generator of
``bulk_insert_iter`` or a progress callback that waits) or its statement waits for a row lock that this test
holds (checked in ``pg_stat_activity``), so the kill lands while the statement is half done.
"""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.backup import LAST_LINK, LIVE_FOLDER, last_backup
from fastdos.profile import Profile
from tests.helpers import insert_user
from tests.reliability.helpers import Worker, assert_recovered, backend_waits_on_lock, sessions_of, wait_until


def _dbname(profile: Profile) -> str:
    return str(profile.storage_config["database_name"])


def _count(conn: psycopg.Connection, query: str, *params: object) -> int:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def _gone(conn: psycopg.Connection, profile: Profile) -> None:
    """The killed client's sessions end (the server notices the closed sockets); nothing hangs."""
    wait_until(lambda: sessions_of(conn, _dbname(profile)) == 0, timeout=30, what="the killed client's sessions")


def test_kill_during_streamed_insert(profile: Profile, conn: psycopg.Connection) -> None:
    user = insert_user(conn)
    worker = Worker("insert_iter", profile, user_id=user, n=40_000, label="killed", stop_after=25_000)
    keys = json.loads(worker.expect("OBJECTS").split(" ", 1)[1])
    worker.expect("READY")  # 25 batches COPY'd inside the worker's open transaction
    worker.kill()
    _gone(conn, profile)
    assert _count(conn, "SELECT count(*) FROM db_dbnode") == 0
    with Backend(profile) as backend:
        repository = backend.get_repository()
        assert all(repository.has_objects(keys)), "objects written before the kill are still there"
        report = backend.maintain()
        assert report.deleted == len(keys)
        assert not any(repository.has_objects(keys)), "maintain reclaims the orphaned objects"
    assert_recovered(profile)


def test_kill_during_large_bulk_insert_copy(profile: Profile, conn: psycopg.Connection) -> None:
    user = insert_user(conn)
    blocking = uuid.uuid4()
    with psycopg.connect(profile.conninfo()) as blocker:  # not autocommit: holds its transaction open
        blocker.execute(
            "INSERT INTO db_dbnode (uuid, node_type, label, description, ctime, mtime, attributes, extras,"
            " repository_metadata, user_id) VALUES (%s, '', 'blocker', '', now(), now(), '{}', '{}', '{}', %s)",
            (blocking, user),
        )
        worker = Worker("insert_big", profile, user_id=user, n=30_000, label="killed", blocking_uuid=str(blocking))
        worker.expect("READY")
        # The COPY reached the last row and waits for our transaction on the unique uuid index.
        wait_until(lambda: backend_waits_on_lock(conn, _dbname(profile)), what="the COPY to wait")
        worker.kill()
        blocker.rollback()
    _gone(conn, profile)
    assert _count(conn, "SELECT count(*) FROM db_dbnode") == 0
    assert_recovered(profile)


def _seed_nodes(profile: Profile, conn: psycopg.Connection, n: int) -> list[int]:
    user = insert_user(conn)
    with Backend(profile) as backend:
        rows = [{"user_id": user, "label": "before", "attributes": {"i": i}} for i in range(n)]
        return backend.bulk_insert("node", rows, allow_defaults=True)


def test_kill_during_bulk_update(profile: Profile, conn: psycopg.Connection) -> None:
    ids = _seed_nodes(profile, conn, 5_000)
    with psycopg.connect(profile.conninfo()) as blocker:
        blocker.execute("SELECT id FROM db_dbnode WHERE id = %s FOR UPDATE", (max(ids),))
        worker = Worker("update", profile, ids=ids, label="after")
        worker.expect("READY")
        wait_until(lambda: backend_waits_on_lock(conn, _dbname(profile)), what="the UPDATE to wait")
        worker.kill()
        blocker.rollback()
    _gone(conn, profile)
    assert _count(conn, "SELECT count(*) FROM db_dbnode WHERE label = 'before' AND extras = '{}'") == len(ids)
    with Backend(profile, pool_timeout=5) as backend:  # no row lock is left behind: the same update now passes
        backend.bulk_update("node", [{"id": pk, "label": "after"} for pk in ids])
    assert _count(conn, "SELECT count(*) FROM db_dbnode WHERE label = 'after'") == len(ids)
    assert_recovered(profile)


def _seed_graph(profile: Profile, conn: psycopg.Connection, subgraphs: int) -> tuple[list[int], int]:
    """``subgraphs`` times: input data -> calculation -> output data, all in one group; calc ids and group id."""
    user = insert_user(conn)
    with Backend(profile) as backend:
        group = backend.bulk_insert("group", [{"label": "g", "user_id": user}], allow_defaults=True)[0]
        calcs = []
        for _ in range(subgraphs):
            data_in, calc, data_out = backend.bulk_insert(
                "node",
                [
                    {"user_id": user, "node_type": "data.core.int.Int."},
                    {"user_id": user, "node_type": "process.calculation.calcjob.CalcJobNode."},
                    {"user_id": user, "node_type": "data.core.int.Int."},
                ],
                allow_defaults=True,
            )
            backend.bulk_insert(
                "link",
                [
                    {"input_id": data_in, "output_id": calc, "label": "x", "type": "input_calc"},
                    {"input_id": calc, "output_id": data_out, "label": "y", "type": "create"},
                ],
            )
            backend.add_nodes_to_group(group, [data_in, calc, data_out])
            calcs.append(calc)
    return calcs, group


COUNTS = (
    "SELECT (SELECT count(*) FROM db_dbnode), (SELECT count(*) FROM db_dblink),"
    " (SELECT count(*) FROM db_dbgroup_dbnodes)"
)


def test_kill_during_delete_nodes(profile: Profile, conn: psycopg.Connection) -> None:
    calcs, _ = _seed_graph(profile, conn, 30)
    doomed = calcs[:15]
    with Backend(profile) as backend:
        expected = backend.delete_nodes(doomed, dry_run=True)
    assert len(expected) == 30  # each calculation and the data it created
    before = conn.execute(COUNTS).fetchone()
    with psycopg.connect(profile.conninfo()) as blocker:
        blocker.execute("SELECT id FROM db_dbnode WHERE id = %s FOR UPDATE", (max(expected),))
        worker = Worker("delete", profile, ids=doomed)
        worker.expect("READY")
        # Memberships and links are already deleted in the worker's transaction; the node DELETE waits.
        wait_until(lambda: backend_waits_on_lock(conn, _dbname(profile)), what="the DELETE to wait")
        worker.kill()
        blocker.rollback()
    _gone(conn, profile)
    assert conn.execute(COUNTS).fetchone() == before
    with Backend(profile, pool_timeout=5) as backend:
        assert backend.delete_nodes(doomed, dry_run=False) == expected
    assert conn.execute(COUNTS).fetchone() == (60, 30, 60)
    assert_recovered(profile)


def _seed_objects(profile: Profile, conn: psycopg.Connection, referenced: int, orphans: int) -> dict[str, bytes]:
    """Nodes referencing ``referenced`` loose objects, plus ``orphans`` unreferenced ones; key -> content."""
    user = insert_user(conn)
    contents: dict[str, bytes] = {}
    with Backend(profile) as backend:
        repository = backend.get_repository()
        rows = []
        for i in range(referenced + orphans):
            content = f"object {i} ".encode() * (1 + i % 50)
            key = repository.put_object_from_filelike(io.BytesIO(content))
            contents[key] = content
            if i < referenced:
                rows.append({"user_id": user, "repository_metadata": {"o": {"f": {"k": key}}}})
        backend.bulk_insert("node", rows, allow_defaults=True)
    return contents


@pytest.mark.parametrize("stop_at", [1, 3, 6])
def test_kill_during_full_maintain(profile: Profile, conn: psycopg.Connection, stop_at: int) -> None:
    contents = _seed_objects(profile, conn, referenced=300, orphans=20)
    referenced = {r[0] for r in conn.execute("SELECT repository_metadata->'o'->'f'->>'k' FROM db_dbnode")}
    worker = Worker("maintain", profile, stop_at=stop_at)
    worker.expect("READY")
    worker.kill()
    _gone(conn, profile)
    assert_recovered(profile)  # includes a complete maintain(full=True)
    with Backend(profile) as backend:
        repository = backend.get_repository()
        assert repository.container.validate().is_valid()
        for key in referenced:
            assert repository.get_object_content(key) == contents[key]
        orphans = [key for key in contents if key not in referenced]
        assert not any(repository.has_objects(orphans))
        assert repository.container.count_objects().loose == 0


@pytest.mark.parametrize("stage", ["after_dump", "mid_container"])
def test_kill_during_backup(profile: Profile, conn: psycopg.Connection, tmp_path: Path, stage: str) -> None:
    contents = _seed_objects(profile, conn, referenced=200, orphans=0)
    dest = tmp_path / "backups"
    with Backend(profile) as backend:
        first = backend.backup(dest)
    worker = Worker("backup", profile, dest=str(dest), rsync=False, stop=stage)
    worker.expect("READY")
    assert (dest / LIVE_FOLDER / "db.psql").is_file()
    worker.kill()
    _gone(conn, profile)
    assert last_backup(dest) == first.path
    assert (dest / LAST_LINK).resolve() == first.path.resolve()
    with Backend(profile) as backend:
        second = backend.backup(dest)
    assert not (dest / LIVE_FOLDER).exists()
    assert last_backup(dest) == second.path
    assert len(list((second.path / "container").rglob("*"))) > 0
    assert_recovered(profile)
    with Backend(profile) as backend:
        for key, content in contents.items():
            assert backend.get_repository().get_object_content(key) == content


SAMPLE_ARCHIVE = Path(__file__).parents[1] / "data" / "archives" / "sample.aiida"


@pytest.mark.parametrize("stage", ["links", "repository"])
def test_kill_during_archive_import(profile: Profile, conn: psycopg.Connection, stage: str, tmp_path: Path) -> None:
    # The killed importer cannot remove its temporary SQLite copy: keep it inside this test's folder.
    worker = Worker("import_archive", profile, path=str(SAMPLE_ARCHIVE), stage=stage, tmpdir=str(tmp_path))
    worker.expect("READY")
    worker.kill()
    _gone(conn, profile)
    empty = conn.execute(COUNTS).fetchone()
    assert empty == (0, 0, 0)
    assert conn.execute("SELECT count(*) FROM db_dbuser").fetchone() == (0,)
    assert_recovered(profile)  # a full maintenance: stale pack locks cleared, orphaned objects deleted
    with Backend(profile) as backend:
        repository = backend.get_repository()
        assert list(repository.list_objects()) == []
        assert repository.container.validate().is_valid()
        from fastdos.importer import import_archive

        report = import_archive(backend, SAMPLE_ARCHIVE)
        assert backend.nodes.count() > 0 and report is not None
        assert backend.get_unreferenced_keyset() == set()
