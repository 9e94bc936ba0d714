"""The opt-in transitive-closure table: installation in its own alembic version table, bulk rebuild, set-wise
folding of new links, fastdos deletions, foreign (aiida-core style) writes and resets, row budget."""

from __future__ import annotations

import random

import psycopg
import pytest

from fastdos import closure, rules
from fastdos.backend import Backend
from fastdos.closure import ClosureBudgetExceeded, get_pg_tc
from fastdos.migrator import Migrator
from fastdos.profile import Profile
from tests.test_graph import build, insert_links, random_arbitrary, random_provenance, reference_bfs

PROV = rules.PROVENANCE_LINK_TYPES


def closure_rows(conn: psycopg.Connection) -> dict[tuple[int, int], int]:
    return {(a, b): d for a, b, d in conn.execute("SELECT parent_id, child_id, depth FROM fastdos_closure").fetchall()}


def expected_closure(conn: psycopg.Connection) -> dict[tuple[int, int], int]:
    links = [(a, b, t) for a, b, t in conn.execute("SELECT input_id, output_id, type FROM db_dblink").fetchall()]
    nodes = {a for a, _, t in links if t in PROV}
    return {(a, b): d for a in nodes for b, d in reference_bfs(links, [a], PROV, True).items()}


def versions(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    main = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()]
    own = [r[0] for r in conn.execute("SELECT version_num FROM fastdos_alembic_version").fetchall()]
    return main, own


def test_get_pg_tc_quotes_identifiers() -> None:
    ddl = get_pg_tc("db_dblink", "input_id", "output_id", 'my "closure"', "up", "down")
    assert 'CREATE TABLE IF NOT EXISTS "my ""closure"""' in ddl
    assert '"up" integer NOT NULL' in ddl and '"down" integer NOT NULL' in ddl
    assert " REFERENCES " not in ddl.upper() and "CREATE TRIGGER" not in ddl.upper()


def test_install_keeps_aiida_version_and_storage_opens(backend: Backend, profile: Profile,
                                                       conn: psycopg.Connection) -> None:
    assert not backend.closure_state().installed
    backend.install_closure()
    assert versions(conn) == (["main_0002"], ["fastdos_0001"])
    backend.install_closure()  # idempotent
    state = backend.closure_state()
    assert state.installed and not state.built and not state.current
    fks = conn.execute(
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'fastdos_closure'::regclass"
    ).fetchone()
    assert fks == (0,)
    with Backend(profile) as again:  # storage validation is unaffected
        assert again.closure_state().installed
    backend.uninstall_closure()
    assert not backend.closure_state().installed
    assert versions(conn) == (["main_0002"], [])


@pytest.mark.parametrize("seed", range(12))
def test_rebuild_fold_and_queries_match_reference(backend: Backend, conn: psycopg.Connection, seed: int) -> None:
    rng = random.Random(seed)
    backend.install_closure()
    kinds, spec = (random_provenance if seed % 2 else random_arbitrary)(rng, rng.randrange(10, 50))
    ids, links = build(conn, kinds, spec)
    report = backend.refresh_closure()
    assert report.action == "rebuild"
    assert closure_rows(conn) == expected_closure(conn)
    assert backend.closure_state().current
    assert backend.refresh_closure().action == "none"
    start = rng.sample(ids, 3)
    for max_depth in (None, 1, 2):
        via_closure = backend.get_descendants(start, max_depth=max_depth, use_closure=True)
        assert via_closure == backend.get_descendants(start, max_depth=max_depth, use_closure=False)
        assert via_closure == reference_bfs(links, start, PROV, True, max_depth)
        assert backend.get_ancestors(start, max_depth=max_depth, use_closure=True) == \
            reference_bfs(links, start, PROV, False, max_depth)
    # New nodes and links written behind fastdos' back (as aiida-core does): not current, queries fall back.
    more_kinds, more_spec = random_provenance(rng, 20)
    new_ids, _ = build(conn, more_kinds, more_spec)
    everything = ids + new_ids
    extra = [(rng.choice(everything), rng.choice(new_ids), rng.choice(PROV)) for _ in range(15)]
    extra += [(rng.choice(new_ids), rng.choice(everything), rng.choice(rules.LINK_TYPES)) for _ in range(15)]
    insert_links(conn, extra)
    all_links = [tuple(r) for r in conn.execute("SELECT input_id, output_id, type FROM db_dblink").fetchall()]
    state = backend.closure_state()
    assert state.newer_links and not state.current
    with pytest.raises(RuntimeError, match="not current"):
        backend.get_ancestors(start, use_closure=True)
    assert backend.get_descendants(start) == reference_bfs(all_links, start, PROV, True)
    report = backend.refresh_closure()
    assert report.action == "fold"
    assert closure_rows(conn) == expected_closure(conn)
    assert backend.closure_state().current
    assert backend.get_descendants(start, use_closure=True) == reference_bfs(all_links, start, PROV, True)


