"""Deletion with AiiDA's traversal rules and ancestors/descendants, against a real database.

The reference for the expanded deletion set is an independent Python transcription of aiida-core's
``traverse_graph`` fixpoint (docs/traversal-rules.md#traversal), run on many random graphs (valid provenance, and
arbitrary links with cycles); the reference for ancestors/descendants is a breadth-first search.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from fastdos import graph, rules
from fastdos.backend import Backend
from fastdos.errors import FastdosError, ValidationError
from fastdos.profile import Profile
from tests.helpers import insert_user

DATA = "data.core.int.Int."
CALC = "process.calculation.calcjob.CalcJobNode."
WORK = "process.workflow.workchain.WorkChainNode."
KIND = {"data": DATA, "calc": CALC, "work": WORK}

Link = tuple[int, int, str]


# --- graph building (raw SQL, independent of fastdos' ingest) ------------------------------------------------


def insert_nodes(conn: psycopg.Connection, node_types: list[str], user_id: int) -> list[int]:
    """Insert nodes with every column given; ids reserved first so they come back in input order."""
    if not node_types:
        return []
    ids = [r[0] for r in conn.execute(
        "SELECT nextval('db_dbnode_id_seq') FROM generate_series(1, %s)", (len(node_types),)
    ).fetchall()]
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO db_dbnode (id, uuid, node_type, process_type, label, description, ctime, mtime, attributes,"
        " extras, repository_metadata, dbcomputer_id, user_id)"
        " SELECT i, u, t, NULL, '', '', %(now)s, %(now)s, '{}', '{}', '{}', NULL, %(user)s"
        " FROM unnest(%(ids)s::integer[], %(uuids)s::uuid[], %(types)s::text[]) AS x(i, u, t)",
        {"ids": ids, "uuids": [uuid.uuid4() for _ in ids], "types": node_types, "now": now, "user": user_id},
    )
    return [int(i) for i in ids]


def insert_links(conn: psycopg.Connection, links: Iterable[Link]) -> None:
    links = list(links)
    if not links:
        return
    conn.execute(
        "INSERT INTO db_dblink (input_id, output_id, label, type)"
        " SELECT i, o, 'l' || ord, t FROM unnest(%s::integer[], %s::integer[], %s::text[])"
        " WITH ORDINALITY AS x(i, o, t, ord)",
        ([a for a, _, _ in links], [b for _, b, _ in links], [t for _, _, t in links]),
    )


def build(
    conn: psycopg.Connection, kinds: list[str], links: list[tuple[int, int, str]]
) -> tuple[list[int], list[Link]]:
    """Insert nodes of the given kinds and links given by index; return node ids and links by id."""
    user = conn.execute("SELECT id FROM db_dbuser LIMIT 1").fetchone()
    user_id = int(user[0]) if user else insert_user(conn, f"graph-{uuid.uuid4().hex[:8]}@example.org")
    ids = insert_nodes(conn, [KIND[k] for k in kinds], user_id)
    by_id = [(ids[a], ids[b], t) for a, b, t in links]
    insert_links(conn, by_id)
    return ids, by_id


def random_provenance(rng: random.Random, size: int) -> tuple[list[str], list[tuple[int, int, str]]]:
    """A random graph that respects the link-type endpoints (docs/traversal-rules.md#link-rules); call and return links
    make cycles in the undirected traversal (data <-return- work -call-> calc -create-> data)."""
    kinds = [rng.choice(["data", "data", "calc", "work"]) for _ in range(size)]
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(kinds):
        by_kind[k].append(i)
    links: list[tuple[int, int, str]] = []
    created: set[int] = set()
    called: set[int] = set()
    for _ in range(size * 2):
        t = rng.choice(rules.LINK_TYPES)
        src_kind, dst_kind = {
            "create": ("calc", "data"), "return": ("work", "data"), "input_calc": ("data", "calc"),
            "input_work": ("data", "work"), "call_calc": ("work", "calc"), "call_work": ("work", "work"),
        }[t]
        if not by_kind[src_kind] or not by_kind[dst_kind]:
            continue
        a, b = rng.choice(by_kind[src_kind]), rng.choice(by_kind[dst_kind])
        if t == "create":
            if b in created:
                continue
            created.add(b)
        if t in ("call_calc", "call_work"):
            if b in called or a == b:
                continue
            called.add(b)
        links.append((a, b, t))
    return kinds, links


def random_arbitrary(rng: random.Random, size: int) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Arbitrary links of every type between any nodes: directed cycles and self-loops included."""
    kinds = [rng.choice(["data", "calc", "work"]) for _ in range(size)]
    links = [(rng.randrange(size), rng.randrange(size), rng.choice(rules.LINK_TYPES)) for _ in range(size * 2)]
    return kinds, links


# --- independent references -------------------------------------------------------------------------------


def reference_traverse(links: list[Link], start: set[int], forward: Iterable[str], backward: Iterable[str]) -> set[int]:
    """aiida-core's traverse_graph fixpoint: walkers of one round expand along forward and backward rules."""
    outgoing: dict[int, list[tuple[int, str]]] = defaultdict(list)
    incoming: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for a, b, t in links:
        outgoing[a].append((b, t))
        incoming[b].append((a, t))
    fwd, bwd = set(forward), set(backward)
    reached = set(start)
    walkers = set(start)
    while walkers:
        new: set[int] = set()
        for w in walkers:
            new.update(b for b, t in outgoing[w] if t in fwd)
            new.update(a for a, t in incoming[w] if t in bwd)
        walkers = new - reached
        reached |= walkers
    return reached


def reference_bfs(links: list[Link], start: Iterable[int], types: Iterable[str], down: bool,
                  max_depth: int | None = None) -> dict[int, int]:
    adjacency: dict[int, list[int]] = defaultdict(list)
    chosen = set(types)
    for a, b, t in links:
        if t in chosen:
            if down:
                adjacency[a].append(b)
            else:
                adjacency[b].append(a)
    depth: dict[int, int] = {}
    queue = deque((s, 0) for s in dict.fromkeys(start))
    seen_start = set(start)
    while queue:
        node, d = queue.popleft()
        if max_depth is not None and d >= max_depth:
            continue
        for nxt in adjacency[node]:
            if nxt not in depth:
                depth[nxt] = d + 1
                if nxt not in seen_start:
                    queue.append((nxt, d + 1))
    return depth


def random_toggles(rng: random.Random) -> dict[str, bool]:
    return {name: rng.random() < 0.6 for name in ("create_forward", "call_calc_forward", "call_work_forward")
            if rng.random() < 0.5}


def node_ids(conn: psycopg.Connection) -> set[int]:
    return {int(r[0]) for r in conn.execute("SELECT id FROM db_dbnode").fetchall()}


# --- delete_nodes_and_connections ---------------------------------------------------------------------------


def test_delete_nodes_and_connections_needs_transaction(backend: Backend, conn: psycopg.Connection) -> None:
    ids, _ = build(conn, ["data", "calc"], [(0, 1, "input_calc")])
    with pytest.raises(AssertionError, match="Cannot delete nodes and links outside a transaction"):
        backend.delete_nodes_and_connections(ids)
    assert node_ids(conn) >= set(ids)


def test_delete_nodes_and_connections_removes_everything_attached(backend: Backend, conn: psycopg.Connection) -> None:
    ids, _ = build(
        conn, ["data", "calc", "data", "data"], [(0, 1, "input_calc"), (1, 2, "create"), (3, 1, "input_calc")]
    )
    user = conn.execute("SELECT id FROM db_dbuser LIMIT 1").fetchone()[0]  # type: ignore[index]
    group = conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (%s, 'g', 'core', now(), '', '{}', %s) RETURNING id", (uuid.uuid4(), user)
    ).fetchone()[0]  # type: ignore[index]
    conn.execute("INSERT INTO db_dbgroup_dbnodes (dbnode_id, dbgroup_id) SELECT unnest(%s::integer[]), %s",
                 (ids, group))
    conn.execute("INSERT INTO db_dbcomment (uuid, dbnode_id, ctime, mtime, user_id, content)"
                 " VALUES (%s, %s, now(), now(), %s, 'c')", (uuid.uuid4(), ids[1], user))
    conn.execute("INSERT INTO db_dblog (uuid, time, loggername, levelname, dbnode_id, message, metadata)"
                 " VALUES (%s, now(), 'x', 'INFO', %s, 'm', '{}')", (uuid.uuid4(), ids[1]))
    with backend.transaction():
        backend.delete_nodes_and_connections([ids[1], ids[2], 999_999])  # a missing id is ignored
    assert node_ids(conn) == {ids[0], ids[3]}
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM db_dbcomment").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM db_dblog").fetchone() == (0,)
    members = {r[0] for r in conn.execute("SELECT dbnode_id FROM db_dbgroup_dbnodes").fetchall()}
    assert members == {ids[0], ids[3]}
    assert conn.execute("SELECT count(*) FROM db_dbgroup").fetchone() == (1,)


