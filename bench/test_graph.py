"""Graph benchmarks: deletion with traversal, ancestors/descendants — fastdos beside aiida's algorithm.

Comparison in the same run (``hop_by_hop``): aiida-core's ``traverse_graph`` shape transcribed to raw psycopg —
a Python fixpoint that, per hop, sends one query for the forward rules and one for the backward rules of the
walker set (aiida's QueryBuilder sends the same two per hop, plus ORM overhead not counted here), then the
same four deletion statements. It is therefore a *lower bound* on aiida-core's time; the real aiida-core
figures come from the separate aiida venv.
The walks of a few ms (and the 1.3 s chain ancestors) time their hop-by-hop reference in alternating rounds
with their own (bench/interleave.py); their gated ratio comes from those rounds.

Workloads (``FASTDOS_BENCH_N``, default 10^4):

* chain: ``d0 -input_calc-> c1 -create-> d1 -input_calc-> c2 ...`` of N nodes; delete from d0 (everything).
* wide: N/4 work chains, each ``d -input_work-> W -call_calc-> C``, ``d -input_calc-> C``, ``C -create-> o``,
  ``W -return-> o``; delete from all work chains (W, C, o go; the inputs stay).
* ancestors/descendants on both graphs from 1 and from 10^3 start nodes (recursive statement; on the wide
  graph also through the closure table).
* large (``FASTDOS_BENCH_LARGE=1``): a wide graph of 10^6 nodes (``FASTDOS_BENCH_LARGE_NODES``); 10^5 of them
  (the W, C, o of the first work chains) deleted with ``delete_nodes_and_connections`` beside aiida-core's
  backend ``delete_nodes_and_connections``, each on its own copy of the same database.

Deletion methods: ``fastdos`` chooses its strategy by size (fastdos/bulk_delete.py; ``extra_info["strategy"]``);
``fastdos_plain`` forces the four array statements with PostgreSQL's per-row foreign-key triggers, i.e. the
path before bench/notes/graph.md#bulk-deletion; ``fastdos_replica`` / ``fastdos_constraints`` force the others.

Run: ``.venv/bin/python -m pytest bench/test_graph.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from bench.conftest import _storage
from bench.interleave import MS_ROUNDS, pedantic_interleaved
from fastdos import bulk_delete, graph, rules
from fastdos.backend import Backend
from tests.conftest import PgServer, create_database, drop_database, link_new_container, make_profile
from tests.test_graph import build
from tests.test_graph_aiida import AIIDA_PYTHON, run_graph_op

N = int(os.environ.get("FASTDOS_BENCH_N", "10000"))


def chain(conn: psycopg.Connection, n: int = N) -> list[int]:
    kinds = ["data" if i % 2 == 0 else "calc" for i in range(n)]
    links = [(i, i + 1, "input_calc" if i % 2 == 0 else "create") for i in range(n - 1)]
    ids, _ = build(conn, kinds, links)
    conn.execute("ANALYZE db_dbnode; ANALYZE db_dblink")
    return ids


def wide(conn: psycopg.Connection, n: int = N) -> tuple[list[int], list[int]]:
    """Returns (work chain ids, input data ids)."""
    kinds: list[str] = []
    links: list[tuple[int, int, str]] = []
    for i in range(n // 4):
        d, w, c, o = 4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3
        kinds += ["data", "work", "calc", "data"]
        links += [(d, w, "input_work"), (w, c, "call_calc"), (d, c, "input_calc"), (c, o, "create"),
                  (w, o, "return")]
    ids, _ = build(conn, kinds, links)
    conn.execute("ANALYZE db_dbnode; ANALYZE db_dblink")
    return ids[1::4], ids[0::4]


def random_dag(conn: psycopg.Connection, n: int = N, seed: int = 1) -> list[int]:
    """A provenance DAG with shortcuts: each new data node is created by a recent calc (80 %) or any calc;
    each calc takes 1-3 inputs from recent data (70 %) or any data. Nodes are reachable at many depths, the
    case that made the old (id, depth) recursion explode."""
    rng = random.Random(seed)
    kinds: list[str] = []
    links: list[tuple[int, int, str]] = []
    data: list[int] = []
    calcs: list[int] = []
    for i in range(n):
        if i < 10 or (calcs and rng.random() < 0.5):
            kinds.append("data")
            if calcs and i >= 10:
                links.append((rng.choice(calcs[-50:]) if rng.random() < 0.8 else rng.choice(calcs), i, "create"))
            data.append(i)
        else:
            kinds.append("calc")
            for _ in range(rng.randint(1, 3)):
                links.append((rng.choice(data[-30:]) if rng.random() < 0.7 else rng.choice(data), i, "input_calc"))
            calcs.append(i)
    ids, _ = build(conn, kinds, list(dict.fromkeys(links)))
    conn.execute("ANALYZE db_dbnode; ANALYZE db_dblink")
    return ids


def clear(conn: psycopg.Connection) -> None:
    conn.execute("DELETE FROM db_dblink")
    conn.execute("DELETE FROM db_dbnode")


# --- aiida's algorithm, hop by hop ---------------------------------------------------------------------------


def hop_by_hop_traverse(conn: psycopg.Connection, start: list[int], forward: tuple[str, ...],
                        backward: tuple[str, ...]) -> set[int]:
    reached = set(start)
    walkers = list(start)
    while walkers:
        new: set[int] = set()
        new.update(r[0] for r in conn.execute(
            "SELECT output_id FROM db_dblink WHERE input_id = ANY(%s) AND type = ANY(%s)", (walkers, list(forward))))
        new.update(r[0] for r in conn.execute(
            "SELECT input_id FROM db_dblink WHERE output_id = ANY(%s) AND type = ANY(%s)", (walkers, list(backward))))
        walkers = list(new - reached)
        reached.update(walkers)
    return reached


def hop_by_hop_delete(conn: psycopg.Connection, start: list[int]) -> set[int]:
    d = rules.resolve(rules.DELETE, {})
    pks = hop_by_hop_traverse(conn, start, d.forward, d.backward)
    ids = sorted(pks)
    with conn.transaction():
        conn.execute("DELETE FROM db_dbgroup_dbnodes WHERE dbnode_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM db_dblink WHERE input_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM db_dblink WHERE output_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM db_dbnode WHERE id = ANY(%s)", (ids,))
    return pks


def hop_by_hop_descendants(conn: psycopg.Connection, start: list[int], types: tuple[str, ...],
                           up: bool = False) -> dict[int, int]:
    """Breadth-first from the client, one query per level (``up``: ancestors)."""
    query = ("SELECT DISTINCT input_id FROM db_dblink WHERE output_id = ANY(%s) AND type = ANY(%s)" if up else
             "SELECT DISTINCT output_id FROM db_dblink WHERE input_id = ANY(%s) AND type = ANY(%s)")
    depth: dict[int, int] = {}
    frontier, level = list(start), 0
    while frontier:
        level += 1
        rows = conn.execute(query, (frontier, list(types))).fetchall()
        frontier = [r[0] for r in rows if r[0] not in depth]
        depth.update((i, level) for i in frontier)
    return depth


# --- deletion ---------------------------------------------------------------------------------------------------


class _StrategyLog(logging.Handler):
    """The strategy fastdos' deletion reports (``deleted N node(s) with the X strategy``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.strategies: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("deleted") and message.endswith(" strategy"):
            self.strategies.append(message.rsplit(" ", 2)[1])

    def __enter__(self) -> _StrategyLog:
        logger = logging.getLogger("fastdos.graph")
        self.level_before = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("fastdos.graph")
        logger.removeHandler(self)
        logger.setLevel(self.level_before)


