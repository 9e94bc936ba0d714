"""fastdos' QueryBuilder against aiida-core's, on the same database: a few hundred generated queries.

aiida-core runs in its own venv (``.venv-aiida``, made by tests/aiida/setup_env.sh) through
``tests/aiida/qb_compare.py``; both sides project one property and the distinct result sets are compared
(aiida's ancestor/descendant join can repeat rows along several paths, fastdos' is deduplicated). A query
aiida rejects must be rejected by fastdos too.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from fastdos.backend import Backend
from fastdos.errors import FastdosError
from tests.test_aiida_interop import run_aiida_script

ROOT = Path(__file__).resolve().parent.parent
AIIDA_PYTHON = ROOT / ".venv-aiida" / "bin" / "python"
SCRIPT = ROOT / "tests" / "aiida" / "qb_compare.py"
N_QUERIES = 400

pytestmark = pytest.mark.skipif(
    not AIIDA_PYTHON.exists(),
    reason=f"aiida-core reference venv missing ({AIIDA_PYTHON}); create it with tests/aiida/setup_env.sh",
)

TYPES = [
    "data.core.int.Int.",
    "data.core.float.Float.",
    "data.core.str.Str.",
    "data.core.dict.Dict.",
    "process.calculation.calcjob.CalcJobNode.",
    "process.workflow.workchain.WorkChainNode.",
]
STRINGS = ["a", "b", "ab", "B", "finished", "2", "", "x_y", "100%"]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(
        ["int", "int", "float", "str", "str", "bool", "null", "list", "dict"] if depth < 2 else ["int", "str", "bool"]
    )
    if kind == "int":
        return rng.randint(-3, 5)
    if kind == "float":
        return rng.choice([0.5, 2.0, 2.5, -1.5])
    if kind == "str":
        return rng.choice(STRINGS)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {k: random_value(rng, depth + 1) for k in rng.sample(["b", "c", "d"], rng.randint(0, 2))}


def seed_graph(conn: psycopg.Connection, rng: random.Random, n_nodes: int = 160) -> list[int]:
    user = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution)"
        " VALUES ('qb@example.org', '', '', '') RETURNING id"
    ).fetchone()
    assert user is not None
    ids: list[int] = []
    now = datetime.now(UTC)
    for _i in range(n_nodes):
        attributes = {k: random_value(rng) for k in ["v", "w", "a", "s"] if rng.random() < 0.7}
        node_type = rng.choice(TYPES)
        if node_type.startswith("process.") and rng.random() < 0.8:
            attributes["process_state"] = rng.choice(["finished", "excepted", "running", "waiting"])
            attributes["exit_status"] = rng.choice([0, 0, 1, 300])
        row = conn.execute(
            "INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes,"
            " extras, repository_metadata, dbcomputer_id, user_id)"
            " VALUES (%s, %s, NULL, %s, '', %s, %s, %s, %s, '{}', NULL, %s) RETURNING id",
            (
                uuid.uuid4(),
                node_type,
                rng.choice(STRINGS),
                now,
                now,
                Jsonb(attributes),
                Jsonb({"e": random_value(rng)}),
                user[0],
            ),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    for _ in range(n_nodes * 2):
        a, b = sorted(rng.sample(ids, 2))  # input id < output id: acyclic, like provenance
        conn.execute(
            "INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (%s, %s, 'l', %s)",
            (a, b, rng.choice(["create", "input_calc", "input_work", "return", "call_calc"])),
        )
    group = conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (%s, 'g', 'core', now(), '', '{}', %s) RETURNING id",
        (uuid.uuid4(), user[0]),
    ).fetchone()
    assert group is not None
    for pk in rng.sample(ids, 30):
        conn.execute("INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) VALUES (%s, %s)", (group[0], pk))
    conn.execute("ANALYZE")
    return ids


def random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth == 0 and rng.random() < 0.15:
        return {rng.choice(["or", "and", "~or"]): [random_filter(rng, 1) for _ in range(rng.randint(1, 3))]}
    path = rng.choice(
        [
            "attributes.v",
            "attributes.w",
            "attributes.a",
            "attributes.a.b",
            "attributes.s",
            "attributes.process_state",
            "attributes.exit_status",
            "extras.e",
            "attributes.missing",
            "attributes",
            "label",
            "id",
        ]
    )
    neg = "~" if rng.random() < 0.2 else ""
    # (node_type filters are left out: aiida lets them replace the entity's own type filter.)
    if path == "label":
        op = rng.choice(["==", "like", "ilike", "in"])
        value: Any = {
            "==": rng.choice(STRINGS),
            "like": rng.choice(["a%", "%b", "process.%", "_"]),
            "ilike": rng.choice(["A%", "%B"]),
            "in": rng.sample(STRINGS, 2),
        }[op]
        return {path: {neg + op: value}}
    if path == "id":
        op = rng.choice(["<", ">=", "in"])
        return {path: {neg + op: rng.sample(range(1, 200), 3) if op == "in" else rng.randint(1, 200)}}
    op = rng.choice(
        [
            "==",
            "==",
            "<",
            ">",
            "<=",
            ">=",
            "in",
            "like",
            "ilike",
            "has_key",
            "contains",
            "of_length",
            "longer",
            "shorter",
            "of_type",
        ]
    )
    if op == "in":
        pool = rng.choice([[0, 1, 2, 5, 300], [0.5, 2.5, -1.5], STRINGS, [True, False]])
        value = rng.sample(pool, min(2, len(pool)))
    elif op in ("like", "ilike"):
        value = rng.choice(["a%", "%b", "2", "_", "%"])
    elif op == "has_key":
        value = rng.choice(["b", "c", "v", "process_state"])
    elif op == "contains":
        value = rng.choice([[1], [True], ["a"], {"b": 1}, {"c": "a"}])
    elif op in ("of_length", "longer", "shorter"):
        value = rng.randint(0, 3)
    elif op == "of_type":
        value = rng.choice(["object", "array", "string", "number", "boolean", "null"])
    else:
        value = random_value(rng, 1)
        if isinstance(value, float) and op == "==":
            value = rng.choice([2.0, 2.5])
    return {path: {neg + op: value}}


def random_query(rng: random.Random) -> dict[str, Any]:
    # Class type strings only: aiida reads a module prefix such as 'process.calculation.' as its parent
    # ('process.%') and rejects 'data.'; fastdos reads both as prefixes (tested in tests/test_query.py).
    first = {
        "entity": rng.choice(["node", "node", *TYPES, "data.Data.", "process.ProcessNode."]),
        "tag": "a",
        "filters": random_filter(rng),
        "subclassing": rng.random() < 0.8,
    }
    if rng.random() < 0.6:
        return {"vertices": [first], "project": ["a", "id"]}
    rel = rng.choice(["with_incoming", "with_outgoing", "with_ancestors", "with_descendants", "with_group"])
    if rel == "with_group":
        first = {"entity": "group", "tag": "a", "filters": {}}
    second: dict[str, Any] = {
        "entity": "node",
        "tag": "b",
        "filters": random_filter(rng) if rng.random() < 0.5 else {},
        "rel": [rel, "a"],
    }
    if rel in ("with_incoming", "with_outgoing") and rng.random() < 0.4:
        second["edge_filters"] = {"type": rng.choice(["create", "input_calc", "return"])}
    return {"vertices": [first, second], "project": ["b", "id"]}


def run_fastdos(backend: Backend, query: dict[str, Any]) -> Any:
    try:
        qb = backend.query()
        for v in query["vertices"]:
            kwargs: dict[str, Any] = {
                "tag": v["tag"],
                "filters": v.get("filters") or {},
                "subclassing": v.get("subclassing", True),
            }
            if v.get("rel"):
                kwargs[v["rel"][0]] = v["rel"][1]
            if v.get("edge_filters"):
                kwargs["edge_filters"] = v["edge_filters"]
            qb.append(v["entity"], **kwargs)
        tag, prop = query["project"]
        projected = next(v for v in qb._vertices if v.tag == tag)
        projected.project = [prop]
        return sorted(set(qb.all(flat=True)), key=repr)
    except (FastdosError, TypeError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def test_generated_queries_match_aiida(backend: Backend, conn: psycopg.Connection, tmp_path: Path) -> None:
    rng = random.Random(20240501)
    seed_graph(conn, rng)
    queries = [random_query(rng) for _ in range(N_QUERIES)]
    run = run_aiida_script(SCRIPT, {"queries": queries}, backend.profile, tmp_path / "aiida-home", timeout=600)
    assert run.returncode == 0 and run.result is not None, run.stderr[-4000:]
    expected = run.result["results"]
    mismatches = []
    nonempty = errors = 0
    for query, want in zip(queries, expected, strict=True):
        got = run_fastdos(backend, query)
        if isinstance(want, dict):
            errors += 1
            if not isinstance(got, dict):
                mismatches.append((query, want, got))
            continue
        nonempty += bool(want)
        if got != want:
            mismatches.append((query, want, got))
    shown = json.dumps(mismatches[:4], default=str)
    assert not mismatches, f"{len(mismatches)} of {len(queries)} differ; first: {shown}"
    assert nonempty > N_QUERIES // 4, "the generated queries should mostly match something"
