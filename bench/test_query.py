"""QueryBuilder benchmarks: fastdos' index-friendly SQL beside the SQL aiida-core's QueryBuilder emits.

Storage: ``FASTDOS_BENCH_QUERY_NODES`` nodes (10^5 by default, 10^6 with ``FASTDOS_BENCH_LARGE=1``) in
chains of five — data -input_calc-> CalcJob -create-> data -input_calc-> CalcJob -create-> data — so 40 %
are process nodes with ``process_state``/``exit_status``/``sealed``/``process_label``; the shipped process
indexes are installed. Each case runs twice in the same session: ``fastdos`` (the builder) and ``aiida``
(the statement aiida-core 2.9.4 generates for the same query, written out by hand: every attribute filter in
``CASE WHEN jsonb_typeof(...) = '<type>' THEN ... ELSE false END``, descendants through a UNION ALL CTE).
Both sides must return the same rows. The ``fastdos`` benchmark times aiida's statement in alternating
rounds with its own (bench/interleave.py), and its gated ratio comes from those rounds.

A third figure, aiida-core's QueryBuilder itself (``.venv-aiida``, tests/aiida/qb_compare.py in timing mode,
best of ``AIIDA_QB_ROUNDS`` runs, Python overhead included), goes into the ``extra_info`` of the fastdos
benchmark of each case as ``aiida_qb_ms`` (or ``aiida_qb_skipped`` with the reason when the venv is missing).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.interleave import MS_ROUNDS, pedantic_interleaved
from bench.sizes import LARGE
from fastdos.backend import Backend
from fastdos.query import install_process_indexes
from tests.test_aiida_interop import run_aiida_script

ROOT = Path(__file__).resolve().parent.parent
AIIDA_PYTHON = ROOT / ".venv-aiida" / "bin" / "python"
AIIDA_QB_SCRIPT = ROOT / "tests" / "aiida" / "qb_compare.py"
AIIDA_QB_ROUNDS = 3

N_NODES = int(os.environ.get("FASTDOS_BENCH_QUERY_NODES", 10**6 if LARGE else 10**5))
STATES = "CASE WHEN c %% 100 = 1 THEN 'excepted' WHEN c %% 10 = 3 THEN 'killed' ELSE 'finished' END"

SEED = (
    """
INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras,
                       repository_metadata, dbcomputer_id, user_id)
SELECT gen_random_uuid(),
       CASE WHEN i %% 5 IN (1, 3) THEN 'process.calculation.calcjob.CalcJobNode.' ELSE 'data.core.int.Int.' END,
       NULL, 'label' || (i %% 100), '', now(), now(),
       CASE WHEN i %% 5 IN (1, 3) THEN jsonb_build_object(
                'process_state', (SELECT """
    + STATES
    + """ FROM (SELECT i AS c) AS x),
                'exit_status', CASE WHEN i %% 100 < 2 THEN 1 ELSE 0 END, 'sealed', true,
                'process_label', 'Calc' || (i %% 7))
            ELSE jsonb_build_object('value', i %% 1000) END,
       '{}', '{}', NULL, %(user)s