def _delete_bench(benchmark, backend: Backend, conn: psycopg.Connection, method: str,
                  setup: Callable[[], list[int]], expected: Callable[[list[int]], int], tmp_path: Path) -> None:
    state: dict[str, list[int]] = {}
    if method == "aiida" and not AIIDA_PYTHON.exists():
        pytest.skip(f"aiida-core reference venv missing ({AIIDA_PYTHON}); create it with tests/aiida/setup_env.sh")

    def prepare() -> None:
        clear(conn)
        state["start"] = setup()

    def run() -> set[int]:
        if method == "fastdos":
            with _StrategyLog() as log:
                result = backend.delete_nodes(state["start"], dry_run=False)
            benchmark.extra_info["strategy"] = log.strategies
            return result
        if method.startswith("fastdos_"):
            return graph.delete_nodes_using(backend.context, state["start"], method.split("_", 1)[1])
        if method == "aiida":
            # The real aiida-core delete_nodes on the same database; the benchmark's time includes the
            # interpreter start and profile load (~2-3 s), extra_info holds the delete_nodes call alone.
            result = run_graph_op("delete", backend.profile, tmp_path, pks=state["start"], dry_run=False)
            assert result["deleted"] is True
            benchmark.extra_info["aiida_delete_nodes_s"] = result["seconds"]
            return set(result["pks"])
        return hop_by_hop_delete(conn, state["start"])

    # fastdos: one warm-up round (the first deletion of a run paid 0.2-0.5 s more, whichever strategy came first:
    # bench/notes/graph.md#bulk-deletion); aiida-core's figure is its call alone, after its imports and profile load.
    rounds, warmup = (3, 1) if method.startswith("fastdos") else (1, 0)
    result = benchmark.pedantic(run, setup=prepare, rounds=rounds, iterations=1, warmup_rounds=warmup)
    assert len(result) == expected(state["start"])
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone()[0] == N - len(result)  # type: ignore[index]
    benchmark.extra_info["load"] = os.getloadavg()


