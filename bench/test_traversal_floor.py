"""The probe floor of ancestors/descendants: what an exact walk over aiida's indexes must do, beside both walks.

For each traversal shape of bench/test_graph.py (chain, wide, random DAG; from 1 and from 10^3 starts) one
run prints, side by side: hop_by_hop (aiida's level-by-level algorithm in plain psycopg), fastdos'
``get_ancestors``/``get_descendants``, and the *probe floor* — one statement that expands every reached node
(and every start) once, ``SELECT count(*) FROM db_dblink WHERE <source> = ANY(starts + reached) AND type =
ANY(types)``: the index probes and heap fetches of the walk without its levels, dedup or transfer. No exact
walk over aiida's link indexes can be cheaper. Results of both walks are asserted equal.

Not a pytest-benchmark case (it is skipped under ``--benchmark-only``, i.e. by ``make bench``); run it with
``FASTDOS_BENCH_N=100000 .venv/bin/python -m pytest bench/test_traversal_floor.py -s``. Recorded in
bench/notes/traversal.md.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench.test_graph import N, dag, graphs, hop_by_hop_descendants  # noqa: F401  (fixtures)
from fastdos import rules
from fastdos.backend import Backend

TYPES = list(rules.PROVENANCE_LINK_TYPES)


def fastest(fn: Callable[[], Any], rounds: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(rounds):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best * 1e3, out


def shapes(graphs: dict[str, Any], dag: tuple[Backend, psycopg.Connection, list[int]]) -> list[tuple[Any, ...]]:  # noqa: F811
    """(name, backend, connection, start ids, upwards, rounds) in bench/test_graph.py's choice of starts."""
    chain = graphs["chain"]
    dag_backend, dag_conn, ids = dag
    half = len(ids) // 2
    out: list[tuple[Any, ...]] = [
        ("chain desc from 1", graphs["backend"], graphs["conn"], chain[:1], False, 1),
        ("chain anc from 1000", graphs["backend"], graphs["conn"], chain[-1000:], True, 1),
        ("wide desc from 1", graphs["wide_backend"], graphs["wide_conn"], graphs["inputs"][:1], False, 20),
        ("wide desc from 1000", graphs["wide_backend"], graphs["wide_conn"], graphs["inputs"][:1000], False, 10),
    ]
    for starts in (1, 1000):
        rng = random.Random(starts)
        for up in (True, False):
            if starts == 1:
                start = [ids[-1]] if up else [ids[0]]
            else:
                start = rng.sample(ids[half:], starts) if up else rng.sample(ids[:half], starts)
            out.append((f"DAG {'anc' if up else 'desc'} from {starts}", dag_backend, dag_conn, start, up, 5))
    return out


def measure(backend: Backend, conn: psycopg.Connection, start: list[int], up: bool, rounds: int) -> list[float]:
    """[hop_by_hop ms, fastdos ms, probe floor ms, reached, levels] of one shape, in this order, one run."""
    walk = backend.get_ancestors if up else backend.get_descendants
    hop, expected = fastest(lambda: hop_by_hop_descendants(conn, start, rules.PROVENANCE_LINK_TYPES, up), rounds)
    ours, result = fastest(lambda: walk(start, use_closure=False), max(rounds, 3))
    assert result == expected and result
    everything = sorted(set(start) | set(result))
    floor_sql = (
        "SELECT count(*) FROM db_dblink WHERE output_id = ANY(%s) AND type = ANY(%s)"
        if up
        else "SELECT count(*) FROM db_dblink WHERE input_id = ANY(%s) AND type = ANY(%s)"
    )
    floor, _ = fastest(lambda: conn.execute(floor_sql, (everything, TYPES)).fetchone(), 5)
    return [hop, ours, floor, len(result), max(result.values())]


def test_probe_floor(graphs: dict[str, Any], dag: tuple[Backend, psycopg.Connection, list[int]]) -> None:  # noqa: F811
    print(f"\nN = {N}")
    print("| shape | reached | levels | hop_by_hop ms | fastdos ms | probe floor ms | floor / hop_by_hop |")
    for name, backend, conn, start, up, rounds in shapes(graphs, dag):
        hop, ours, floor, reached, levels = measure(backend, conn, start, up, rounds)
        print(f"| {name} | {reached:.0f} | {levels:.0f} | {hop:.1f} | {ours:.1f} | {floor:.1f} | {floor / hop:.2f} |")
