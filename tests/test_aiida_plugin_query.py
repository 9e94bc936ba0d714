"""The plugin's QueryBuilder (``fastdos.aiida.querybuilder.FastdosQueryBuilder``) against aiida-core's own.

``orm.QueryBuilder`` runs every query twice in ``.venv-aiida`` (tests/aiida/qb_plugin_compare.py): on
aiida-core's ``core.psql_dos`` storage and on fastdos' plugin, both on the same database. Results must be
equal as multisets (aiida repeats an ancestor/descendant pair once per path; the plugin must too), ``'*'``
projections must give the same entity classes and pks, errors must be aiida's exception types, and the
common shapes must run as fastdos statements (no fallback to aiida's builder).
"""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos.backend import Backend
from tests.test_aiida_interop import run_aiida_script
from tests.test_query_aiida import TYPES, random_filter, seed_graph

ROOT = Path(__file__).resolve().parent.parent
AIIDA_PYTHON = ROOT / ".venv-aiida" / "bin" / "python"
SCRIPT = ROOT / "tests" / "aiida" / "qb_plugin_compare.py"
N_QUERIES = 400


def _plugin_importable() -> bool:
    import subprocess

    if not AIIDA_PYTHON.exists():
        return False
    probe = "import fastdos.aiida.querybuilder"
    return subprocess.run([str(AIIDA_PYTHON), "-c", probe], capture_output=True, check=False).returncode == 0


needs_aiida = pytest.mark.skipif(
    not _plugin_importable(),
    reason=f"aiida-core venv with fastdos missing ({AIIDA_PYTHON}); create it with tests/aiida/setup_env.sh",
)


def _standin() -> bool:
    """Until fastdos.aiida.backend exists, the builder is tested on a bare PsqlDosBackend subclass."""
    return not (ROOT / "fastdos" / "aiida" / "backend.py").exists()


def seed_more(conn: psycopg.Connection, ids: list[int]) -> None:
    """A computer, comments and logs beside seed_graph's nodes, links and group."""
    user = conn.execute("SELECT id FROM db_dbuser LIMIT 1").fetchone()
    assert user is not None
    computer = conn.execute(
        "INSERT INTO db_dbcomputer (uuid, label, hostname, description, scheduler_type, transport_type, metadata)"
        " VALUES (%s, 'localhost', 'localhost', '', 'core.direct', 'core.local', '{}') RETURNING id",
        (uuid.uuid4(),),
    ).fetchone()
    assert computer is not None
    conn.execute("UPDATE db_dbnode SET dbcomputer_id = %s WHERE id = ANY(%s)", (computer[0], ids[::3]))
    now = datetime.now(UTC)
    for i, pk in enumerate(ids[::5]):
        conn.execute(
            "INSERT INTO db_dbcomment (uuid, dbnode_id, ctime, mtime, user_id, content)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (uuid.uuid4(), pk, now, now, user[0], f"comment {i % 3}"),
        )
        conn.execute(
            "INSERT INTO db_dblog (uuid, time, loggername, levelname, dbnode_id, message, metadata)"
            " VALUES (%s, %s, 'aiida', %s, %s, 'm', '{}')",
            (uuid.uuid4(), now, ["INFO", "WARNING"][i % 2], pk),
        )
    conn.execute("ANALYZE")


def random_projection(rng: random.Random, entity: str) -> list[Any]:
    if entity == "group":
        return rng.choice([["id"], ["*"], ["label", "uuid"], ["**"]])
    return rng.choice(
        [
            ["id"],
            ["*"],
            ["id", "uuid"],
            ["attributes.v"],
            ["id", {"attributes.exit_status": {"cast": "i"}}],
            [{"attributes.s": {"cast": "t"}}],
            ["label", "ctime", "node_type"],
            ["**"],
            ["extras"],
            ["attributes"],
            # casts of mixed-type values: where PostgreSQL refuses a value both sides raise the same DataError
            [{"attributes.v": {"cast": "j"}}, {"extras.e": {"cast": "t"}}],
            ["id", {"attributes.w": {"cast": "f"}}],
            [{"attributes.a": {"cast": "b"}}],
            [{"attributes": {"cast": "t"}}, "pk"],
            [{"id": {"func": "count"}}],
            ["uuid", {"id": {"func": "max"}}],  # no GROUP BY: the same database error on both sides
        ]
    )