@pytest.mark.parametrize("bad, error", [
    (["1"], TypeError), ([1.0], TypeError), ([True], TypeError), ([None], TypeError), ([0], ValueError),
    ([-3], ValueError), ([2**31], ValueError), ("12", TypeError), (5, TypeError),
])
def test_bad_pks_are_refused(backend: Backend, conn: psycopg.Connection, bad: object, error: type) -> None:
    ids, _ = build(conn, ["data"], [])
    with pytest.raises(error, match=repr(bad[0]) if isinstance(bad, list) and error is TypeError else ".*"):
        backend.delete_nodes(bad, dry_run=False)  # type: ignore[arg-type]
    with pytest.raises(error), backend.transaction():
        backend.delete_nodes_and_connections(bad)  # type: ignore[arg-type]
    with pytest.raises(error):
        backend.get_descendants(bad)  # type: ignore[arg-type]
    assert ids[0] in node_ids(conn)


# --- delete_nodes -----------------------------------------------------------------------------------------


def every_link_type_graph(conn: psycopg.Connection) -> tuple[dict[str, int], list[Link]]:
    """A workflow W (input d_in) calling sub-workflow W2 and calc C; C creates d_out, W returns it;
    an unrelated calc C2 uses d_out; a lone data node d_free."""
    names = ["d_in", "W", "W2", "C", "d_out", "C2", "d_c2", "d_free"]
    kinds = ["data", "work", "work", "calc", "data", "calc", "data", "data"]
    index = {n: i for i, n in enumerate(names)}
    spec = [("d_in", "W", "input_work"), ("W", "W2", "call_work"), ("W2", "C", "call_calc"),
            ("d_in", "C", "input_calc"), ("C", "d_out", "create"), ("W", "d_out", "return"),
            ("W2", "d_out", "return"), ("d_out", "C2", "input_calc"), ("C2", "d_c2", "create")]
    ids, links = build(conn, kinds, [(index[a], index[b], t) for a, b, t in spec])
    return dict(zip(names, ids, strict=True)), links


