"""Large deletions without per-row foreign-key work (fastdos/bulk_delete.py), against a real server.

Every strategy must delete exactly the rows the plain path deletes (the set itself is aiida's: tests/test_graph.py
and tests/test_graph_aiida.py), leave the five foreign keys into db_dbnode exactly as they were, pass
check_integrity() and aiida-core's validation, and leave everything as before when it fails midway (an exception
between two steps) or when its client is killed with SIGKILL while a statement of the deletion runs.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from fastdos import bulk_delete, db, graph
from fastdos.backend import Backend
from fastdos.context import BorrowedContext
from fastdos.profile import Profile
from fastdos.repository import Repository
from tests.conftest import PgServer
from tests.helpers import insert_user
from tests.reliability.helpers import Worker, assert_recovered, backend_waits_on_lock, sessions_of, wait_until
from tests.test_graph import build, random_provenance
from tests.test_graph_aiida import AIIDA_PYTHON, run_graph_op

STRATEGIES = list(bulk_delete.STRATEGIES)

# Rows of every table a deletion touches (literal statements: no SQL built from strings in tests either).
SNAPSHOT = {
    "nodes": "SELECT id FROM db_dbnode ORDER BY 1",
    "links": "SELECT id, input_id, output_id, type FROM db_dblink ORDER BY 1",
    "comments": "SELECT id, dbnode_id FROM db_dbcomment ORDER BY 1",
    "logs": "SELECT id, dbnode_id FROM db_dblog ORDER BY 1",
    "members": "SELECT id, dbgroup_id, dbnode_id FROM db_dbgroup_dbnodes ORDER BY 1",
    "groups": "SELECT id FROM db_dbgroup ORDER BY 1",
    "users": "SELECT id FROM db_dbuser ORDER BY 1",
}
NODE_KEYS = (
    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.convalidated, c.condeferrable,"
    " c.condeferred FROM pg_constraint AS c WHERE c.contype = 'f' ORDER BY 1, 2"
)


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    state = {name: conn.execute(query).fetchall() for name, query in SNAPSHOT.items()}  # type: ignore[arg-type]
    state["foreign_keys"] = conn.execute(NODE_KEYS).fetchall()  # type: ignore[arg-type]
    return state


def expected_after(state: dict[str, list[tuple[Any, ...]]], gone: set[int]) -> dict[str, list[tuple[Any, ...]]]:
    """What the plain path leaves: nodes, links touching them, and their comments, logs, memberships go."""
    return {
        **state,
        "nodes": [r for r in state["nodes"] if r[0] not in gone],
        "links": [r for r in state["links"] if r[1] not in gone and r[2] not in gone],
        "comments": [r for r in state["comments"] if r[1] not in gone],
        "logs": [r for r in state["logs"] if r[1] not in gone],
        "members": [r for r in state["members"] if r[2] not in gone],
    }


def seed(conn: psycopg.Connection, graphs: int = 12, seed_: int = 16) -> list[list[int]]:
    """Random provenance graphs, each node with a comment and a log, every third node in one of two groups."""
    rng = random.Random(seed_)
    user = insert_user(conn, f"bulk-{uuid.uuid4().hex[:8]}@example.org")
    all_ids = []
    for _ in range(graphs):
        kinds, links = random_provenance(rng, rng.randrange(30, 60))
        ids, _ = build(conn, kinds, links)
        all_ids.append(ids)
    flat = [i for ids in all_ids for i in ids]
    conn.execute(
        "INSERT INTO db_dbcomment (uuid, dbnode_id, ctime, mtime, user_id, content)"
        " SELECT gen_random_uuid(), n, now(), now(), %s, 'c' FROM unnest(%s::integer[]) AS n", (user, flat))
    conn.execute(
        "INSERT INTO db_dblog (uuid, time, loggername, levelname, dbnode_id, message, metadata)"
        " SELECT gen_random_uuid(), now(), 'l', 'INFO', n, 'm', '{}' FROM unnest(%s::integer[]) AS n", (flat,))
    groups = [conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (gen_random_uuid(), %s, 'core', now(), '', '{}', %s) RETURNING id", (label, user)).fetchone()[0]  # type: ignore[index]
        for label in ("bulk-a", "bulk-b")]  # fmt: skip
    conn.execute(
        "INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) SELECT %s, n FROM unnest(%s::integer[]) AS n",
        (groups[0], flat[::3]))
    conn.execute(
        "INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) SELECT %s, n FROM unnest(%s::integer[]) AS n",
        (groups[1], flat[1::3]))
    conn.execute("ANALYZE")
    return all_ids


def starts(all_ids: list[list[int]]) -> list[int]:
    """Two nodes of each of the first eight graphs (the last four stay untouched)."""
    return [i for ids in all_ids[:8] for i in ids[:2]]


def strategy_ran(caplog: pytest.LogCaptureFixture) -> str:
    ran = [r.getMessage().rsplit(" with the ", 1)[1].split()[0] for r in caplog.records
           if r.name == "fastdos.graph" and " strategy" in r.getMessage() and r.getMessage().startswith("deleted")]
    assert len(ran) == 1, ran
    return ran[0]


def session_settings(backend: Backend) -> tuple[str, str]:
    """session_replication_role and lock_timeout of a pooled connection after the deletion."""
    with backend.context.connection() as conn:
        row = conn.execute(
            "SELECT current_setting('session_replication_role'), current_setting('lock_timeout')").fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


# --- the choice ------------------------------------------------------------------------------------------


def test_choice_by_size() -> None:
    """The cases measured in bench/notes/graph.md#bulk-deletion land where the measurements put them."""
    choose = bulk_delete.choose
    small = bulk_delete.MIN_BULK_NODES - 1
    assert choose(small, 10**6, 10**6, replica=True, constraints=True) == "plain"
    million, links = 10**6, 1_250_000
    assert choose(10**5, million, links, replica=True, constraints=True) == "replica"  # 0.5 s vs 2.35 s
    assert choose(3 * 10**5, million, links, replica=True, constraints=True) == "replica"  # 1.32 s vs 1.61 s
    assert choose(75 * 10**4, million, links, replica=True, constraints=True) == "constraints"  # 2.77 vs 4.18 s
    assert choose(3 * 10**4, 4 * 10**4, 5 * 10**4, replica=True, constraints=True) == "replica"  # 306 vs 344 ms
    assert choose(10**5, million, links, replica=False, constraints=True) == "constraints"  # 2.35 s vs 4.8 s
    assert choose(10**4, million, links, replica=False, constraints=True) == "plain"  # 0.23 s vs 1.38 s
    assert choose(10**5, -1, links, replica=False, constraints=True) == "plain"  # never analysed: no DDL
    assert choose(10**5, million, links, replica=False, constraints=False) == "plain"