def random_query(rng: random.Random) -> dict[str, Any]:
    """A query over seed_graph's data: one or two vertices, projections, ordering, limits, methods."""
    kind = rng.random()
    first: dict[str, Any] = {
        "entity": rng.choice(["node", "node", *TYPES, "data.Data.", "process.ProcessNode."]),
        "tag": "a",
        "filters": random_filter(rng),
        "subclassing": rng.random() < 0.8,
    }
    query: dict[str, Any] = {"vertices": [first], "method": rng.choice(["all", "all", "iterall", "dict", "count"])}
    if kind < 0.45:
        first["project"] = random_projection(rng, "node")
        if rng.random() < 0.4:
            # a total order (id breaks ties) so that limit/offset/first pick the same rows on both sides
            key = rng.choice(["ctime", "label", {"attributes.v": "f"}, {"attributes.s": "t"}, None])
            order: list[Any] = []
            if isinstance(key, dict):
                ((path, cast),) = key.items()
                order.append({path: {"order": rng.choice(["asc", "desc"]), "cast": cast}})
            elif key:
                order.append({key: rng.choice(["asc", "desc"])})
            order.append({"id": rng.choice(["asc", "desc"])})
            query["order_by"] = {"a": order}
            query["ordered"] = query["method"] in ("all", "iterall")
            query["limit"] = rng.choice([None, 1, 5, 20])
            query["offset"] = rng.choice([None, 0, 3])
            if rng.random() < 0.2:
                query["method"] = "first"
        elif rng.random() < 0.2:
            query["distinct"] = True
        if query["method"] in ("iterall", "iterdict"):
            query["batch_size"] = rng.choice([1, 7, 100])
        return query
    rel = rng.choice(
        ["with_incoming", "with_outgoing", "with_ancestors", "with_descendants", "with_group", "with_node"]
    )
    if rel == "with_group":
        first = {"entity": "group", "tag": "a", "filters": {}}
    second: dict[str, Any] = {
        "entity": "group" if rel == "with_node" else "node",
        "tag": "b",
        "filters": (random_filter(rng) if rng.random() < 0.5 else {}) if rel != "with_node" else {},
        "rel": [rel, "a"],
        "outerjoin": rng.random() < 0.15,
    }
    query["vertices"] = [first, second]
    if rel in ("with_incoming", "with_outgoing") and rng.random() < 0.4:
        second["edge_filters"] = {"type": rng.choice(["create", "input_calc", "return"])}
    if rel in ("with_incoming", "with_outgoing") and rng.random() < 0.3:
        second["edge_project"] = rng.choice([["label", "type"], ["id"]])
    pick = rng.random()
    if pick < 0.4:
        second["project"] = random_projection(rng, second["entity"])
    elif pick < 0.7:
        first["project"] = ["id"]
        second["project"] = random_projection(rng, second["entity"])
    # else: no projection, aiida projects the last vertex's entity
    if rng.random() < 0.15:
        query["distinct"] = True
    return query