def test_every_link_type_against_reference(backend: Backend, conn: psycopg.Connection) -> None:
    n, links = every_link_type_graph(conn)
    # Deleting the created output drags its creator, the callers (backward call), everything they call,
    # the calc that used it and that calc's output; the workflow input stays (input_* backward are off).
    got = backend.delete_nodes([n["d_out"]])
    assert got == {n["d_out"], n["C"], n["W2"], n["W"], n["C2"], n["d_c2"]}
    for toggles in ({}, {"create_forward": False}, {"call_calc_forward": False}, {"call_work_forward": False},
                    {"create_forward": False, "call_calc_forward": False, "call_work_forward": False}):
        d = rules.resolve(rules.DELETE, toggles)
        for start in n.values():
            assert backend.delete_nodes([start], **toggles) == reference_traverse(links, {start}, d.forward, d.backward)
    assert node_ids(conn) >= set(n.values())  # dry runs only


def test_delete_nodes_deletes_in_one_transaction(backend: Backend, conn: psycopg.Connection) -> None:
    n, _ = every_link_type_graph(conn)
    deleted = backend.delete_nodes([n["d_in"]], dry_run=False)
    # input_work and input_calc forward reach W and C, which pull in everything but the free node... and d_in.
    assert deleted == set(n.values()) - {n["d_free"]}
    assert node_ids(conn) & set(n.values()) == {n["d_free"]}
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == (0,)


def test_dry_run_callable_and_missing(backend: Backend, conn: psycopg.Connection,
                                      caplog: pytest.LogCaptureFixture) -> None:
    n, _ = every_link_type_graph(conn)
    seen: list[set[int]] = []
    result = backend.delete_nodes([n["d_free"], 888_888], dry_run=lambda pks: seen.append(pks) is None)
    assert result == {n["d_free"]} and seen == [{n["d_free"]}]
    assert n["d_free"] in node_ids(conn)
    with caplog.at_level(logging.WARNING, logger="fastdos.graph"):
        plan = backend.plan_deletion([888_888, n["d_free"]])
    assert plan.missing == [888_888] and plan.pks == {n["d_free"]}
    assert "888888" in caplog.text
    assert backend.delete_nodes([888_888], dry_run=False) == set()
    with pytest.raises(TypeError, match="dry_run"):
        backend.delete_nodes([n["d_free"]], dry_run="yes")  # type: ignore[arg-type]