@pytest.mark.parametrize("method", ["fastdos", "hop_by_hop", "aiida"])
def test_delete_chain(benchmark, bench_backend: Backend, bench_conn: psycopg.Connection, method: str,
                      tmp_path: Path) -> None:
    benchmark.extra_info.update(nodes=N, graph="chain")
    _delete_bench(benchmark, bench_backend, bench_conn, method, lambda: chain(bench_conn)[:1], lambda _: N,
                  tmp_path)


@pytest.mark.parametrize("method", ["fastdos", "fastdos_plain", "fastdos_replica", "hop_by_hop", "aiida"])
def test_delete_wide(benchmark, bench_backend: Backend, bench_conn: psycopg.Connection, method: str,
                     tmp_path: Path) -> None:
    benchmark.extra_info.update(nodes=N, graph="wide")
    _delete_bench(benchmark, bench_backend, bench_conn, method, lambda: wide(bench_conn)[0],
                  lambda start: 3 * len(start), tmp_path)


@pytest.mark.parametrize("deleted", [30, 300, 600, 1200, 3000])
@pytest.mark.parametrize("strategy", list(bulk_delete.STRATEGIES))
def test_delete_threshold(benchmark, bench_backend: Backend, bench_conn: psycopg.Connection, strategy: str,
                          deleted: int) -> None:
    """Small deletions (W, C, o of deleted/3 work chains of the wide graph) per forced strategy: where the fixed
    cost of the set-wise strategies (lock record, catalog reads, temporary table) is paid back
    (bulk_delete.MIN_BULK_NODES)."""
    state: dict[str, list[int]] = {}

    def prepare() -> None:
        clear(bench_conn)
        state["start"] = wide(bench_conn)[0][: deleted // 3]

    def run() -> set[int]:
        return graph.delete_nodes_using(bench_backend.context, state["start"], strategy)

    result = benchmark.pedantic(run, setup=prepare, rounds=3, iterations=1)
    assert len(result) == deleted
    benchmark.extra_info.update(nodes=N, deleted=deleted, load=os.getloadavg())


# --- a large deletion: 10^5 of 10^6 nodes, beside aiida-core's backend call ----------------------------------

LARGE = os.environ.get("FASTDOS_BENCH_LARGE") == "1"
LARGE_NODES = int(os.environ.get("FASTDOS_BENCH_LARGE_NODES", "1000000"))


@pytest.fixture(scope="module")
def large_storage(pg_server: PgServer, template_db: str,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, list[int]]]:
    """A database with the wide graph of LARGE_NODES nodes (no connection left open, so it can be copied),
    its repository folder, and the ids to delete: W, C, o of the first LARGE_NODES / 30 work chains."""
    name = f"fastdos_bench_large_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name, template=template_db)
    root = tmp_path_factory.mktemp("large")
    prof = link_new_container(make_profile(pg_server, name, root / "repo"))
    try:
        with psycopg.connect(prof.conninfo(), autocommit=True) as conn:
            works, _ = wide(conn, LARGE_NODES)
            conn.execute("VACUUM ANALYZE")
        chains = LARGE_NODES // 30
        yield name, root / "repo", sorted(w + k for w in works[:chains] for k in range(3))
    finally:
        drop_database(pg_server, name)