def test_unknown_strategy_is_refused(backend: Backend, conn: psycopg.Connection) -> None:
    ids = seed(conn, graphs=1)[0]
    before = snapshot(conn)
    with pytest.raises(ValueError, match="strategy must be one of plain, replica, constraints"):
        graph.delete_nodes_using(backend.context, ids[:1], "fast")
    with pytest.raises(ValueError, match="strategy must be one of"), backend.transaction():
        graph.delete_nodes_and_connections(backend.context, ids[:1], strategy="")
    assert snapshot(conn) == before


# --- every strategy deletes what the plain path deletes --------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_deletes_the_plain_rows(backend: Backend, conn: psycopg.Connection, strategy: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    all_ids = seed(conn)
    backend.install_closure()
    backend.refresh_closure(row_budget=None)
    start = starts(all_ids)
    gone = backend.delete_nodes(start, dry_run=True)
    assert 50 < len(gone) < sum(map(len, all_ids))
    before = snapshot(conn)
    with caplog.at_level(logging.INFO, logger="fastdos.graph"):
        assert graph.delete_nodes_using(backend.context, start, strategy) == gone
    assert strategy_ran(caplog) == strategy
    assert snapshot(conn) == expected_after(before, gone)
    assert backend.check_integrity().ok
    assert session_settings(backend) == ("origin", "0")
    state = backend.closure_state()
    assert state.current, "the closure bookkeeping counted the deleted links"
    survivors = [i for ids in all_ids[8:] for i in ids]
    assert backend.get_descendants(survivors[:5]) == backend.get_descendants(survivors[:5], use_closure=False)