def test_fastdos_deletions_keep_closure_exact(backend: Backend, conn: psycopg.Connection) -> None:
    rng = random.Random(7)
    backend.install_closure()
    ids, _ = build(conn, *random_provenance(rng, 60))
    backend.refresh_closure()
    for _ in range(3):
        remaining = sorted(r[0] for r in conn.execute("SELECT id FROM db_dbnode").fetchall())
        backend.delete_nodes([rng.choice(remaining)], dry_run=False)
        state = backend.closure_state()
        assert state.current, state  # the DELETE rules' set is closed under create/input_calc descendants
        assert closure_rows(conn) == expected_closure(conn)
    # With create_forward off the set may leave descendants behind: the closure is marked inexact.
    rows = conn.execute(
        "SELECT input_id FROM db_dblink l WHERE type = 'create'"
        " AND EXISTS (SELECT 1 FROM db_dblink m WHERE m.input_id = l.output_id AND m.type = 'input_calc')"
    ).fetchall()
    if rows:
        backend.delete_nodes([rows[0][0]], dry_run=False, create_forward=False)
        state = backend.closure_state()
        assert not state.exact and not state.current
        assert backend.refresh_closure().action == "rebuild"
        assert closure_rows(conn) == expected_closure(conn)
    with backend.transaction():  # direct deletion without traversal, mid-graph
        backend.delete_nodes_and_connections([ids[-1]])
    backend.refresh_closure()
    assert closure_rows(conn) == expected_closure(conn)


def test_foreign_deletions_are_detected(backend: Backend, conn: psycopg.Connection) -> None:
    backend.install_closure()
    ids, _ = build(conn, ["data", "calc", "data", "calc", "data"],
                   [(0, 1, "input_calc"), (1, 2, "create"), (2, 3, "input_calc"), (3, 4, "create")])
    backend.refresh_closure()
    assert backend.get_descendants([ids[0]], use_closure=True) == {ids[1]: 1, ids[2]: 2, ids[3]: 3, ids[4]: 4}
    # aiida-core deletes a calc (its own statements, no fastdos bookkeeping).
    conn.execute("DELETE FROM db_dblink WHERE input_id = %s OR output_id = %s", (ids[1], ids[1]))
    conn.execute("DELETE FROM db_dbnode WHERE id = %s", (ids[1],))
    state = backend.closure_state()
    assert state.links_deleted_elsewhere and not state.current
    assert backend.get_descendants([ids[0]]) == {}  # fallback: the recursive statement
    assert backend.refresh_closure().action == "rebuild"
    assert backend.get_descendants([ids[2]], use_closure=True) == {ids[3]: 1, ids[4]: 2}


def test_resets_are_harmless(backend: Backend, profile: Profile, conn: psycopg.Connection) -> None:
    backend.install_closure()
    build(conn, ["data", "calc", "data"], [(0, 1, "input_calc"), (1, 2, "create")])
    backend.refresh_closure()
    # aiida-core's _clear / initialise(reset=True): DELETE every row of every table but alembic_version
    # (and db_dbsetting), in foreign-key order — fastdos' version table and closure tables included.
    with Migrator(profile) as migrator:  # the same reflected, dependency-ordered DELETEs as aiida-core
        migrator.delete_all_tables(exclude_tables=["alembic_version", "db_dbsetting"])
    assert conn.execute("SELECT count(*) FROM fastdos_alembic_version").fetchone() == (0,)
    state = backend.closure_state()
    assert state.installed and not state.built and not state.current
    backend.install_closure()  # version table emptied: re-running the revision is harmless
    assert versions(conn) == (["main_0002"], ["fastdos_0001"])
    ids, _ = build(conn, ["data", "calc"], [(0, 1, "input_calc")])
    assert backend.refresh_closure().action == "rebuild"
    assert closure_rows(conn) == {(ids[0], ids[1]): 1}
    backend._clear()  # fastdos' own clear keeps fastdos_alembic_version
    assert not backend.closure_state().built
    assert versions(conn) == (["main_0002"], ["fastdos_0001"])


def test_row_budget(backend: Backend, conn: psycopg.Connection) -> None:
    backend.install_closure()
    n = 200  # a chain: n*(n-1)/2 closure rows
    build(conn, ["data"] * n, [(i, i + 1, "create") for i in range(n - 1)])
    with pytest.raises(ClosureBudgetExceeded, match="row budget of 1000"):
        backend.refresh_closure(row_budget=1000)
    assert not backend.closure_state().built
    assert conn.execute("SELECT count(*) FROM fastdos_closure").fetchone() == (0,)
    with backend.database.connection() as c:
        estimate = closure.Closure().estimate_rows(c, sample=n)
    assert estimate == n * (n - 1) // 2  # every source sampled: exact
    report = backend.refresh_closure(row_budget=None)
    assert report.row_count == n * (n - 1) // 2 == conn.execute("SELECT count(*) FROM fastdos_closure").fetchone()[0]  # type: ignore[index]


def test_refresh_requires_installation(backend: Backend) -> None:
    with pytest.raises(RuntimeError, match="not installed"):
        backend.refresh_closure()