def fixed_queries() -> list[dict[str, Any]]:
    """Common shapes that must be accelerated (asserted below), each named."""
    v = lambda entity, tag="a", **kw: {"entity": entity, "tag": tag, **kw}  # noqa: E731
    return [
        {"name": "attribute ==", "vertices": [v("node", filters={"attributes.v": 1}, project=["id"])]},
        {"name": "attribute count", "method": "count", "vertices": [v("node", filters={"attributes.v": {">": 0}})]},
        {
            "name": "compound count",
            "method": "count",
            "vertices": [
                v(
                    "process.calculation.calcjob.CalcJobNode.",
                    filters={"attributes.process_state": "finished", "attributes.exit_status": 0},
                )
            ],
        },
        {"name": "extras", "vertices": [v("node", filters={"extras.e": {"in": [1, 2, 3]}}, project=["id"])]},
        {"name": "node_type", "vertices": [v("data.core.int.Int.", project=["id", "node_type"])]},
        {"name": "label like", "vertices": [v("node", filters={"label": {"like": "a%"}}, project=["label"])]},
        {
            "name": "ctime",
            "vertices": [
                v("node", filters={"ctime": {"<": {"$datetime": "2100-01-01T00:00:00+00:00"}}}, project=["id"])
            ],
        },
        {"name": "entities *", "vertices": [v("data.core.dict.Dict.")]},
        {
            "name": "order+limit",
            "ordered": True,
            "limit": 5,
            "offset": 2,
            "order_by": {"a": [{"id": "desc"}]},
            "vertices": [v("node", project=["id", "uuid"])],
        },
        {
            "name": "order by cast",
            "ordered": True,
            "order_by": {"a": [{"attributes.v": {"cast": "f"}}, "id"]},
            "vertices": [v("node", filters={"attributes.v": {"of_type": "number"}}, project=["id"])],
        },
        {"name": "first", "method": "first", "order_by": {"a": ["id"]}, "vertices": [v("node")]},
        {"name": "distinct", "distinct": True, "vertices": [v("node", project=["node_type"])]},
        {"name": "dict", "method": "dict", "vertices": [v("node", project=["id", "attributes.v"])]},
        *[
            {"name": rel, "vertices": [v("node", filters={"attributes.v": {"<": 3}}), v("node", "b", **{rel: "a"})]}
            for rel in ("with_incoming", "with_outgoing", "with_ancestors", "with_descendants")
        ],
        {
            "name": "with_ancestors count",
            "method": "count",
            "vertices": [v("node", filters={"id": {"<": 40}}), v("node", "b", with_ancestors="a")],
        },
        {"name": "with_group", "vertices": [v("group"), v("node", "b", with_group="a", project=["id"])]},
        {"name": "group with_node", "vertices": [v("node"), v("group", "b", with_node="a", project=["label"])]},
        {"name": "with_user", "vertices": [v("user"), v("node", "b", with_user="a", project=["id"])]},
        {"name": "with_computer", "vertices": [v("computer"), v("node", "b", with_computer="a", project=["id"])]},
        {"name": "node with_node", "vertices": [v("node"), v("comment", "b", with_node="a", project=["content"])]},
        {"name": "log with_node", "vertices": [v("node"), v("log", "b", with_node="a", project=["levelname"])]},
        {
            "name": "edge project",
            "vertices": [
                v("node"),
                v(
                    "node",
                    "b",
                    with_incoming="a",
                    project=["id"],
                    edge_filters={"type": "create"},
                    edge_project=["label"],
                ),
            ],
        },
        {
            "name": "outer join",
            "vertices": [v("node", project=["id"]), v("node", "b", with_incoming="a", outerjoin=True, project=["id"])],
        },
        {"name": "users *", "vertices": [v("user")]},
        {"name": "max", "vertices": [v("node", filters={"attributes.v": {">": 0}}, project=[{"id": {"func": "max"}}])]},
        {"name": "min (aiida's max)", "vertices": [v("node", project=[{"ctime": {"func": "min"}}])]},
        {"name": "count func", "method": "count", "vertices": [v("node", project=[{"id": {"func": "count"}}])]},
        {"name": "groups **", "vertices": [v("group", project=["**"])]},
        {"name": "iterdict batch", "method": "iterdict", "batch_size": 7, "vertices": [v("node", project=["*"])]},
    ]


BAD_QUERIES: list[dict[str, Any]] = [
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"nope": 1}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"id": {"=<": 3}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"id": {"!=": 3}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"attributes.v": {"bogus": 3}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"attributes.v": {"in": []}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"attributes.v": {"in": [1, "a"]}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"attributes.v": {"of_type": "nope"}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"label": {"like": 3}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"attributes.v": {"of_length": "x"}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "project": ["id", "id"]}]},
    {"vertices": [{"entity": "node", "tag": "a", "project": ["nope"]}]},
    {"vertices": [{"entity": "node", "tag": "a", "project": [{"attributes.v": {"cast": "z"}}]}]},
    {"order_by": {"a": ["attributes.v"]}, "vertices": [{"entity": "node", "tag": "a"}]},
    {"order_by": {"a": [{"id": {"order": "up"}}]}, "vertices": [{"entity": "node", "tag": "a"}]},
    {"vertices": [{"entity": "node", "tag": "a", "project": [{"attributes.s": {"cast": "i"}}]}]},  # database error
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"attributes.v": {"<": True}}}]},
    {"vertices": [{"entity": "node", "tag": "a", "filters": {"uuid": {"ilike": "A%"}}}]},  # database error
    {"method": "one", "vertices": [{"entity": "node", "tag": "a"}]},
    {"method": "one", "vertices": [{"entity": "node", "tag": "a", "filters": {"id": -1}}]},
]


@pytest.fixture
def seeded(backend: Backend, conn: psycopg.Connection) -> Backend:
    ids = seed_graph(conn, random.Random(20240501))
    seed_more(conn, ids)
    return backend