@pytest.mark.skipif(not LARGE, reason="set FASTDOS_BENCH_LARGE=1 (builds a 10^6-node storage)")
@pytest.mark.parametrize("method", ["fastdos", "fastdos_plain", "fastdos_constraints", "aiida"])
def test_delete_large(benchmark, pg_server: PgServer, large_storage: tuple[str, Path, list[int]], method: str,
                      tmp_path: Path) -> None:
    """10^5 nodes by id (no traversal) from a 10^6-node storage; every method on its own copy of it.

    ``fastdos``: ``delete_nodes_and_connections`` inside ``transaction()`` (a caller's transaction: no DDL, so
    the replica strategy where the role may set it); ``fastdos_constraints``: ``delete_nodes_using`` of the
    same ids, which expands them by the rules first (the same set here) in its own transaction, forcing the
    dropped-and-validated keys; ``aiida``: aiida-core's backend ``delete_nodes_and_connections`` in its venv,
    time of the call and its transaction (``extra_info``)."""
    if method == "aiida" and not AIIDA_PYTHON.exists():
        pytest.skip(f"aiida-core reference venv missing ({AIIDA_PYTHON})")
    base, repository, ids = large_storage
    copy = f"{base}_{method}"
    create_database(pg_server, copy, template=base)
    prof = make_profile(pg_server, copy, repository)
    try:
        with Backend(prof) as backend, psycopg.connect(prof.conninfo(), autocommit=True) as conn:
            conn.execute("SELECT count(*) FROM db_dbnode; SELECT count(*) FROM db_dblink")  # warm the cache alike

            def run() -> None:
                if method == "aiida":
                    result = run_graph_op("delete_connections", prof, tmp_path, pks=ids)
                    benchmark.extra_info["aiida_delete_nodes_and_connections_s"] = result["seconds"]
                elif method == "fastdos_constraints":
                    with _StrategyLog() as log:
                        graph.delete_nodes_using(backend.context, ids, "constraints")
                    benchmark.extra_info["strategy"] = log.strategies
                else:
                    with _StrategyLog() as log, backend.transaction():
                        strategy = None if method == "fastdos" else "plain"
                        graph.delete_nodes_and_connections(backend.context, ids, strategy=strategy)
                    benchmark.extra_info["strategy"] = log.strategies

            benchmark.pedantic(run, rounds=1, iterations=1)
            left = conn.execute("SELECT count(*) FROM db_dbnode").fetchone()[0]  # type: ignore[index]
            assert left == LARGE_NODES - len(ids)
            benchmark.extra_info.update(nodes=LARGE_NODES, deleted=len(ids), load=os.getloadavg())
            if method.startswith("fastdos"):
                assert backend.check_integrity(repository=False).ok
    finally:
        drop_database(pg_server, copy)