FROM generate_series(0, %(n)s - 1) AS i
ORDER BY i
"""
)
LINKS = """
INSERT INTO db_dblink (input_id, output_id, label, type)
SELECT a.id, a.id + 1, 'l', CASE WHEN (a.id - m.lo) % 5 IN (0, 2) THEN 'input_calc' ELSE 'create' END
FROM db_dbnode AS a, (SELECT min(id) AS lo FROM db_dbnode) AS m
WHERE (a.id - m.lo) % 5 < 4
"""


@pytest.fixture(scope="module")
def qstore(module_storage: tuple[Backend, psycopg.Connection]) -> tuple[Backend, psycopg.Connection, list[int]]:
    backend, conn = module_storage
    user = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('q@bench', '', '', '') RETURNING id"
    ).fetchone()
    assert user is not None
    conn.execute(SEED, {"user": user[0], "n": N_NODES})
    conn.execute(LINKS)
    install_process_indexes(backend)
    conn.execute("VACUUM ANALYZE db_dbnode")
    conn.execute("VACUUM ANALYZE db_dblink")
    starts = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM db_dbnode WHERE (id - (SELECT min(id) FROM db_dbnode)) % 5 = 0 ORDER BY id LIMIT 1000"
        )
    ]
    return backend, conn, starts


AIIDA_STATE = (
    "SELECT db_dbnode_1.id FROM db_dbnode AS db_dbnode_1 WHERE CAST(db_dbnode_1.node_type AS VARCHAR) LIKE %(t)s"
    " AND CASE WHEN (jsonb_typeof(db_dbnode_1.attributes #> %(p)s) = 'string')"
    " THEN (db_dbnode_1.attributes #>> %(p)s) = %(v)s ELSE false END"
)
AIIDA_STATE_LABEL = AIIDA_STATE + " AND db_dbnode_1.label = %(label)s"
AIIDA_COUNT = (
    "SELECT count(*) FROM (SELECT db_dbnode_1.id FROM db_dbnode AS db_dbnode_1"
    " WHERE CAST(db_dbnode_1.node_type AS VARCHAR) LIKE %(t)s"
    " AND CASE WHEN (jsonb_typeof(db_dbnode_1.attributes #> %(p)s) = 'number')"
    " THEN CAST((db_dbnode_1.attributes #>> %(p)s) AS FLOAT) > %(v)s ELSE false END) AS anon_1"
)
AIIDA_DESCENDANTS = """
WITH RECURSIVE anon_2(ancestor_id, descendant_id, depth) AS (
  SELECT db_dblink_1.input_id, db_dblink_1.output_id, CAST(0 AS INTEGER)
  FROM db_dbnode AS db_dbnode_3 JOIN db_dblink AS db_dblink_1 ON db_dblink_1.input_id = db_dbnode_3.id
  WHERE db_dbnode_3.id IN (SELECT unnest(%(ids)s::integer[])) AND db_dblink_1.type IN ('create', 'input_calc')
  UNION ALL
  SELECT anon_2.ancestor_id, db_dblink_2.output_id, anon_2.depth + CAST(1 AS INTEGER)
  FROM anon_2 JOIN db_dblink AS db_dblink_2 ON db_dblink_2.input_id = anon_2.descendant_id
  WHERE db_dblink_2.type IN ('create', 'input_calc'))
SELECT db_dbnode_2.id FROM db_dbnode AS db_dbnode_1
JOIN anon_2 ON anon_2.ancestor_id = db_dbnode_1.id
JOIN db_dbnode AS db_dbnode_2 ON anon_2.descendant_id = db_dbnode_2.id
WHERE db_dbnode_1.id IN (SELECT unnest(%(ids)s::integer[]))
"""
CALC = "process.calculation.calcjob.CalcJobNode."


def cases(starts: list[int]) -> dict[str, tuple[Callable[[Backend], Any], str, dict[str, Any]]]:
    return {
        "attribute": (
            lambda b: (
                b.query().append(CALC, project="id", filters={"attributes.process_state": "excepted"}).all(flat=True)
            ),
            AIIDA_STATE,
            {"t": "process.calculation.calcjob.%", "p": ["process_state"], "v": "excepted"},
        ),
        "attribute_type_label": (
            lambda b: (
                b.query()
                .append(CALC, project="id", filters={"attributes.process_state": "excepted", "label": "label1"})
                .all(flat=True)
            ),
            AIIDA_STATE_LABEL,
            {"t": "process.calculation.calcjob.%", "p": ["process_state"], "v": "excepted", "label": "label1"},
        ),
        "count": (
            lambda b: b.query().append(CALC, filters={"attributes.exit_status": {">": 0}}).count(),
            AIIDA_COUNT,
            {"t": "process.calculation.calcjob.%", "p": ["exit_status"], "v": 0},
        ),
        "descendants_1000": (
            lambda b: (
                b.query()
                .append("node", tag="s", filters={"id": {"in": starts}})
                .append("node", with_ancestors="s", project="id")
                .all(flat=True)
            ),
            AIIDA_DESCENDANTS,
            {"ids": starts},
        ),
    }


def aiida_queries(starts: list[int]) -> dict[str, dict[str, Any]]:
    """The four cases in tests/aiida/qb_compare.py's query format (timing mode)."""
    calc = {"entity": CALC, "tag": "c"}
    return {
        "attribute": {"vertices": [{**calc, "filters": {"attributes.process_state": "excepted"}, "project": "id"}]},
        "attribute_type_label": {
            "vertices": [
                {**calc, "filters": {"attributes.process_state": "excepted", "label": "label1"}, "project": "id"}
            ]
        },
        "count": {"vertices": [{**calc, "filters": {"attributes.exit_status": {">": 0}}}], "count": True},
        "descendants_1000": {
            "vertices": [
                {"entity": "node", "tag": "s", "filters": {"id": {"in": starts}}},
                {"entity": "node", "tag": "d", "rel": ["with_ancestors", "s"], "project": "id"},
            ]
        },
    }