def run_compare(backend: Backend, tmp_path: Path, queries: list[dict[str, Any]], op: str = "compare") -> Any:
    run = run_aiida_script(
        SCRIPT,
        {"op": op, "queries": queries, "standin": _standin()},
        backend.profile,
        tmp_path / "aiida-home",
        timeout=900,
    )
    assert run.returncode == 0 and run.result is not None, run.stderr[-6000:]
    if not _standin():
        assert run.result["storage_class"] == "fastdos.aiida.backend.FastdosStorage"
    return run.result


@pytest.mark.aiida
@needs_aiida
def test_generated_queries_equal_core_psql_dos(seeded: Backend, tmp_path: Path) -> None:
    rng = random.Random(20261202)
    queries = [random_query(rng) for _ in range(N_QUERIES)]
    result = run_compare(seeded, tmp_path, queries)
    outcomes = result["results"]
    mismatches = [(q, o["psql"], o["fastdos"]) for q, o in zip(queries, outcomes, strict=True) if not o["equal"]]
    shown = json.dumps(mismatches[:3], default=str)[:6000]
    assert not mismatches, f"{len(mismatches)} of {len(queries)} differ; first: {shown}"
    accelerated = sum(o["accelerated"] for o in outcomes)
    reasons = sorted({o["reason"] for o in outcomes if not o["accelerated"]})
    print(f"\n{accelerated} of {len(outcomes)} accelerated; fallback reasons: {reasons}")
    nonempty = sum(bool(o["rows"]) for o in outcomes)
    with_duplicates = sum(1 for o in outcomes if o["rows"] and o["rows"] > o["distinct_rows"])
    assert nonempty > N_QUERIES // 4, "the generated queries should mostly match something"
    assert with_duplicates > 10, "the generated queries should include rows repeated along several paths"
    # The generator stays inside the accelerated shapes but for inputs aiida rejects (they fall back, by design).
    assert accelerated > N_QUERIES * 0.85, result["stats"]


@pytest.mark.aiida
@needs_aiida
def test_common_shapes_are_accelerated(seeded: Backend, tmp_path: Path) -> None:
    queries = fixed_queries()
    result = run_compare(seeded, tmp_path, queries)
    table = [
        (q["name"], o["accelerated"], o["shape"], o["reason"]) for q, o in zip(queries, result["results"], strict=True)
    ]
    differ = [q["name"] for q, o in zip(queries, result["results"], strict=True) if not o["equal"]]
    assert not differ, f"results differ from core.psql_dos: {differ}"
    fallbacks = [(name, reason) for name, accelerated, _, reason in table if not accelerated]
    assert not fallbacks, f"common shapes fell back to aiida's builder: {fallbacks}"
    empty = [q["name"] for q, o in zip(queries, result["results"], strict=True) if o["rows"] == 0]
    assert len(empty) <= 3, f"these common shapes matched nothing (weak test data): {empty}"


@pytest.mark.aiida
@needs_aiida
def test_duplicate_paths_counted_like_aiida(seeded: Backend, tmp_path: Path) -> None:
    """with_ancestors repeats a pair per path: the plugin returns aiida's multiset, not the distinct set."""
    rows = {
        "vertices": [
            {"entity": "node", "tag": "a", "project": ["id"]},
            {"entity": "node", "tag": "b", "rel": ["with_ancestors", "a"], "project": ["id"]},
        ]
    }
    result = run_compare(seeded, tmp_path, [rows, {**rows, "distinct": True}])
    paths, pairs = result["results"]
    assert paths["equal"] and paths["accelerated"] and pairs["equal"] and pairs["accelerated"], result["results"]
    assert paths["rows"] > paths["distinct_rows"] == pairs["rows"], (paths["rows"], pairs["rows"])


@pytest.mark.aiida
@needs_aiida
def test_bad_inputs_raise_aiidas_exceptions(seeded: Backend, tmp_path: Path) -> None:
    result = run_compare(seeded, tmp_path, BAD_QUERIES)
    for query, outcome in zip(BAD_QUERIES, result["results"], strict=True):
        assert outcome["equal"], (query, outcome)
    errors = [o["error"] for o in result["results"]]
    assert all(errors), f"aiida accepted some of the bad queries: {errors}"
    # Each fallback is counted and logged at DEBUG with its reason.
    fallbacks = [o["reason"] for o in result["results"] if o["reached"] and not o["accelerated"]]
    stats = result["stats"]
    assert fallbacks and sum(n for k, n in stats.items() if k.startswith("fallback:")) == len(fallbacks)
    assert len(result["fallback_logs"]) == len(fallbacks)
    assert all(r in line for r, line in zip(fallbacks, result["fallback_logs"], strict=True))