# --- ancestors / descendants ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graphs(module_storage: tuple[Backend, psycopg.Connection], pg_server: PgServer, template_db: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The chain in one storage, the wide graph with a built closure table in another (the chain's closure
    would hold N^2/2 rows: see bench/notes/graph.md)."""
    backend, conn = module_storage
    chain_ids = chain(conn)
    storages = _storage(pg_server, template_db, tmp_path_factory.mktemp("wide"))
    wide_backend, wide_conn = next(storages)
    works, inputs = wide(wide_conn)
    wide_backend.install_closure()
    started = time.perf_counter()
    report = wide_backend.refresh_closure(row_budget=None)
    yield {"backend": backend, "conn": conn, "chain": chain_ids, "wide_backend": wide_backend,
           "wide_conn": wide_conn, "works": works, "inputs": inputs,
           "closure_seconds": time.perf_counter() - started, "closure_rows": report.row_count}
    storages.close()


@pytest.mark.parametrize("method", ["recursive", "hop_by_hop"])
def test_descendants_chain_from_1(benchmark, graphs: dict[str, object], method: str) -> None:
    backend, conn, ids = graphs["backend"], graphs["conn"], graphs["chain"]
    assert isinstance(backend, Backend) and isinstance(conn, psycopg.Connection) and isinstance(ids, list)
    if method == "recursive":
        result = benchmark(backend.get_descendants, ids[:1], use_closure=False)
    else:
        result = benchmark.pedantic(hop_by_hop_descendants, args=(conn, ids[:1], rules.PROVENANCE_LINK_TYPES),
                                    rounds=1, iterations=1)
    assert len(result) == N - 1 and result[ids[-1]] == N - 1


@pytest.mark.parametrize("method", ["recursive", "hop_by_hop"])
def test_ancestors_chain_from_1000(benchmark, graphs: dict[str, object], method: str) -> None:
    backend, conn, ids = graphs["backend"], graphs["conn"], graphs["chain"]
    assert isinstance(backend, Backend) and isinstance(conn, psycopg.Connection) and isinstance(ids, list)
    start = ids[-1000:]
    if method == "recursive":
        # interleaved with its reference (bench/interleave.py): 1.2-1.4 s each, so three rounds
        result = pedantic_interleaved(benchmark, lambda: backend.get_ancestors(start, use_closure=False), None,
                                      lambda: hop_by_hop_descendants(conn, start, rules.PROVENANCE_LINK_TYPES, True),
                                      rounds=3)
    else:
        result = benchmark.pedantic(hop_by_hop_descendants, args=(conn, start, rules.PROVENANCE_LINK_TYPES, True),
                                    rounds=1, iterations=1)
    assert len(result) == N - 1 and result[ids[0]] == N - 1000


@pytest.mark.parametrize("starts", [1, 1000])
@pytest.mark.parametrize("method", ["recursive", "closure", "hop_by_hop"])
def test_wide_ancestors_descendants(benchmark, graphs: dict[str, object], method: str, starts: int) -> None:
    backend, conn, works, inputs = graphs["wide_backend"], graphs["wide_conn"], graphs["works"], graphs["inputs"]
    assert isinstance(backend, Backend) and isinstance(conn, psycopg.Connection)
    assert isinstance(works, list) and isinstance(inputs, list)
    benchmark.extra_info.update(closure_rows=graphs["closure_rows"], closure_build_s=graphs["closure_seconds"])
    start = inputs[:starts]  # (fewer when FASTDOS_BENCH_N < 4000)
    def reference() -> dict[int, int]:
        return hop_by_hop_descendants(conn, start, rules.PROVENANCE_LINK_TYPES)

    if method == "hop_by_hop":
        result = benchmark(reference)
    else:
        def run() -> dict[int, int]:
            return backend.get_descendants(start, use_closure=method == "closure")
        result = pedantic_interleaved(benchmark, run, None, reference, MS_ROUNDS)
    assert len(result) == 2 * len(start) and set(result.values()) == {1, 2}


@pytest.fixture(scope="module")
def dag(pg_server: PgServer, template_db: str,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Backend, psycopg.Connection, list[int]]]:
    """The random provenance DAG (``random_dag``) in its own storage."""
    storages = _storage(pg_server, template_db, tmp_path_factory.mktemp("dag"))
    backend, conn = next(storages)
    yield backend, conn, random_dag(conn)
    storages.close()


@pytest.mark.parametrize("direction", ["ancestors", "descendants"])
@pytest.mark.parametrize("starts", [1, 1000])
@pytest.mark.parametrize("method", ["recursive", "hop_by_hop"])
def test_dag_ancestors_descendants(benchmark, dag: tuple[Backend, psycopg.Connection, list[int]], method: str,
                                   starts: int, direction: str) -> None:
    backend, conn, ids = dag
    rng = random.Random(starts)
    half = len(ids) // 2
    # ancestors from the later half, descendants from the earlier half (one start: the last / first node)
    if starts == 1:
        start = [ids[-1]] if direction == "ancestors" else [ids[0]]
    else:
        start = rng.sample(ids[half:], starts) if direction == "ancestors" else rng.sample(ids[:half], starts)
    up = direction == "ancestors"
    def reference() -> dict[int, int]:
        return hop_by_hop_descendants(conn, start, rules.PROVENANCE_LINK_TYPES, up)

    if method == "hop_by_hop":
        result = benchmark(reference)
    else:
        walk = backend.get_ancestors if up else backend.get_descendants

        def run() -> dict[int, int]:
            return walk(start, use_closure=False)
        result = pedantic_interleaved(benchmark, run, None, reference, MS_ROUNDS)
    assert result == hop_by_hop_descendants(conn, start, rules.PROVENANCE_LINK_TYPES, up)
    assert result  # (the single start nodes reach tens to thousands of nodes, the 1000-start sets thousands)
