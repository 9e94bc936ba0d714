"""QueryBuilder semantics against hand-computed expectations on the seeded graph (tests/test_query_seed.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import MultipleObjectsError, NotExistent, ValidationError
from fastdos.query import QueryBuilder
from tests.test_query_seed import NODES, T0, Seed, seed


@pytest.fixture
def seeded(backend: Backend, conn: psycopg.Connection) -> Iterator[tuple[Backend, Seed]]:
    yield backend, seed(conn)


def node_keys(backend: Backend, s: Seed, entity: str = "node", **kw: Any) -> set[str]:
    qb = backend.query().append(entity, project="id", **kw)
    return s.keys(qb.all(flat=True))


ALL = {f"n{i}" for i in range(1, 11)}

ATTRIBUTE_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"attributes.value": 2}, {"n2"}),
    ({"attributes.value": 2.0}, {"n2"}),
    ({"attributes.value": "2"}, {"n4"}),
    ({"attributes.value": {"==": 2.5}}, {"n3"}),
    ({"attributes.value": {"<": 2.5}}, {"n1", "n2"}),
    ({"attributes.value": {"<=": 2.5}}, {"n1", "n2", "n3"}),
    ({"attributes.value": {">": 1}}, {"n2", "n3"}),
    ({"attributes.value": {">=": 1, "<": 2.5}}, {"n1", "n2"}),
    ({"attributes.value": {">": "1"}}, {"n4"}),
    ({"attributes.value": {"~==": 2}}, ALL - {"n2"}),
    ({"attributes.value": {"!==": 2}}, ALL - {"n2"}),
    ({"attributes.value": {"!=": 2}}, ALL - {"n2"}),
    ({"attributes.value": {"in": [1, 2]}}, {"n1", "n2"}),
    ({"attributes.value": {"!in": [1, 2]}}, ALL - {"n1", "n2"}),
    ({"attributes.value": {"~in": ["2"]}}, ALL - {"n4"}),
    ({"attributes.value": {"like": "2%"}}, {"n4"}),
    ({"attributes.value": {"ilike": "2"}}, {"n4"}),
    ({"attributes.a.b": 5}, {"n5"}),
    ({"attributes.a.b": "5"}, {"n6"}),
    ({"attributes.a": {"==": {"b": 5, "c": "x"}}}, {"n5"}),
    ({"attributes.list": [1, 2, 3]}, {"n5"}),
    ({"attributes.list": {"contains": [1, 3]}}, {"n5"}),
    ({"attributes.list": {"~contains": [1]}}, {"n6"}),  # 3-valued, as aiida: rows without the key drop out
    ({"attributes.a": {"contains": {"c": "x"}}}, {"n5"}),
    ({"attributes": {"has_key": "a"}}, {"n5", "n6"}),
    ({"attributes.a": {"has_key": "c"}}, {"n5"}),
    ({"attributes.list": {"of_length": 3}}, {"n5"}),
    ({"attributes.list": {"longer": 0}}, {"n5"}),
    ({"attributes.list": {"shorter": 1}}, {"n6"}),
    ({"attributes.list": {"~shorter": 1}}, ALL - {"n6"}),
    ({"attributes.flag": True}, {"n5"}),
    ({"attributes.flag": False}, {"n6"}),
    ({"attributes.flag": {"of_type": "boolean"}}, {"n5", "n6"}),
    ({"attributes.n": {"of_type": "null"}}, ALL),  # JSON null, or no such key (aiida: typeof IS NULL)
    ({"attributes.n": {"~of_type": "null"}}, set()),
    ({"attributes.a": {"of_type": "object"}}, {"n5", "n6"}),
    ({"attributes.value": None}, set()),  # aiida-core's quirk: == None never matches an attribute
    ({"or": [{"attributes.value": 1}, {"attributes.value": "2"}]}, {"n1", "n4"}),
    ({"~or": [{"attributes.value": 1}, {"attributes.value": "2"}]}, ALL - {"n1", "n4"}),
    ({"and": [{"attributes.value": {">": 0}}, {"label": {"like": "t%"}}]}, {"n2", "n3"}),
    ({"attributes.value": {"or": [{"==": 1}, {"==": 2.5}]}}, {"n1", "n3"}),
    ({"attributes.process_state": {"in": ["finished", "excepted"]}}, {"n7", "n8"}),
    ({"attributes.exit_status": {">": 0}}, {"n8"}),
    ({"attributes.sealed": False}, {"n9"}),
    ({"attributes.a.b.c": 1}, set()),
    ({"extras.tag": "n3"}, {"n3"}),
]


@pytest.mark.parametrize(("filters", "expected"), ATTRIBUTE_CASES, ids=[str(f) for f, _ in ATTRIBUTE_CASES])
def test_attribute_filters(seeded: tuple[Backend, Seed], filters: dict[str, Any], expected: set[str]) -> None:
    backend, s = seeded
    assert node_keys(backend, s, filters=filters) == expected


COLUMN_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"label": "two"}, {"n2"}),
    ({"label": {"like": "two%"}}, {"n2", "n3"}),
    ({"label": {"ilike": "TWO"}}, {"n2"}),
    ({"label": {"~like": "two%"}}, ALL - {"n2", "n3"}),
    ({"node_type": {"like": "process.%"}}, {"n7", "n8", "n9"}),
    ({"process_type": None}, ALL - {"n7", "n8", "n9"}),
    ({"process_type": {"!==": "x"}}, {"n7", "n8", "n9"}),  # NOT (NULL = 'x') drops NULL rows, as in aiida
    ({"ctime": {"<": T0 + timedelta(hours=2)}}, {"n1", "n2"}),
    ({"ctime": {">=": T0 + timedelta(hours=8)}}, {"n9", "n10"}),
    ({"uuid": {"like": "%"}}, ALL),
]


@pytest.mark.parametrize(("filters", "expected"), COLUMN_CASES, ids=[str(f) for f, _ in COLUMN_CASES])
def test_column_filters(seeded: tuple[Backend, Seed], filters: dict[str, Any], expected: set[str]) -> None:
    backend, s = seeded
    assert node_keys(backend, s, filters=filters) == expected


def test_pk_uuid_and_id_filters(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    assert node_keys(backend, s, filters={"id": {"in": [s.ids["n1"], s.ids["n3"]]}}) == {"n1", "n3"}
    assert node_keys(backend, s, filters={"pk": s.ids["n5"]}) == {"n5"}
    assert node_keys(backend, s, filters={"uuid": s.uuids["n6"]}) == {"n6"}
    assert node_keys(backend, s, filters={"uuid": {"in": [s.uuids["n6"], s.uuids["n7"]]}}) == {"n6", "n7"}


def test_entity_types_and_subclassing(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    assert node_keys(backend, s, entity="data.core.int.Int.") == {"n1", "n2", "n10"}
    assert node_keys(backend, s, entity="data.core.int.Int.", subclassing=False) == {"n1", "n2", "n10"}
    assert node_keys(backend, s, entity="data.Data.") == {f"n{i}" for i in (1, 2, 3, 4, 5, 6, 10)}
    assert node_keys(backend, s, entity="process.calculation.") == {"n7", "n8"}
    assert node_keys(backend, s, entity="process.ProcessNode.") == {"n7", "n8", "n9"}
    assert node_keys(backend, s, entity="process.ProcessNode.", subclassing=False) == set()
    users = backend.query().append("user", project="email").all(flat=True)
    assert sorted(users) == ["u1@example.org", "u2@example.org"]


def test_relationships(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    n = s.ids

    def related(rel: str, source: str, source_entity: str = "node", entity: str = "node", **kw: Any) -> set[str]:
        qb = backend.query().append(source_entity, tag="src", filters={"id": n[source]})
        qb.append(entity, tag="dst", project="id", **{rel: "src"}, **kw)
        return s.keys(qb.all(flat=True))

    assert related("with_incoming", "n7") == {"n2"}
    assert related("with_outgoing", "n7") == {"n1", "n9"}
    assert related("with_outgoing", "n7", edge_filters={"type": "input_calc"}) == {"n1"}
    assert related("with_ancestors", "n1") == {"n7", "n2", "n8", "n3"}
    assert related("with_descendants", "n3") == {"n8", "n2", "n7", "n1"}  # not n9/n4: call/return/input_work
    assert related("with_descendants", "n2") == {"n7", "n1"}
    assert related("with_ancestors", "n9") == set()
    assert related("with_group", "g1", source_entity="group") == {"n1", "n2"}
    assert related("with_user", "u2", source_entity="user") == {"n10"}
    assert related("with_computer", "c1", source_entity="computer") == {"n7"}
    groups = (
        backend.query()
        .append("node", tag="n", filters={"id": n["n1"]})
        .append("group", with_node="n", project="label")
        .all(flat=True)
    )
    assert groups == ["g1"]
    comments = (
        backend.query()
        .append("node", tag="n", filters={"id": n["n7"]})
        .append("comment", with_node="n", project="content")
        .all(flat=True)
    )
    assert comments == ["hi"]
    logs = backend.query().append("node", tag="n").append("log", with_node="n", project="message").all(flat=True)
    assert logs == ["done"]
    emails = (
        backend.query()
        .append("computer", tag="c")
        .append("authinfo", tag="a", with_computer="c")
        .append("user", with_authinfo="a", project="email")
        .all(flat=True)
    )
    assert emails == ["u1@example.org"]
    # Edge projections: labels of the create links out of calculations.
    qb = backend.query().append("process.calculation.", tag="calc", project="id")
    qb.append("node", with_incoming="calc", edge_filters={"type": "create"}, edge_project=["label", "type"], tag="out")
    rows = qb.dict()
    assert sorted((r["calc"]["id"], r["calc--out"]["label"], r["calc--out"]["type"]) for r in rows) == sorted(
        [(n["n7"], "result", "create"), (n["n8"], "result", "create")]
    )
    # Ancestors of a filtered set, filters on both ends.
    qb = backend.query().append("data.core.int.Int.", tag="i", filters={"attributes.value": 1})
    qb.append("data.", tag="d", with_ancestors="i", filters={"attributes.value": {">": 2}}, project="label")
    assert qb.all(flat=True) == ["two and a half"]


def test_recursive_and_closure_agree(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    if not hasattr(backend, "install_closure"):
        pytest.skip("fastdos.graph has no closure table in this checkout")
    backend.install_closure()
    backend.refresh_closure()
    for rel, start in (("with_ancestors", "n1"), ("with_descendants", "n3"), ("with_ancestors", "n2")):
        results = []
        for use_closure in (False, True):
            qb = backend.query(closure=use_closure).append("node", tag="src", filters={"id": s.ids[start]})
            qb.append("node", project="id", **{rel: "src"})
            results.append(set(qb.all(flat=True)))
            assert ("fastdos_closure" in qb.as_sql()) is use_closure
        assert results[0] == results[1]


def test_projections_and_results(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    qb = backend.query().append("node", tag="n", filters={"id": s.ids["n5"]}, project=["*", "attributes.a.b", "uuid"])
    (row,) = qb.dict()
    assert row["n"]["label"] == "dict5" and row["n"]["attributes.a.b"] == 5 and row["n"]["uuid"] == s.uuids["n5"]
    assert row["n"]["attributes"]["list"] == [1, 2, 3]
    # No projection: the last vertex, every column.
    (only,) = backend.query().append("user", filters={"email": "u2@example.org"}).all()
    assert "u2@example.org" in only
    assert backend.query().append("node", filters={"label": "nope"}).first() is None
    assert backend.query().append("node", project="label", filters={"id": s.ids["n1"]}).first(flat=True) == "one"
    assert backend.query().append("node", project="label", filters={"id": s.ids["n1"]}).one() == ["one"]
    with pytest.raises(NotExistent):
        backend.query().append("node", filters={"label": "nope"}).one()
    with pytest.raises(MultipleObjectsError):
        backend.query().append("node").one()
    assert backend.query().append("node", filters={"attributes.value": {">": 0}}).count() == 3
    assert backend.query().append("node", project="node_type").distinct().count() == 7
    assert backend.query().append("node", project="id").limit(4).offset(8).count() == 2


def test_order_limit_offset_iter(seeded: tuple[Backend, Seed]) -> None:
    backend, s = seeded
    qb = backend.query().append("node", tag="n", project="label").order_by({"n": [{"ctime": {"order": "desc"}}]})
    labels = qb.all(flat=True)
    assert labels[0] == "empty" and labels[-1] == "one"
    assert qb.limit(2).offset(1).all(flat=True) == labels[1:3]
    streamed = [
        row[0]
        for row in backend.query().append("node", tag="n", project="label").order_by({"n": "id"}).iterall(batch_size=3)
    ]
    assert streamed == [label for _, _, _, label in NODES]
    dicts = list(
        backend.query().append("node", tag="n", project="id").order_by({"n": {"id": "desc"}}).iterdict(batch_size=4)
    )
    assert [d["n"]["id"] for d in dicts] == sorted(s.ids[f"n{i}"] for i in range(1, 11))[::-1]
    by_json = (
        backend.query()
        .append("node", tag="n", project="label", filters={"attributes.value": {">": 0}})
        .order_by({"n": {"attributes.value": "desc"}})
        .all(flat=True)
    )
    assert by_json == ["two and a half", "two", "one"]


def test_iterall_inside_transaction(seeded: tuple[Backend, Seed]) -> None:
    backend, _ = seeded
    with backend.transaction():
        assert len(list(backend.query().append("node").iterall(batch_size=2))) == 10
        assert backend.in_transaction


def test_sql_is_index_friendly_and_values_are_parameters(seeded: tuple[Backend, Seed]) -> None:
    backend, _ = seeded
    qb = backend.query().append(
        "process.calculation.", filters={"attributes.process_state": "finished", "attributes.exit_status": {">": 0}}
    )
    text = qb.as_sql()
    assert "CASE" not in text and "finished" not in text
    assert "#> %(p" in text and "LIKE 'process.%%'" in text
    assert "'finished'" not in text and "finished" in qb.as_sql(inline=True)
    length = backend.query().append("node", filters={"attributes.x": {"of_length": 2}}).as_sql()
    assert "CASE WHEN jsonb_typeof" in length  # the one place a CASE is needed: jsonb_array_length raises
    assert "@>" in backend.query().append("node", filters={"attributes.a.b": {"contains": [1]}}).as_sql()
    assert str(QueryBuilder().append("node", filters={"label": "x"})).startswith("SELECT")


def test_expression_index_is_used(seeded: tuple[Backend, Seed], conn: psycopg.Connection) -> None:
    backend, _ = seeded
    from fastdos.query import add_index

    name = add_index(backend, "attributes.process_state", where="process.")
    conn.execute("SET enable_seqscan = off")  # the seeded table is tiny; force the planner to show usability
    qb = backend.query().append("process.calculation.", filters={"attributes.process_state": {"in": ["finished"]}})
    plan = "\n".join(
        r[0]
        for r in conn.execute(psycopg.sql.SQL("EXPLAIN ") + qb._compile(None)[0], qb.params()).fetchall()  # type: ignore[operator]
    )
    assert name in plan, plan


BAD: list[tuple[Any, type[Exception], str]] = [
    (lambda q: q.append("nodez"), ValidationError, "unknown entity"),
    (lambda q: q.append("node", filters={"label": {"=~": 1}}), ValidationError, "unknown filter operator"),
    (lambda q: q.append("node", filters={"label": 5}), ValidationError, "label is text"),
    (lambda q: q.append("node", filters={"id": "5"}), ValidationError, "id is integer"),
    (lambda q: q.append("node", filters={"uuid": "not-a-uuid"}), ValidationError, "not a UUID"),
    (lambda q: q.append("node", filters={"attributes.x": {"like": 5}}), ValidationError, "needs a string"),
    (lambda q: q.append("node", filters={"attributes.x": {"of_length": "3"}}), ValidationError, "integer length"),
    (lambda q: q.append("node", filters={"attributes.x": {"in": []}}), ValidationError, "non-empty"),
    (lambda q: q.append("node", filters={"attributes.x": {"in": [1, "a"]}}), ValidationError, "one type"),
    (lambda q: q.append("node", filters={"attributes.x": {"of_type": "int"}}), ValidationError, "of_type"),
    (lambda q: q.append("node", filters={"attributes.x": object()}), ValidationError, "not a JSON value"),
    (lambda q: q.append("node", filters={"label.x": "a"}), ValidationError, "not a JSON column"),
    (lambda q: q.append("node", filters={"attributes..x": "a"}), ValidationError, "empty key"),
    (lambda q: q.append("node", filters={"nocolumn": 1}), ValidationError, "no property"),
    (lambda q: q.append("node", filters={"label": {"has_key": "x"}}), ValidationError, "applies to JSON"),
    (lambda q: q.append("node", filters=["label"]), ValidationError, "must be a dict"),
    (lambda q: q.append("node", project="attributes..x"), ValidationError, "empty key"),
    (lambda q: q.append("node", project=5), ValidationError, "project"),
    (lambda q: q.append("node", tag="a").append("node", tag="a", with_incoming="a"), ValidationError, "already used"),
    (lambda q: q.append("node", tag="a").append("user", with_incoming="a"), ValidationError, "cannot be joined"),
    (lambda q: q.append("user", tag="a").append("node", with_incoming="a"), ValidationError, "cannot be joined"),
    (lambda q: q.append("node", tag="a").append("node", with_incoming="b"), ValidationError, "names no tag"),
    (lambda q: q.append("node", tag="a").append("node"), ValidationError, "needs a relationship"),
    (lambda q: q.append("node", tag="a").append("node", with_parent="a"), ValidationError, "unknown append"),
    (
        lambda q: q.append("group", tag="g").append("node", with_group="g", edge_project="label"),
        ValidationError,
        "no edge",
    ),
    (lambda q: q.append("node", tag="a").order_by({"b": "id"}), ValidationError, "does not have"),
    (lambda q: q.append("node", tag="a").order_by({"a": {"id": "up"}}), ValidationError, "'asc' or 'desc'"),
    (lambda q: q.limit(-1), ValidationError, "non-negative"),
    (lambda q: q.offset("3"), ValidationError, "non-negative"),
    (lambda q: q.append(5), TypeError, "entity must be a string"),
]


@pytest.mark.parametrize(("build", "error", "match"), BAD, ids=[m for _, _, m in BAD])
def test_bad_input_is_refused_before_sql(build: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        build(QueryBuilder())  # no backend at all: the error cannot come from SQL


def test_bad_batch_size_and_no_vertex(backend: Backend) -> None:
    with pytest.raises(ValidationError, match="batch_size"):
        list(backend.query().append("node").iterall(batch_size=0))
    with pytest.raises(ValidationError, match="no vertex"):
        backend.query().all()


INJECTIONS = [
    "'; DROP TABLE db_dbnode; --",
    "x') OR 1=1 --",
    'x" OR "1"="1',
    "%(p0)s",
    "%s",
    "{}",
    "{0}",
    "$1",
    "\\",
    "a'||(SELECT pg_sleep(1))||'",
    "process_state}' OR true --",
]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_injection_strings_have_no_effect(seeded: tuple[Backend, Seed], conn: psycopg.Connection, bad: str) -> None:
    backend, s = seeded
    conn.execute(
        "UPDATE db_dbnode SET label = %s, attributes = attributes || %s WHERE id = %s",
        (bad, psycopg.types.json.Jsonb({bad: bad}), s.ids["n10"]),
    )
    before = conn.execute(
        "SELECT count(*), md5(string_agg(id || label || attributes::text, ',' ORDER BY id)) FROM db_dbnode"
    ).fetchone()

    def found(qb: QueryBuilder) -> set[str]:
        return s.keys(qb.all(flat=True))

    # Values: matched literally, as the stored string.
    assert found(backend.query().append("node", project="id", filters={"label": bad})) == {"n10"}
    assert found(backend.query().append("node", project="id", filters={"label": {"in": [bad, "x"]}})) == {"n10"}
    try:
        assert found(backend.query().append("node", project="id", filters={"label": {"like": bad}})) <= {"n10"}
    except ValidationError as exc:  # a pattern ending in the escape character is refused before SQL
        assert "backslash" in str(exc)
    assert found(backend.query().append("node", project="id", filters={f"attributes.{bad}": bad})) == (
        {"n10"} if "." not in bad else set()
    )
    assert found(backend.query().append("node", project="id", filters={"attributes": {"has_key": bad}})) == {"n10"}
    assert found(backend.query().append("node", project="id", filters={"attributes": {"contains": {bad: bad}}})) == {
        "n10"
    }
    # Keys and paths: either a clean error or a key that simply does not exist.
    for build in (
        lambda: backend.query().append("node", project=f"attributes.{bad}").all(),
        lambda: backend.query().append("node", tag="n", project="id").order_by({"n": f"attributes.{bad}"}).all(),
        lambda: backend.query().append("node", project=bad).all(),
        lambda: backend.query().append("node", filters={bad: 1}).all(),
        lambda: backend.query().append("node", filters={"label": {bad: 1}}).all(),
        lambda: backend.query().append("node", tag="n").order_by({"n": bad}).all(),
        lambda: backend.query().append("node", tag="n").order_by({"n": {"id": bad}}).all(),
        lambda: backend.query().append(bad).all(),
        lambda: (
            backend.query()
            .append("node", tag=bad)
            .append("node", with_incoming=bad, edge_tag=bad + "e", edge_project="label")
            .all()
        ),
        lambda: backend.query().append("node", tag="n").append("node", **{bad: "n"}).all(),  # type: ignore[arg-type]
    ):
        with contextlib.suppress(ValidationError, TypeError):
            build()
    assert (
        conn.execute(
            "SELECT count(*), md5(string_agg(id || label || attributes::text, ',' ORDER BY id)) FROM db_dbnode"
        ).fetchone()
        == before
    )
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == (7,)