@pytest.fixture(scope="module")
def aiida_qb(qstore: tuple[Backend, psycopg.Connection, list[int]]) -> dict[str, Any]:
    """aiida-core's QueryBuilder on the same database: case -> {"result", "seconds"}, or {"skipped": reason}."""
    if not AIIDA_PYTHON.exists():
        return {"skipped": f"aiida-core reference venv missing ({AIIDA_PYTHON}); run tests/aiida/setup_env.sh"}
    backend, _conn, starts = qstore
    queries = aiida_queries(starts)
    payload = {"queries": list(queries.values()), "timing": True, "rounds": AIIDA_QB_ROUNDS}
    with tempfile.TemporaryDirectory(prefix="fastdos-aiida-home-") as home:
        run = run_aiida_script(AIIDA_QB_SCRIPT, payload, backend.profile, Path(home), timeout=1800)
    assert run.returncode == 0 and run.result is not None, run.stderr[-4000:]
    return dict(zip(queries, run.result["results"], strict=True))


def normal(result: Any) -> Any:
    return result if isinstance(result, int) else sorted(result)


@pytest.mark.parametrize("side", ["fastdos", "aiida"])
@pytest.mark.parametrize("case", ["attribute", "attribute_type_label", "count", "descendants_1000"])
def test_query(
    benchmark: Any,
    qstore: tuple[Backend, psycopg.Connection, list[int]],
    aiida_qb: dict[str, Any],
    case: str,
    side: str,
) -> None:
    backend, conn, starts = qstore
    run_fastdos, aiida_sql, params = cases(starts)[case]

    def run_aiida() -> Any:
        rows = conn.execute(aiida_sql, params, prepare=False).fetchall()
        return rows[0][0] if case == "count" else [r[0] for r in rows]

    expected = normal(run_aiida())
    if side == "fastdos":  # interleaved with aiida's SQL (bench/interleave.py)
        result = pedantic_interleaved(benchmark, lambda: run_fastdos(backend), None, run_aiida, MS_ROUNDS)
    else:
        result = benchmark.pedantic(run_aiida, rounds=5, iterations=1, warmup_rounds=1)
    assert normal(result) == expected
    assert expected  # every case matches something
    if side == "fastdos":
        if "skipped" in aiida_qb:
            benchmark.extra_info["aiida_qb_skipped"] = aiida_qb["skipped"]
        else:
            assert normal(aiida_qb[case]["result"]) == expected  # aiida's QueryBuilder agrees
            benchmark.extra_info["aiida_qb_ms"] = round(aiida_qb[case]["seconds"] * 1e3, 2)
            benchmark.extra_info["aiida_qb_rounds"] = AIIDA_QB_ROUNDS