def test_rule_validation_matches_aiida(backend: Backend, conn: psycopg.Connection) -> None:
    n, _ = every_link_type_graph(conn)
    with pytest.raises(ValidationError, match="unrecognized keywords: bogus_forward"):
        backend.delete_nodes([n["d_in"]], bogus_forward=True)
    with pytest.raises(ValueError, match="input rule input_calc_forward is not toggleable for ruleset DELETE"):
        backend.delete_nodes([n["d_in"]], input_calc_forward=False)
    with pytest.raises(ValueError, match="input rule create_backward is not toggleable"):
        backend.delete_nodes([n["d_in"]], dry_run=False, create_backward=False)
    with pytest.raises(ValueError, match="must be boolean"):
        backend.delete_nodes([n["d_in"]], create_forward=1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        backend.delete_group_nodes([1], nope=True)
    assert node_ids(conn) >= set(n.values())


def test_interrupted_deletion_leaves_everything(backend: Backend, conn: psycopg.Connection) -> None:
    n, links = every_link_type_graph(conn)
    user = conn.execute("SELECT id FROM db_dbuser LIMIT 1").fetchone()[0]  # type: ignore[index]
    group = conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (%s, 'g', 'core', now(), '', '{}', %s) RETURNING id", (uuid.uuid4(), user)
    ).fetchone()[0]  # type: ignore[index]
    conn.execute("INSERT INTO db_dbgroup_dbnodes (dbnode_id, dbgroup_id) VALUES (%s, %s)", (n["C"], group))
    # A foreign table with an immediate NO ACTION reference makes the last statement (DELETE FROM db_dbnode)
    # fail after memberships and links are already gone inside the transaction.
    conn.execute("CREATE TABLE blocker (node_id integer REFERENCES db_dbnode (id))")
    conn.execute("INSERT INTO blocker VALUES (%s)", (n["C2"],))
    before_links = conn.execute("SELECT count(*) FROM db_dblink").fetchone()
    with pytest.raises(Exception, match="blocker"):
        backend.delete_nodes([n["d_out"]], dry_run=False)
    assert node_ids(conn) >= set(n.values())
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == before_links == (len(links),)
    assert conn.execute("SELECT count(*) FROM db_dbgroup_dbnodes").fetchone() == (1,)
    # Nested in a caller's transaction: the failure rolls back the deletion's savepoint only.
    with backend.transaction() as tx:
        tx.execute("UPDATE db_dbnode SET label = 'kept' WHERE id = %s", (n["d_free"],))
        with pytest.raises(Exception, match="blocker"):
            backend.delete_nodes_and_connections([n["C2"]])
    assert conn.execute("SELECT label FROM db_dbnode WHERE id = %s", (n["d_free"],)).fetchone() == ("kept",)
    assert n["C2"] in node_ids(conn)