@pytest.mark.aiida
@needs_aiida
def test_transaction_visibility(seeded: Backend, tmp_path: Path) -> None:
    result = run_compare(seeded, tmp_path, [], op="transaction")
    assert result["inside"] == 1, result
    assert result["accelerated"] is True
    assert result["after"] == 0


# --- the compiler alone (no aiida-core needed): aiida's query dicts as its QueryBuilder.as_dict() makes them ---


def _dict(path: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    items = []
    for i, p in enumerate(path):
        items.append(
            {
                "entity_type": "",
                "orm_base": p.get("orm_base", "node"),
                "tag": p["tag"],
                "joining_keyword": p.get("rel"),
                "joining_value": p.get("to"),
                "outerjoin": False,
                "edge_tag": f"{p.get('to')}--{p['tag']}" if i else None,
            }
        )
    tags = [p["tag"] for p in path] + [f"{p.get('to')}--{p['tag']}" for p in path[1:]]
    data: dict[str, Any] = {
        "path": items,
        "filters": {t: {} for t in tags},
        "project": {t: [] for t in tags},
        "project_map": {},
        "order_by": [],
        "offset": None,
        "limit": None,
        "distinct": False,
    }
    for p in path:
        data["filters"][p["tag"]] = p.get("filters", {})
        data["project"][p["tag"]] = p.get("project", [])
    data.update(extra)
    return data


def test_compiled_walk_repeats_paths_and_seeds_like_aiida() -> None:
    from fastdos.aiida.qb_compile import compile_query

    data = _dict(
        [
            {"tag": "a", "filters": {"attributes.x": 1}},
            {"tag": "b", "rel": "with_ancestors", "to": "a", "project": [{"id": {}}]},
        ]
    )
    plan = compile_query(data)
    text = plan.rows_statement()[0].as_string(None)
    assert "UNION ALL" in text and "UNION SELECT" not in text  # one row per path, as aiida
    assert text.count("attributes") == 2  # the seed of the walk and the vertex itself are filtered
    count = plan.count_statement()[0].as_string(None)
    assert count.startswith("WITH RECURSIVE") and "count(*)" in count
    assert plan.entities == {} and plan.dict_shape == [("b", "id", 0)]


def test_compiled_defaults_and_limits() -> None:
    from fastdos.aiida.qb_compile import compile_query

    plan = compile_query(_dict([{"tag": "a"}], limit=3, offset=1))
    assert plan.entities == {0: "node"}  # no projection: the last vertex's entity, loaded by id
    _, params = plan.rows_statement(first=True)
    assert params["limit"] == 1 and params["offset"] == 1  # first() replaces the limit, keeps the offset
    assert "SELECT count(*) FROM (" in plan.count_statement()[0].as_string(None)


@pytest.mark.parametrize(
    ("path", "extra", "reason"),
    [
        ([{"tag": "a", "filters": {"id": {"=<": 3}}}], {}, "operator '=<' on a column"),
        ([{"tag": "a", "filters": {"id": {"!=": 3}}}], {}, "operator '!='"),
        ([{"tag": "a", "filters": {"uuid": {"ilike": "a%"}}}], {}, "ilike on a column that is not text"),
        ([{"tag": "a", "project": [{"id": {}}, {"id": {}}]}], {}, "projects 'id' twice"),
        ([{"tag": "a", "project": [{"*": {"func": "max"}}]}], {}, "with func 'max'"),
        ([{"tag": "a", "orm_base": "computer", "filters": {"metadata.x": 1}}], {}, "computer.metadata"),
        ([{"tag": "a"}], {"order_by": [{"a": [{"attributes.x": {"order": "asc"}}]}]}, "without a cast"),
        ([{"tag": "a", "project": [{"id": {}}]}], {"distinct": True, "order_by": [{"a": [{"id": {}}]}]}, "distinct"),
        (
            [{"tag": "a"}, {"tag": "b", "rel": "with_ancestors", "to": "a"}],
            {"filters": {"a": {}, "b": {}, "a--b": {"depth": 1}}},
            "filters on tag 'a--b'",
        ),
    ],
)
def test_uncovered_shapes_name_their_reason(path: list[dict[str, Any]], extra: dict[str, Any], reason: str) -> None:
    from fastdos.aiida.qb_compile import compile_query
    from fastdos.aiida.qb_filters import Unsupported

    with pytest.raises(Unsupported, match=re.escape(reason)):
        compile_query(_dict(path, **extra))