def test_large_deletion_chooses_by_size(backend: Backend, conn: psycopg.Connection,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """Over MIN_BULK_NODES nodes inside a caller's transaction: replica (superuser) or plain, never DDL even when
    forced; the rest in delete_nodes' own transaction: chosen by size (test_choice_by_size covers the costs)."""
    all_ids = seed(conn, graphs=60)
    conn.execute("ANALYZE db_dbnode")
    everything = [i for ids in all_ids for i in ids]
    assert len(everything) >= 2 * bulk_delete.MIN_BULK_NODES
    superuser = conn.execute("SELECT current_setting('is_superuser')").fetchone()[0] == "on"  # type: ignore[index]
    half = everything[: len(everything) // 2]
    before = snapshot(conn)
    with caplog.at_level(logging.INFO, logger="fastdos.graph"), backend.transaction():
        graph.delete_nodes_and_connections(backend.context, half, strategy="constraints")
    assert strategy_ran(caplog) == ("replica" if superuser else "plain")
    assert snapshot(conn) == expected_after(before, set(half))
    caplog.clear()
    rest = everything[len(everything) // 2:]
    with caplog.at_level(logging.INFO, logger="fastdos.graph"):
        backend.delete_nodes(rest, dry_run=False)
    # (its own transaction allows DDL, but at this size the 80 ms of DDL lose against the replica check)
    assert strategy_ran(caplog) == ("replica" if superuser else "plain")
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone()[0] == 0  # type: ignore[index]
    assert snapshot(conn)["foreign_keys"] == before["foreign_keys"]
    assert backend.check_integrity().ok


def test_callable_dry_run_on_a_large_start_set(backend: Backend, conn: psycopg.Connection) -> None:
    """From MIN_BULK_NODES start nodes the walk fills the temporary table; a callable that stops the deletion
    leaves neither rows deleted nor the table behind (checked inside the caller's transaction)."""
    everything = [i for ids in seed(conn, graphs=40) for i in ids]
    start = everything[: bulk_delete.MIN_BULK_NODES + 10]
    before = snapshot(conn)
    seen: list[set[int]] = []
    with backend.transaction() as tx:
        gone = graph.delete_nodes(backend.context, start, dry_run=lambda pks: seen.append(pks) or True)
        assert tx.execute("SELECT to_regclass('pg_temp.fastdos_delete_ids')").fetchone() == (None,)
    assert seen == [gone] and snapshot(conn) == before
    assert graph.delete_nodes(backend.context, start, dry_run=lambda pks: False) == gone
    assert snapshot(conn) == expected_after(before, gone)


def test_other_backend_on_the_profile_means_plain(profile: Profile, backend: Backend, conn: psycopg.Connection,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    all_ids = seed(conn)
    start = starts(all_ids)
    gone = backend.delete_nodes(start, dry_run=True)
    before = snapshot(conn)
    with Backend(profile), caplog.at_level(logging.INFO, logger="fastdos.graph"):  # shared access elsewhere
        graph.delete_nodes_using(backend.context, start, "constraints")
    assert strategy_ran(caplog) == "plain"
    assert snapshot(conn) == expected_after(before, gone)


def test_constraints_give_way_to_a_reader(profile: Profile, backend: Backend, conn: psycopg.Connection,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A session outside fastdos reading db_dblog in an open transaction: the DDL waits DDL_LOCK_TIMEOUT for its
    lock, gives up, and the deletion goes on without it (replica where allowed, else plain)."""
    all_ids = seed(conn)
    start = starts(all_ids)
    gone = backend.delete_nodes(start, dry_run=True)
    before = snapshot(conn)
    superuser = conn.execute("SELECT current_setting('is_superuser')").fetchone()[0] == "on"  # type: ignore[index]
    with psycopg.connect(profile.conninfo()) as reader:
        reader.execute("SELECT count(*) FROM db_dblog")  # holds ACCESS SHARE until its transaction ends
        started = time.monotonic()
        with caplog.at_level(logging.INFO, logger="fastdos.graph"):
            graph.delete_nodes_using(backend.context, start, "constraints")
        waited = time.monotonic() - started
        reader.rollback()
    assert strategy_ran(caplog) == ("replica" if superuser else "plain")
    assert any("cannot drop the foreign keys now" in r.getMessage() for r in caplog.records)
    assert waited >= 0.9
    assert snapshot(conn) == expected_after(before, gone)
    assert session_settings(backend) == ("origin", "0")


def test_foreign_trigger_disables_replica(backend: Backend, conn: psycopg.Connection,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A trigger of someone else on db_dblog would be silenced by replica mode: that strategy is not used."""
    all_ids = seed(conn)
    conn.execute("CREATE TABLE log_audit (n integer)")
    conn.execute("CREATE FUNCTION log_audit() RETURNS trigger LANGUAGE plpgsql AS"
                 " $$ BEGIN INSERT INTO log_audit VALUES (OLD.dbnode_id); RETURN OLD; END $$")
    conn.execute("CREATE TRIGGER log_audit AFTER DELETE ON db_dblog FOR EACH ROW EXECUTE FUNCTION log_audit()")
    start = starts(all_ids)
    gone = backend.delete_nodes(start, dry_run=True)
    with caplog.at_level(logging.INFO, logger="fastdos.graph"):
        graph.delete_nodes_using(backend.context, start, "replica")
    assert strategy_ran(caplog) == "plain"
    audited = {r[0] for r in conn.execute("SELECT n FROM log_audit").fetchall()}
    assert audited == gone, "the trigger saw every deleted log"


# --- a role that may not set the replication role, or does not own the tables ------------------------------


@pytest.fixture
def other_role(pg_server: PgServer, profile: Profile, conn: psycopg.Connection) -> Iterator[tuple[str, Profile]]:
    """A login role with every table and sequence privilege on the test database, but no ownership."""
    role = f"fastdos_bulk_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role)))
    conn.execute(sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {}").format(sql.Identifier(role)))
    params = dict(pg_server.params, user=role)
    params.pop("password", None)
    as_role = Profile.from_dsn("as-role", psycopg.conninfo.make_conninfo(
        "", **{**params, "dbname": str(profile.storage_config["database_name"])}), profile.repository_path)
    try:
        yield role, as_role
    finally:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with pg_server.admin() as admin:
            if admin.info.server_version >= 150000:
                admin.execute(sql.SQL("REVOKE SET ON PARAMETER session_replication_role FROM {}").format(
                    sql.Identifier(role)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_role_without_privileges_deletes_plainly(other_role: tuple[str, Profile], conn: psycopg.Connection,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    role, as_role = other_role
    all_ids = seed(conn)
    start = starts(all_ids)
    with Backend(as_role) as backend:
        gone = backend.delete_nodes(start, dry_run=True)
        before = snapshot(conn)
        with caplog.at_level(logging.INFO, logger="fastdos.graph"):
            graph.delete_nodes_using(backend.context, start[:8], "constraints")  # not the owner: no DDL
        assert strategy_ran(caplog) == "plain"
        caplog.clear()
        if conn.info.server_version >= 150000:
            conn.execute(sql.SQL("GRANT SET ON PARAMETER session_replication_role TO {}").format(sql.Identifier(role)))
            with caplog.at_level(logging.INFO, logger="fastdos.graph"):
                graph.delete_nodes_using(backend.context, start[8:], "replica")
            assert strategy_ran(caplog) == "replica"
        else:
            graph.delete_nodes_using(backend.context, start[8:], "replica")
        assert backend.check_integrity().ok
    assert snapshot(conn) == expected_after(before, gone)


# --- inside a caller's transaction -----------------------------------------------------------------------


def test_borrowed_context_never_runs_ddl(profile: Profile, backend: Backend, conn: psycopg.Connection,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """In a caller's transaction with pending deferred checks (its comment's foreign key is checked at its
    COMMIT, and ALTER TABLE would refuse the table), two deletions in a row; the caller's session gets its
    settings back and no temporary table."""
    all_ids = seed(conn)
    start = starts(all_ids)
    gone = backend.delete_nodes(start, dry_run=True)
    before = snapshot(conn)
    superuser = conn.execute("SELECT current_setting('is_superuser')").fetchone()[0] == "on"  # type: ignore[index]
    with psycopg.connect(profile.conninfo()) as caller:
        ctx = BorrowedContext(caller, profile, Repository(profile.container_path), access=backend.context.access)
        user = conn.execute("SELECT min(id) FROM db_dbuser").fetchone()[0]  # type: ignore[index]
        caller.execute("INSERT INTO db_dbcomment (uuid, dbnode_id, ctime, mtime, user_id, content)"
                       " VALUES (gen_random_uuid(), %s, now(), now(), %s, 'late')", (all_ids[-1][0], user))
        with caplog.at_level(logging.INFO, logger="fastdos.graph"):
            graph.delete_nodes_and_connections(ctx, sorted(gone)[: len(gone) // 2], strategy="constraints")
            graph.delete_nodes_and_connections(ctx, sorted(gone)[len(gone) // 2:], strategy="constraints")
        ran = [r.getMessage() for r in caplog.records if r.getMessage().startswith("deleted")]
        assert all(("replica" if superuser else "plain") in m for m in ran) and len(ran) == 2
        row = caller.execute("SELECT current_setting('session_replication_role'), current_setting('lock_timeout'),"
                             " to_regclass('pg_temp.fastdos_delete_ids')").fetchone()
        assert row == ("origin", "0", None)
        caller.commit()
    after = expected_after(before, gone)
    late = conn.execute("SELECT id, dbnode_id FROM db_dbcomment WHERE content = 'late'").fetchall()
    assert len(late) == 1
    assert snapshot(conn) == {**after, "comments": sorted(after["comments"] + late)}
    assert backend.check_integrity().ok


# --- failure and kill midway -----------------------------------------------------------------------------

# A step of each strategy after rows were already deleted (and, for constraints, the keys dropped).
LATE_STEP = {
    "plain": "graph/delete_nodes",
    "replica": "graph/bulk_dangling",
    "constraints": "graph/bulk_validate_constraint",
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_exception_midway_leaves_everything(backend: Backend, conn: psycopg.Connection, strategy: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    all_ids = seed(conn)
    before = snapshot(conn)
    execute = db.execute
    seen: list[str] = []

    def failing(c: Any, name: str, *rest: Any, **kw: Any) -> Any:
        seen.append(name)
        if name == LATE_STEP[strategy]:
            raise RuntimeError("injected failure")
        return execute(c, name, *rest, **kw)

    monkeypatch.setattr(db, "execute", failing)
    with pytest.raises(RuntimeError, match="injected failure"):
        graph.delete_nodes_using(backend.context, starts(all_ids), strategy)
    monkeypatch.undo()
    assert ("graph/delete_nodes" if strategy == "plain" else "graph/bulk_delete_nodes") in seen
    assert snapshot(conn) == before
    assert session_settings(backend) == ("origin", "0")
    assert backend.check_integrity().ok
    assert backend.delete_nodes(starts(all_ids), dry_run=False)  # and the storage still deletes afterwards


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_kill_midway_leaves_everything(profile: Profile, conn: psycopg.Connection, strategy: str) -> None:
    all_ids = seed(conn)
    before = snapshot(conn)
    database = str(profile.storage_config["database_name"])
    key = random.randrange(1, 2**31)
    with psycopg.connect(profile.conninfo(), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        worker = Worker("bulk_delete", profile, ids=starts(all_ids), strategy=strategy,
                        wait_before=LATE_STEP[strategy], lock_key=key)
        worker.expect("READY")
        wait_until(lambda: backend_waits_on_lock(conn, database), what="the deletion to wait mid-statement")
        worker.kill()
    # The killed client's server session waited for the lock; released, it finds the socket closed and rolls back.
    wait_until(lambda: sessions_of(conn, database) == 0, timeout=30, what="every session to end")
    assert snapshot(conn) == before
    assert_recovered(profile)
    with Backend(profile) as backend:
        assert backend.check_integrity().ok


# --- aiida-core on the result ----------------------------------------------------------------------------


@pytest.mark.skipif(not AIIDA_PYTHON.exists(), reason=f"aiida-core reference venv missing ({AIIDA_PYTHON})")
@pytest.mark.parametrize("strategy", ["replica", "constraints"])
def test_aiida_validates_and_deletes_after(profile: Profile, backend: Backend, conn: psycopg.Connection,
                                           strategy: str, tmp_path: Path) -> None:
    """aiida-core opens the storage after a set-wise deletion, and its own delete_nodes (which relies on the
    restored ON DELETE CASCADE keys) still deletes what fastdos would."""
    all_ids = seed(conn)
    graph.delete_nodes_using(backend.context, starts(all_ids), strategy)
    remaining = conn.execute("SELECT count(*) FROM db_dbnode").fetchone()[0]  # type: ignore[index]
    assert run_graph_op("validate", profile, tmp_path)["nodes"] == remaining
    target = [all_ids[-1][0], all_ids[-2][0]]
    expected = backend.delete_nodes(target, dry_run=True)
    result = run_graph_op("delete", profile, tmp_path, pks=target, dry_run=False)
    assert result["deleted"] is True and set(result["pks"]) == expected
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone()[0] == remaining - len(expected)  # type: ignore[index]
    assert backend.check_integrity().ok