@pytest.fixture(params=["levels", "node_wise", "merge_often"])
def traversal_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a deletion test through the level traversal (sql/graph/traverse_levels.sql) as configured, through the
    node-wise statement it hands over to (no level allowed), and through the levels with their sorted arrays of
    reached nodes merged whenever the newer outgrows half of the older (test graphs never merge by default)."""
    if request.param == "node_wise":
        monkeypatch.setattr(graph, "WALK_NARROW_LEVELS", 0)
    if request.param == "merge_often":
        monkeypatch.setattr(graph, "WALK_NARROW", 0)
        monkeypatch.setattr(graph, "WALK_MERGE_MIN", 0)
    return str(request.param)


@pytest.mark.parametrize("seed", range(40))
def test_delete_matches_reference_on_random_graphs(backend: Backend, conn: psycopg.Connection, seed: int,
                                                   traversal_path: str) -> None:
    rng = random.Random(seed)
    kinds, spec = (random_provenance if seed % 2 else random_arbitrary)(rng, rng.randrange(5, 60))
    ids, links = build(conn, kinds, spec)
    for _ in range(6):
        toggles = random_toggles(rng)
        d = rules.resolve(rules.DELETE, toggles)
        start = set(rng.sample(ids, rng.randrange(1, 4)))
        assert backend.delete_nodes(start, **toggles) == reference_traverse(links, start, d.forward, d.backward)
    # One real deletion: what is left is exactly the complement, and no link dangles.
    toggles = random_toggles(rng)
    d = rules.resolve(rules.DELETE, toggles)
    start = {rng.choice(ids)}
    expected = reference_traverse(links, start, d.forward, d.backward)
    assert backend.delete_nodes(start, dry_run=False, **toggles) == expected
    assert node_ids(conn) == set(ids) - expected
    remaining = {(a, b, t) for a, b, t in links if a not in expected and b not in expected}
    got = {tuple(r) for r in conn.execute("SELECT input_id, output_id, type FROM db_dblink").fetchall()}
    assert got == remaining


def test_delete_group_nodes(backend: Backend, conn: psycopg.Connection, caplog: pytest.LogCaptureFixture) -> None:
    n, links = every_link_type_graph(conn)
    user = conn.execute("SELECT id FROM db_dbuser LIMIT 1").fetchone()[0]  # type: ignore[index]
    group = conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (%s, 'g', 'core', now(), '', '{}', %s) RETURNING id", (uuid.uuid4(), user)
    ).fetchone()[0]  # type: ignore[index]
    conn.execute("INSERT INTO db_dbgroup_dbnodes (dbnode_id, dbgroup_id) VALUES (%s, %s), (%s, %s)",
                 (n["C2"], group, n["d_free"], group))
    d = rules.resolve(rules.DELETE, {})
    expected = reference_traverse(links, {n["C2"], n["d_free"]}, d.forward, d.backward)
    with caplog.at_level(logging.WARNING, logger="fastdos.graph"):
        assert backend.delete_group_nodes([group, 777_777]) == expected
    assert "777777" in caplog.text
    assert backend.delete_group_nodes([group], dry_run=False) == expected
    assert conn.execute("SELECT count(*) FROM db_dbgroup WHERE id = %s", (group,)).fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM db_dbgroup_dbnodes").fetchone() == (0,)


# --- ancestors / descendants ------------------------------------------------------------------------------


@pytest.fixture(
    params=["one_statement", "level_walk", "handover_after_1", "dedup_budget", "never_narrow", "merge_often"]
)
def walk_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a traversal test through the capped recursive statement, and again past the cap (a cap of one row
    sends every non-empty walk on) through the level walk (sql/graph/walk_wide.sql) as configured, with the
    node-wise walk (sql/graph/walk_narrow.sql) taking over after its first level (every level counts as
    narrow), after its second (the dedup budget is spent as soon as anything was scanned), and never (no level
    is narrow); and the level walk alone with its two sorted arrays of reached nodes merged whenever the newer
    outgrows half of the older (both arrays searched at most levels; by default test graphs never merge)."""
    if request.param != "one_statement":
        monkeypatch.setattr(graph, "WALK_BASE_ROWS", 1)
        monkeypatch.setattr(graph, "WALK_ROWS_PER_START", 0)
    if request.param == "level_walk":
        monkeypatch.setattr(graph, "WALK_LEVELS_FIRST_STARTS", 1)  # (straight to it, as from 256 start nodes)
    if request.param == "handover_after_1":
        monkeypatch.setattr(graph, "WALK_NARROW", 10**9)
        monkeypatch.setattr(graph, "WALK_NARROW_LEVELS", 1)
    if request.param == "dedup_budget":
        monkeypatch.setattr(graph, "WALK_DEDUP_PER_NODE", 0)
        monkeypatch.setattr(graph, "WALK_DEDUP_BASE", 0)
    if request.param == "never_narrow":
        monkeypatch.setattr(graph, "WALK_NARROW", 0)
    if request.param == "merge_often":
        monkeypatch.setattr(graph, "WALK_LEVELS_FIRST_STARTS", 1)
        monkeypatch.setattr(graph, "WALK_NARROW", 0)
        monkeypatch.setattr(graph, "WALK_MERGE_MIN", 0)
    return str(request.param)


