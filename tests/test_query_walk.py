"""The QueryBuilder's ancestors/descendants relation (per-hop index probes, JIT off around the statement)
against a reference breadth-first search on random provenance graphs."""

from __future__ import annotations

import random

import psycopg
import pytest
from psycopg import sql

from fastdos import rules
from fastdos.backend import Backend
from fastdos.errors import FastdosError, ValidationError
from fastdos.profile import Profile
from tests.test_graph import build, random_provenance, reference_bfs


def pairs(links: list[tuple[int, int, str]], ids: list[int], down: bool) -> set[tuple[int, int]]:
    """(start, reached) for every node of the graph, by the reference BFS."""
    return {
        (s, r) for s in ids for r in reference_bfs(links, [s], rules.PROVENANCE_LINK_TYPES, down)
    }


@pytest.mark.parametrize("seed", range(6))
def test_relation_matches_bfs(backend: Backend, conn: psycopg.Connection, seed: int) -> None:
    rng = random.Random(7000 + seed)
    kinds, spec = random_provenance(rng, rng.randrange(10, 60))
    ids, links = build(conn, kinds, spec)
    starts = rng.sample(ids, rng.randrange(1, 6))
    for relationship, down in (("with_ancestors", True), ("with_descendants", False)):
        qb = backend.query(closure=False).append("node", tag="s", filters={"id": {"in": starts}}, project="id")
        got = {tuple(row) for row in qb.append("node", **{relationship: "s"}, project="id").all()}
        assert got == {(s, r) for s in starts for r in reference_bfs(links, [s], rules.PROVENANCE_LINK_TYPES, down)}
        # A source without filters seeds from every link (the hash join, not the per-start probes).
        unfiltered = backend.query(closure=False).append("node", tag="s", project="id")
        got_all = {tuple(row) for row in unfiltered.append("node", **{relationship: "s"}, project="id").all()}
        assert got_all == pairs(links, ids, down)
        count = backend.query(closure=False).append("node", tag="s", filters={"id": {"in": starts}})
        assert count.append("node", **{relationship: "s"}).count() == len(got)


def test_jit_setting_restored(backend: Backend, conn: psycopg.Connection) -> None:
    ids, _ = build(conn, ["data", "calc", "data"], [(0, 1, "input_calc"), (1, 2, "create")])
    for _ in range(3):  # outside a transaction: JIT off in the statement's own pipelined transaction only
        qb = backend.query(closure=False).append("node", tag="s", filters={"id": ids[0]})
        assert qb.append("node", with_ancestors="s").count() == 2
    with backend.transaction() as tx:
        assert tx.execute("SHOW jit").fetchone() == ("on",)  # a pooled connection the queries used
        tx.execute("SET jit = on")
        qb = backend.query(closure=False).append("node", tag="s", filters={"id": ids[0]})
        assert sorted(qb.append("node", with_ancestors="s", project="id").all(flat=True)) == ids[1:]
        assert tx.execute("SHOW jit").fetchone() == ("on",)
        streamed = backend.query(closure=False).append("node", tag="s", filters={"id": ids[0]})
        rows = [r for batch in streamed.append("node", with_ancestors="s", project="id").iterall(1) for r in batch]
        assert sorted(rows) == ids[1:]
        assert tx.execute("SHOW jit").fetchone() == ("on",)


def test_bad_relation_input_is_refused(backend: Backend) -> None:
    with pytest.raises(ValidationError, match="needs a list"):
        backend.query().append("node", tag="s", filters={"id": {"in": "not a list"}})
    with pytest.raises(ValidationError):
        backend.query().append("node", tag="s").append("node", with_ancestors="nobody", project="id")


def test_pipelined_query_error_is_converted(profile: Profile, conn: psycopg.Connection) -> None:
    """A server error in the pipelined relation statement comes out as fastdos' converted error."""
    ids, _ = build(conn, ["data", "calc", "data"], [(0, 1, "input_calc"), (1, 2, "create")])
    dbname = conn.execute("SELECT current_database()").fetchone()
    assert dbname is not None
    conn.execute(sql.SQL("ALTER DATABASE {} SET lock_timeout = '50ms'").format(sql.Identifier(dbname[0])))
    try:
        with Backend(profile) as fresh, psycopg.connect(profile.conninfo()) as locker:
            locker.execute("LOCK TABLE db_dblink IN ACCESS EXCLUSIVE MODE")
            qb = fresh.query(closure=False).append("node", tag="s", filters={"id": ids[0]})
            with pytest.raises(FastdosError) as info:
                qb.append("node", with_ancestors="s", project="id").all()
            assert not isinstance(info.value, psycopg.Error)
            locker.rollback()
            again = fresh.query(closure=False).append("node", tag="s", filters={"id": ids[0]})
            assert sorted(again.append("node", with_ancestors="s", project="id").all(flat=True)) == ids[1:]
    finally:
        conn.execute(sql.SQL("ALTER DATABASE {} RESET lock_timeout").format(sql.Identifier(dbname[0])))