@pytest.mark.parametrize("seed", range(25))
def test_ancestors_descendants_match_bfs(backend: Backend, conn: psycopg.Connection, seed: int,
                                         walk_path: str) -> None:
    rng = random.Random(1000 + seed)
    kinds, spec = (random_provenance if seed % 2 else random_arbitrary)(rng, rng.randrange(5, 50))
    ids, links = build(conn, kinds, spec)
    for _ in range(5):
        start = rng.sample(ids, rng.randrange(1, 5))
        types = tuple(rng.sample(rules.LINK_TYPES, rng.randrange(1, 7))) if rng.random() < 0.5 \
            else rules.PROVENANCE_LINK_TYPES
        max_depth = rng.choice([None, None, 1, 2, 3])
        assert backend.get_descendants(start, types, max_depth) == reference_bfs(links, start, types, True, max_depth)
        assert backend.get_ancestors(start, types, max_depth) == reference_bfs(links, start, types, False, max_depth)


def test_many_start_nodes_on_a_chain(backend: Backend, conn: psycopg.Connection,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Every node of a chain is reachable from each later start at a different depth (the case that made an
    (id, depth) recursion produce n * starts rows: ancestors from 1000 ends took 26 s): the level walk gives
    each node once, and once the levels turn narrow the node-wise walk goes on from there."""
    n = 600
    ids, links = build(conn, ["data" if i % 2 == 0 else "calc" for i in range(n)],
                       [(i, i + 1, "input_calc" if i % 2 == 0 else "create") for i in range(n - 1)])
    start = ids[-300:]
    assert len(start) >= graph.WALK_LEVELS_FIRST_STARTS  # the level walk runs first
    with caplog.at_level(logging.DEBUG, logger="fastdos.graph"):
        ancestors = backend.get_ancestors(start)
    assert "the node-wise walk takes over" in caplog.text
    assert ancestors == reference_bfs(links, start, rules.PROVENANCE_LINK_TYPES, False)
    assert ancestors[ids[0]] == n - 300 and len(ancestors) == n - 1
    assert backend.get_ancestors(start, max_depth=3) == reference_bfs(links, start, rules.PROVENANCE_LINK_TYPES,
                                                                      False, 3)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="fastdos.graph"):
        bounded = backend.get_ancestors(start, max_depth=40)  # (handed over at level 33)
    assert bounded[ids[-340]] == 40 and ids[-341] not in bounded
    assert "the node-wise walk takes over" in caplog.text


def test_walk_of_many_small_levels_hands_over(backend: Backend, conn: psycopg.Connection,
                                               caplog: pytest.LogCaptureFixture,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Levels that are never narrow but small against what was reached (a chain of fat layers) re-sort the level
    walk's newest array of reached nodes at every level: past its budget (4 sorted elements per node) the
    node-wise walk takes the rest, with the same answer."""
    monkeypatch.setattr(graph, "WALK_DEDUP_BASE", 0)  # (the default lets small graphs through whatever their shape)
    monkeypatch.setattr(graph, "WALK_DEDUP_PER_NODE", 4)
    width, layers = 40, 100
    kinds = ["data" if layer % 2 == 0 else "calc" for layer in range(layers) for _ in range(width)]
    spec = [(layer * width + i, (layer + 1) * width + (i + j) % width, "input_calc" if layer % 2 == 0 else "create")
            for layer in range(layers - 1) for i in range(width) for j in (0, 1)]
    ids, links = build(conn, kinds, spec)
    with caplog.at_level(logging.DEBUG, logger="fastdos.graph"):
        descendants = backend.get_descendants(ids[:1])
    assert "the node-wise walk takes over" in caplog.text
    assert descendants == reference_bfs(links, ids[:1], rules.PROVENANCE_LINK_TYPES, True)


def test_walk_hand_over_inside_a_transaction(backend: Backend, conn: psycopg.Connection,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a caller's transaction the three walk statements run on its connection: they see its own
    writes, a second walk works, and the JIT switch and the session's settings are as they were after."""
    monkeypatch.setattr(graph, "WALK_BASE_ROWS", 1)
    monkeypatch.setattr(graph, "WALK_ROWS_PER_START", 0)
    monkeypatch.setattr(graph, "WALK_NARROW_LEVELS", 0)  # the node-wise walk takes over after the first level
    ids, _links = build(conn, ["data", "calc", "data"], [(0, 1, "input_calc"), (1, 2, "create")])
    with backend.transaction() as tx:
        before = tx.execute("SHOW plan_cache_mode").fetchone()
        jit = tx.execute("SHOW jit").fetchone()
        assert tx.execute("SHOW enable_indexscan").fetchone() == ("on",)
        assert backend.get_descendants(ids[:1]) == {ids[1]: 1, ids[2]: 2}
        assert backend.get_ancestors(ids[2:]) == {ids[1]: 1, ids[0]: 2}
        assert tx.execute("SHOW plan_cache_mode").fetchone() == before
        assert tx.execute("SHOW jit").fetchone() == jit  # the walk switched JIT off for itself only
        assert tx.execute("SHOW enable_indexscan").fetchone() == ("on",)  # and its plain index scans
        backend.delete_nodes_and_connections([ids[2]])
        assert backend.get_descendants(ids[:1]) == {ids[1]: 1}
    assert backend.get_descendants(ids[:1]) == {ids[1]: 1}


def test_traversal_terminates_on_cycles(backend: Backend, conn: psycopg.Connection, walk_path: str) -> None:
    # data -> calc -> data -> calc -> back to the first data: a directed cycle of provenance links.
    ids, _links = build(conn, ["data", "calc", "data", "calc"],
                       [(0, 1, "input_calc"), (1, 2, "create"), (2, 3, "input_calc"), (3, 0, "create")])
    assert backend.get_descendants([ids[0]]) == {ids[1]: 1, ids[2]: 2, ids[3]: 3, ids[0]: 4}
    assert backend.get_ancestors([ids[0]], max_depth=2) == {ids[3]: 1, ids[2]: 2}
    assert backend.delete_nodes([ids[2]]) == set(ids)


def test_traversal_bad_input(backend: Backend, conn: psycopg.Connection) -> None:
    ids, _ = build(conn, ["data", "calc"], [(0, 1, "input_calc")])
    with pytest.raises(ValueError, match="unknown link types.*'bogus'"):
        backend.get_ancestors(ids, link_types=("create", "bogus"))
    with pytest.raises(ValueError, match="no link types"):
        backend.get_descendants(ids, link_types=())
    with pytest.raises(ValueError, match="max_depth"):
        backend.get_descendants(ids, max_depth=0)
    with pytest.raises(TypeError, match="max_depth"):
        backend.get_descendants(ids, max_depth=1.5)  # type: ignore[arg-type]
    assert backend.get_descendants([]) == {}
    assert backend.get_descendants([999_999]) == {}
    assert backend.get_descendants(ids, link_types="input_calc") == {ids[1]: 1}


def test_walks_leave_jit_alone(backend: Backend, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch,
                               walk_path: str) -> None:
    """The walk statements switch JIT off for themselves only: in the same pipeline outside a transaction, and
    off-and-back inside one."""
    monkeypatch.setattr(graph, "WALK_JIT_STARTS", 1)  # (the switch applies from 50 start nodes by default)
    ids, _links = build(conn, ["data", "calc", "data"], [(0, 1, "input_calc"), (1, 2, "create")])
    for _ in range(3):
        assert backend.get_descendants(ids[:1], use_closure=False) == {ids[1]: 1, ids[2]: 2}
    with backend.transaction() as tx:
        assert tx.execute("SHOW jit").fetchone() == ("on",)  # a pooled connection the walks used
        tx.execute("SET LOCAL jit = on")
        assert backend.get_ancestors(ids[2:], use_closure=False) == {ids[1]: 1, ids[0]: 2}
        assert tx.execute("SHOW jit").fetchone() == ("on",)


def test_pipelined_walk_error_is_converted(profile: Profile, conn: psycopg.Connection,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A server error in the pipelined level walk (here: a lock it cannot get within lock_timeout) comes out as
    fastdos' converted error, like any other statement's, and the storage is unchanged."""
    monkeypatch.setattr(graph, "WALK_JIT_STARTS", 1)
    ids, _links = build(conn, ["data", "calc", "data"], [(0, 1, "input_calc"), (1, 2, "create")])
    dbname = conn.execute("SELECT current_database()").fetchone()
    assert dbname is not None
    conn.execute(sql.SQL("ALTER DATABASE {} SET lock_timeout = '50ms'").format(sql.Identifier(dbname[0])))
    try:
        with Backend(profile) as fresh, psycopg.connect(profile.conninfo()) as locker:
            locker.execute("LOCK TABLE db_dblink IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(FastdosError) as info:
                fresh.get_descendants(ids[:1], use_closure=False)
            assert not isinstance(info.value, psycopg.Error)
            locker.rollback()
            assert fresh.get_descendants(ids[:1], use_closure=False) == {ids[1]: 1, ids[2]: 2}
    finally:
        conn.execute(sql.SQL("ALTER DATABASE {} RESET lock_timeout").format(sql.Identifier(dbname[0])))
