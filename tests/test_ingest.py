"""bulk_insert / bulk_insert_iter / bulk_update / group memberships against a real database.

Every bad-input test asserts that the storage is unchanged afterwards (row counts and sequence-independent
content), not only that an error was raised.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from fastdos import ingest
from fastdos.backend import Backend
from fastdos.errors import IntegrityError, NotExistent, ValidationError
from fastdos.rows import ENTITIES, EntityTypes
from tests.helpers import insert_user

TABLES = [e.table for e in ENTITIES.values()]


def snapshot(conn: psycopg.Connection) -> dict[str, Any]:
    """Every row of every entity table (to prove a failed call left nothing behind)."""
    state = {}
    for table in TABLES:
        state[table] = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    return state


@pytest.fixture
def user(conn: psycopg.Connection) -> int:
    return insert_user(conn)


def node_row(user: int, i: int = 0, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    row = {
        "uuid": str(uuid.uuid4()),
        "node_type": "data.core.int.Int.",
        "process_type": None,
        "label": f"node {i}",
        "description": "",
        "ctime": now,
        "mtime": now,
        "attributes": {"value": i},
        "extras": {},
        "repository_metadata": {},
        "dbcomputer_id": None,
        "user_id": user,
    }
    row.update(extra)
    return row


# --- happy paths ----------------------------------------------------------------------------------------


def test_nodes_round_trip_exactly(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    tz = timezone(timedelta(hours=5, minutes=30))
    big = {"nested": [{"k": [i, str(i), i / 7, None, True]} for i in range(2000)], "ünï": "∂∆ 𝄞 \t\n\\ \" '"}
    rows = [
        node_row(user, 0, attributes=big, extras={"e": {"f": [1.5, -2, 2**40, 10**30]}}),
        node_row(
            user,
            1,
            process_type="aiida.calculations:core.arithmetic.add",
            ctime=datetime(2020, 1, 2, 3, 4, 5, 6789, tzinfo=tz),
        ),
        node_row(user, 2, label="ラベル", description="multi\nline\ttext \\ with backslash", attributes=None),
    ]
    ids = backend.bulk_insert(EntityTypes.NODE, rows)
    assert ids == sorted(ids) and len(set(ids)) == 3
    got = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT id, uuid::text, node_type, process_type, label, description, ctime, mtime, attributes, extras,"
            " repository_metadata, dbcomputer_id, user_id FROM db_dbnode"
        )
    }
    for pk, row in zip(ids, rows, strict=True):
        uuid_, node_type, process_type, label, description, ctime, mtime, attributes, extras, repo, comp, uid = got[pk]
        assert uuid_ == row["uuid"]
        assert (node_type, process_type, label, description) == (
            row["node_type"],
            row["process_type"],
            row["label"],
            row["description"],
        )
        assert ctime == row["ctime"] and mtime == row["mtime"]
        assert attributes == row["attributes"] and extras == row["extras"] and repo == {}
        assert comp is None and uid == user
    # JSON None is stored as JSON null, like aiida's JSONB columns do
    assert conn.execute("SELECT jsonb_typeof(attributes) FROM db_dbnode WHERE id = %s", (ids[2],)).fetchone() == (
        "null",
    )


def test_ids_in_input_order_and_links(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    rows = [node_row(user, i) for i in range(50)]
    ids = backend.bulk_insert("node", rows)
    labels = dict(conn.execute("SELECT id, label FROM db_dbnode").fetchall())
    assert [labels[pk] for pk in ids] == [r["label"] for r in rows]
    links = [{"input_id": a, "output_id": b, "label": "x", "type": "input_calc"} for a, b in itertools.pairwise(ids)]
    link_ids = backend.bulk_insert(EntityTypes.LINK, links)
    got = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, input_id, output_id FROM db_dblink")}
    assert [got[pk] for pk in link_ids] == [(r["input_id"], r["output_id"]) for r in links]


def test_ids_near_the_32_bit_limit(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    conn.execute("SELECT setval('db_dbnode_id_seq', 2147483600)")
    ids = backend.bulk_insert("node", [node_row(user, i) for i in range(5)])
    assert ids == list(range(2147483601, 2147483606))
    backend.bulk_insert("link", [{"input_id": ids[0], "output_id": ids[-1], "label": "l", "type": "create"}])
    assert conn.execute("SELECT input_id, output_id FROM db_dblink").fetchall() == [(ids[0], ids[-1])]


def test_every_entity_with_defaults(backend: Backend, conn: psycopg.Connection) -> None:
    (uid,) = backend.bulk_insert("user", [{"email": "a@b.c"}], allow_defaults=True)
    (cid,) = backend.bulk_insert("computer", [{"label": "localhost", "metadata": {"x": 1}}], allow_defaults=True)
    (aid,) = backend.bulk_insert(
        "authinfo", [{"aiidauser_id": uid, "dbcomputer_id": cid, "metadata": {}}], allow_defaults=True
    )
    (nid,) = backend.bulk_insert("node", [{"user_id": uid}], allow_defaults=True)
    (gid,) = backend.bulk_insert("group", [{"label": "g", "user_id": uid}], allow_defaults=True)
    backend.bulk_insert("group_node", [{"dbnode_id": nid, "dbgroup_id": gid}])
    backend.bulk_insert("comment", [{"dbnode_id": nid, "user_id": uid}], allow_defaults=True)
    backend.bulk_insert("log", [{"loggername": "l", "levelname": "INFO", "dbnode_id": nid, "metadata": {}}], True)
    assert conn.execute("SELECT first_name, last_name, institution FROM db_dbuser").fetchone() == ("", "", "")
    assert conn.execute("SELECT hostname, metadata FROM db_dbcomputer").fetchone() == ("", {"x": 1})
    assert conn.execute(
        "SELECT enabled, auth_params, metadata FROM db_dbauthinfo WHERE id = %s", (aid,)
    ).fetchone() == (True, {}, {})
    node = conn.execute(
        "SELECT node_type, process_type, label, ctime = mtime, attributes, extras, repository_metadata,"
        " dbcomputer_id, uuid IS NOT NULL, ctime > now() - interval '1 minute' FROM db_dbnode"
    ).fetchone()
    assert node == ("", None, "", True, {}, {}, {}, None, True, True)
    assert conn.execute("SELECT type_string, description, extras FROM db_dbgroup").fetchone() == ("", "", {})
    assert conn.execute("SELECT content, ctime = mtime FROM db_dbcomment").fetchone() == ("", True)
    assert conn.execute("SELECT message, metadata FROM db_dblog").fetchone() == ("", {})
    # the default "now" is tz-aware local time (aiida's timezone.now())
    (ctime,) = conn.execute("SELECT ctime FROM db_dbnode").fetchone() or (None,)
    assert ctime is not None and ctime.tzinfo is not None


def test_rows_are_not_mutated_and_metadata_renamed(backend: Backend, conn: psycopg.Connection) -> None:
    row = {
        "uuid": str(uuid.uuid4()),
        "label": "c",
        "hostname": "h",
        "description": "",
        "scheduler_type": "core.direct",
        "transport_type": "core.local",
        "metadata": {"shebang": "#!/bin/bash"},
    }
    before = dict(row)
    backend.bulk_insert("computer", [row])
    assert row == before
    assert conn.execute("SELECT metadata FROM db_dbcomputer").fetchone() == ({"shebang": "#!/bin/bash"},)


def test_empty_rows(backend: Backend) -> None:
    assert backend.bulk_insert("node", []) == []
    assert backend.bulk_insert_iter("node", iter([])) == 0
    backend.bulk_update("node", [])
    assert backend.add_nodes_to_group(1, []) == 0


# --- transactions ---------------------------------------------------------------------------------------


def test_inside_caller_transaction_rolls_back_with_it(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    before = snapshot(conn)
    with pytest.raises(RuntimeError), backend.transaction():
        backend.bulk_insert("node", [node_row(user)])
        assert backend.in_transaction
        raise RuntimeError("caller fails later")
    assert snapshot(conn) == before


def test_nested_failure_rolls_back_only_the_call(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    fixed = str(uuid.uuid4())
    with backend.transaction():
        (first,) = backend.bulk_insert("node", [node_row(user, 0, uuid=fixed)])
        with pytest.raises(IntegrityError) as info:
            backend.bulk_insert("node", [node_row(user, 1), node_row(user, 2, uuid=fixed)])
        assert info.value.constraint == "uq_db_dbnode_uuid"
        (third,) = backend.bulk_insert("node", [node_row(user, 3)])
    assert [r[0] for r in conn.execute("SELECT label FROM db_dbnode ORDER BY id")] == ["node 0", "node 3"]
    assert first < third


def test_foreign_keys_deferred_inside_caller_transaction(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    # Links may be inserted before their nodes inside one transaction (the schema's DEFERRABLE contract).
    conn_seq = conn.execute(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM db_dbnode_id_seq"
    ).fetchone()
    assert conn_seq is not None
    with backend.transaction():
        first = conn_seq[0]
        backend.bulk_insert("link", [{"input_id": first, "output_id": first + 1, "label": "x", "type": "create"}])
        assert backend.bulk_insert("node", [node_row(user, 0), node_row(user, 1)]) == [first, first + 1]
    assert conn.execute("SELECT count(*) FROM db_dblink").fetchone() == (1,)


# --- bad input: the storage is unchanged ----------------------------------------------------------------


@pytest.fixture
def unchanged(backend: Backend, conn: psycopg.Connection, user: int) -> Iterator[None]:
    backend.bulk_insert("node", [node_row(user, 99)])  # something to keep
    before = snapshot(conn)
    yield
    assert snapshot(conn) == before


@pytest.mark.usefixtures("unchanged")
def test_exact_keys_required(backend: Backend, user: int) -> None:
    row = node_row(user)
    del row["label"]
    with pytest.raises(IntegrityError, match=r"^Incorrect fields given for EntityTypes.NODE: \{.*\} != \{.*\}$"):
        backend.bulk_insert("node", [node_row(user), row])
    with pytest.raises(IntegrityError, match=r"EntityTypes.NODE: .* not subset of "):
        backend.bulk_insert("node", [{**node_row(user), "colour": "red"}], allow_defaults=True)


@pytest.mark.usefixtures("unchanged")
def test_message_text_is_aiidas(backend: Backend, user: int) -> None:
    row = {"email": "x@y.z", "first_name": "", "last_name": ""}
    with pytest.raises(IntegrityError) as info:
        backend.bulk_insert(EntityTypes.USER, [row])
    keys = {"email", "first_name", "last_name", "institution"}
    # aiida's text is f"... {set(row)} != {keys}": compare the two printed sets as sets, since the printing
    # order of a set of strings is not fixed.
    prefix = "Incorrect fields given for EntityTypes.USER: "
    text = str(info.value)
    assert text.startswith(prefix)
    given, expected = text[len(prefix) :].split(" != ")
    assert ast.literal_eval(given) == set(row)
    assert ast.literal_eval(expected) == keys


@pytest.mark.usefixtures("unchanged")
def test_id_never_accepted(backend: Backend, user: int) -> None:
    with pytest.raises(IntegrityError, match="Incorrect fields"):
        backend.bulk_insert("node", [{**node_row(user), "id": 5}])
    with pytest.raises(IntegrityError, match="not subset"):
        backend.bulk_insert("node", [{"id": 5, "user_id": user}], allow_defaults=True)


@pytest.mark.usefixtures("unchanged")
def test_unknown_entity_type(backend: Backend, user: int) -> None:
    with pytest.raises(IntegrityError, match="Unknown entity type 'nodes'"):
        backend.bulk_insert("nodes", [node_row(user)])
    with pytest.raises(IntegrityError, match="Unknown entity type"):
        backend.bulk_update("setting", [{"id": 1}])


@pytest.mark.usefixtures("unchanged")
def test_metadata_key_required(backend: Backend, user: int) -> None:
    with pytest.raises(KeyError, match="metadata"):
        backend.bulk_insert("log", [{"loggername": "l", "levelname": "INFO", "dbnode_id": 1}], allow_defaults=True)


@pytest.mark.usefixtures("unchanged")
def test_duplicate_uuid(backend: Backend, user: int) -> None:
    same = str(uuid.uuid4())
    with pytest.raises(IntegrityError) as info:
        backend.bulk_insert("node", [node_row(user, 1, uuid=same), node_row(user, 2, uuid=same)])
    assert info.value.constraint == "uq_db_dbnode_uuid"


@pytest.mark.usefixtures("unchanged")
def test_link_to_missing_node(backend: Backend, user: int) -> None:
    with pytest.raises(IntegrityError) as info:
        backend.bulk_insert("link", [{"input_id": 2147483000, "output_id": 2147483001, "label": "x", "type": "create"}])
    assert info.value.constraint in {"fk_db_dblink_input_id_db_dbnode", "fk_db_dblink_output_id_db_dbnode"}


@pytest.mark.usefixtures("unchanged")
def test_unknown_user(backend: Backend, user: int) -> None:
    with pytest.raises(IntegrityError) as info:
        backend.bulk_insert("node", [node_row(user), node_row(user + 1000)])
    assert info.value.constraint == "fk_db_dbnode_user_id_db_dbuser"


@pytest.mark.usefixtures("unchanged")
def test_missing_required_column_under_defaults(backend: Backend) -> None:
    with pytest.raises(IntegrityError, match="user_id"):
        backend.bulk_insert("node", [{"label": "x"}], allow_defaults=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": [1, math.nan]}, r"rows\[1\]\['attributes'\]\['a'\]\[1\]: nan is not a JSON value"),
        ({"a": {"b": math.inf}}, r"rows\[1\]\['attributes'\]\['a'\]\['b'\]: inf is not a JSON value"),
        ({"a": -math.inf, "b": None}, r"\['a'\]: -inf is not a JSON value"),
        ({"a": {1: "x"}}, r"rows\[1\]\['attributes'\]\['a'\]: JSON object keys must be strings, not int 1"),
        ({"a": "x\x00y"}, r"rows\[1\]\['attributes'\]\['a'\]: the NUL character"),
        ({"a\x00": 1}, r"the NUL character"),
        ({"a": {1, 2}}, r"\['a'\]: a set is not a JSON value"),
        ({"a": datetime.now(UTC)}, r"\['a'\]: a datetime is not a JSON value"),
        ({"a": b"bytes"}, r"a bytes is not a JSON value"),
    ],
)
@pytest.mark.usefixtures("unchanged")
def test_values_json_cannot_hold(backend: Backend, user: int, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        backend.bulk_insert("node", [node_row(user, 0), node_row(user, 1, attributes=value)])


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("uuid", "not-a-uuid", "expected a UUID"),
        ("ctime", "2020-01-01", "expected a datetime"),
        ("user_id", "1", "expected a 32-bit integer"),
        ("user_id", 2**31, "expected a 32-bit integer"),
        ("label", 5, "expected a str"),
        ("label", "a\x00b", "the NUL character"),
    ],
)
@pytest.mark.usefixtures("unchanged")
def test_values_of_wrong_type(backend: Backend, user: int, column: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=rf"rows\[1\]\['{column}'\]: {message}"):
        backend.bulk_insert("node", [node_row(user, 0), node_row(user, 1, **{column: value})])


def test_big_integers_in_json_round_trip(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    value = {"big": 2**100, "neg": -(2**70), "none": None, "f": 0.1}
    (pk,) = backend.bulk_insert("node", [node_row(user, attributes=value)])
    assert conn.execute("SELECT attributes FROM db_dbnode WHERE id = %s", (pk,)).fetchone() == (value,)


# --- streaming ------------------------------------------------------------------------------------------


def test_stream_in_batches_with_progress(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    seen: list[int] = []
    ids: list[int] = []
    count = backend.bulk_insert_iter(
        "node", (node_row(user, i) for i in range(25)), batch_size=10, progress=seen.append, on_ids=ids.extend
    )
    assert count == 25 and seen == [10, 20, 25]
    labels = dict(conn.execute("SELECT id, label FROM db_dbnode").fetchall())
    assert [labels[pk] for pk in ids] == [f"node {i}" for i in range(25)]


@pytest.mark.usefixtures("unchanged")
def test_generator_raising_midway_leaves_nothing(backend: Backend, user: int) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        for i in range(30):
            if i == 25:
                raise RuntimeError("source failed")
            yield node_row(user, i)

    with pytest.raises(RuntimeError, match="source failed"):
        backend.bulk_insert_iter("node", rows(), batch_size=10)


@pytest.mark.usefixtures("unchanged")
def test_bad_row_in_late_batch_names_its_index(backend: Backend, user: int) -> None:
    rows = [node_row(user, i) for i in range(30)]
    rows[23]["attributes"] = {"x": math.nan}
    with pytest.raises(ValidationError, match=r"rows\[23\]\['attributes'\]\['x'\]"):
        backend.bulk_insert_iter("node", rows, batch_size=10)
    with pytest.raises(ValidationError, match="batch_size"):
        backend.bulk_insert_iter("node", rows, batch_size=0)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("container", [list, tuple])
def test_bad_row_in_a_later_part_of_one_call_leaves_nothing(backend: Backend, user: int, container: type) -> None:
    # bulk_insert converts OVERLAP_ROWS rows at a time while the COPY runs (fastdos/ingest.py): a row refused
    # after earlier parts went to the server aborts the COPY, and the call keeps nothing.
    late = ingest.OVERLAP_ROWS_WITHOUT_JSON * 2 + 7  # (the larger of the two part sizes)
    rows = [node_row(user, i) for i in range(late + 10)]
    rows[late]["attributes"] = {"x": math.nan}
    with pytest.raises(ValidationError, match=rf"rows\[{late}\]\['attributes'\]\['x'\]"):
        backend.bulk_insert("node", container(rows))
    links = [{"input_id": 1, "output_id": 2, "label": f"l{i}", "type": "create"} for i in range(late + 10)]
    links[late]["label"] = 7
    with pytest.raises(ValidationError, match=rf"rows\[{late}\]\['label'\]"):
        backend.bulk_insert("link", container(links))
    rows[late]["attributes"] = {"x": 1}
    del rows[late + 3]["label"]  # a wrong key set in a later part: aiida's IntegrityError
    with pytest.raises(IntegrityError, match=r"^Incorrect fields given for EntityTypes.NODE"):
        backend.bulk_insert("node", rows)


def test_rows_of_many_parts_keep_their_order(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    n = ingest.OVERLAP_ROWS * 3 + 1
    ids = backend.bulk_insert("node", [node_row(user, i) for i in range(n)])
    assert ids == sorted(ids) and len(set(ids)) == n
    stored = dict(conn.execute("SELECT id, label FROM db_dbnode WHERE id = ANY(%s)", (ids,)).fetchall())
    assert [stored[pk] for pk in ids] == [f"node {i}" for i in range(n)]
    with backend.transaction():  # the same inside a caller's transaction
        more = backend.bulk_insert("node", [node_row(user, i) for i in range(n, 2 * n)], allow_defaults=True)
    stored = dict(conn.execute("SELECT id, label FROM db_dbnode WHERE id = ANY(%s)", (more,)).fetchall())
    assert [stored[pk] for pk in more] == [f"node {i}" for i in range(n, 2 * n)]


# --- load mode ------------------------------------------------------------------------------------------


def schema_of(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    indexes = conn.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
    ).fetchall()
    constraints = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
    ).fetchall()
    return indexes + constraints


def test_load_mode_restores_schema(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    schema = schema_of(conn)
    ids: list[int] = []
    assert (
        backend.bulk_insert_iter("node", (node_row(user, i) for i in range(100)), load_mode=True, on_ids=ids.extend)
        == 100
    )
    links = ({"input_id": a, "output_id": b, "label": "x", "type": "create"} for a, b in itertools.pairwise(ids))
    assert backend.bulk_insert_iter("link", links, load_mode=True, batch_size=7) == 99
    assert schema_of(conn) == schema
    assert conn.execute("SELECT count(*) FROM db_dbnode WHERE label LIKE 'node 1%'").fetchone() == (11,)


@pytest.mark.usefixtures("unchanged")
def test_load_mode_failure_restores_schema(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    schema = schema_of(conn)
    links = [{"input_id": 2147483000, "output_id": 2147483001, "label": "x", "type": "create"}]
    with pytest.raises(IntegrityError) as info:
        backend.bulk_insert_iter("link", links, load_mode=True)
    assert info.value.constraint in {"fk_db_dblink_input_id_db_dbnode", "fk_db_dblink_output_id_db_dbnode"}
    with pytest.raises(IntegrityError):
        backend.bulk_insert_iter("node", [node_row(user + 1000)], load_mode=True)
    assert schema_of(conn) == schema


def test_load_mode_uses_catalog_names(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    # A legacy-migrated database names its indexes differently (docs/schema.md#legacy-migrated-databases):
    # nothing may be hard-coded.
    conn.execute("ALTER INDEX ix_db_dbnode_db_dbnode_ctime RENAME TO ix_db_dbnode_ctime")
    schema = schema_of(conn)
    backend.bulk_insert_iter("node", [node_row(user, 1)], load_mode=True)
    assert schema_of(conn) == schema


# --- bulk_update ----------------------------------------------------------------------------------------


def test_update_extras_bumps_mtime(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    old = datetime(2000, 1, 1, tzinfo=UTC)
    ids = backend.bulk_insert("node", [node_row(user, i, mtime=old) for i in range(5)])
    backend.bulk_update("node", [{"id": pk, "extras": {"n": i}} for i, pk in enumerate(reversed(ids))])
    rows = dict((r[0], r[1:]) for r in conn.execute("SELECT id, extras, mtime, label FROM db_dbnode"))
    for i, pk in enumerate(reversed(ids)):
        extras, mtime, _ = rows[pk]
        assert extras == {"n": i} and mtime > old
    given = datetime(2010, 5, 5, tzinfo=UTC)
    backend.bulk_update("node", [{"id": ids[0], "mtime": given, "label": "renamed"}, {"id": ids[1], "label": "b"}])
    assert conn.execute("SELECT label, mtime FROM db_dbnode WHERE id = %s", (ids[0],)).fetchone() == ("renamed", given)
    assert conn.execute("SELECT label FROM db_dbnode WHERE id = %s", (ids[1],)).fetchone() == ("b",)


def test_update_metadata_and_later_row_wins(backend: Backend, conn: psycopg.Connection) -> None:
    (cid,) = backend.bulk_insert("computer", [{"label": "c", "metadata": {}}], allow_defaults=True)
    backend.bulk_update("computer", [{"id": cid, "_metadata": {"a": 1}}, {"id": cid, "_metadata": {"a": 2}}])
    assert conn.execute("SELECT metadata FROM db_dbcomputer").fetchone() == ({"a": 2},)


def test_update_inside_transaction_twice(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    ids = backend.bulk_insert("node", [node_row(user, i) for i in range(3)])
    with backend.transaction():
        backend.bulk_update("node", [{"id": pk, "extras": {"a": 1}} for pk in ids])
        backend.bulk_update("node", [{"id": pk, "extras": {"a": 2}} for pk in ids])
    assert conn.execute("SELECT DISTINCT extras FROM db_dbnode").fetchall() == [({"a": 2},)]


@pytest.mark.usefixtures("unchanged")
def test_update_bad_rows(backend: Backend, conn: psycopg.Connection) -> None:
    (pk,) = conn.execute("SELECT id FROM db_dbnode").fetchone() or (0,)
    with pytest.raises(IntegrityError, match=r"^'id' field not given for EntityTypes.NODE: \{'extras'\}$"):
        backend.bulk_update("node", [{"id": pk, "extras": {}}, {"extras": {}}])
    with pytest.raises(IntegrityError, match="not subset of"):
        backend.bulk_update("node", [{"id": pk, "colour": 1}])
    with pytest.raises(IntegrityError, match="not subset of"):
        backend.bulk_update("computer", [{"id": pk, "metadata": {}}])  # bulk_update wants _metadata
    with pytest.raises(NotExistent, match=r"no rows with ids \[2147483000, 2147483001\]"):
        backend.bulk_update(
            "node", [{"id": pk, "extras": {"x": 1}}, {"id": 2147483001, "extras": {}}, {"id": 2147483000, "extras": {}}]
        )
    with pytest.raises(ValidationError, match=r"rows\[1\]\['extras'\]\['x'\]: nan"):
        backend.bulk_update("node", [{"id": pk, "extras": {}}, {"id": pk, "extras": {"x": math.nan}}])
    with pytest.raises(IntegrityError) as info:
        backend.bulk_update("node", [{"id": pk, "user_id": 2147483000}])
    assert info.value.constraint == "fk_db_dbnode_user_id_db_dbuser"


# --- group memberships ----------------------------------------------------------------------------------


def test_group_memberships_skip_existing(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    ids = backend.bulk_insert("node", [node_row(user, i) for i in range(4)])
    (gid,) = backend.bulk_insert("group", [{"label": "g", "user_id": user}], allow_defaults=True)
    assert backend.add_nodes_to_group(gid, ids[:2]) == 2
    assert backend.add_nodes_to_group(gid, [*ids, ids[3]]) == 2
    assert conn.execute("SELECT count(*) FROM db_dbgroup_dbnodes").fetchone() == (4,)


@pytest.mark.parametrize("inside", [False, True])
def test_many_memberships_all_new_then_some_existing(
    backend: Backend, conn: psycopg.Connection, user: int, inside: bool
) -> None:
    # from NEW_MEMBERS_FIRST pairs the all-new COPY runs first; a pair that exists (or comes twice) falls
    # back to ON CONFLICT DO NOTHING in the same unit of work, inside a caller's transaction too
    from fastdos.ingest import NEW_MEMBERS_FIRST

    n = NEW_MEMBERS_FIRST + 10
    ids = backend.bulk_insert("node", [node_row(user, i) for i in range(n)])
    (a, b) = backend.bulk_insert("group", [{"label": f"g{i}", "user_id": user} for i in range(2)], allow_defaults=True)
    with backend.transaction() if inside else contextlib.nullcontext():
        assert backend.add_nodes_to_group(a, ids) == n  # all new
        assert backend.add_nodes_to_groups([(a, pk) for pk in ids[:5]] + [(b, pk) for pk in ids]) == n  # 5 exist
        assert backend.add_nodes_to_group(b, [*ids[:3], *ids[:3], *ids]) == 0  # duplicates and existing only
    rows = conn.execute("SELECT dbgroup_id, count(*) FROM db_dbgroup_dbnodes GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [(a, n), (b, n)]


@pytest.mark.usefixtures("unchanged")
def test_group_memberships_bad_input(backend: Backend, conn: psycopg.Connection) -> None:
    (pk,) = conn.execute("SELECT id FROM db_dbnode").fetchone() or (0,)
    with pytest.raises(ValidationError, match=r"pairs\[1\]"):
        backend.add_nodes_to_groups([(1, pk), (1, "2")])  # type: ignore[list-item]
    with pytest.raises(IntegrityError) as info:
        backend.add_nodes_to_group(2147483000, [pk])
    assert info.value.constraint == "fk_db_dbgroup_dbnodes_dbgroup_id_db_dbgroup"


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "bad, message",
    [
        ((1, True), r"pairs\[1500\]: expected positive 32-bit integer ids"),
        ((1, 0), r"pairs\[1500\]: expected positive 32-bit integer ids"),
        ((1, 2**31), r"pairs\[1500\]: expected positive 32-bit integer ids"),
        ((1, 2, 3), r"pairs\[1500\]: expected \(group_id, node_id\)"),
        ((1,), r"pairs\[1500\]: expected \(group_id, node_id\)"),
        (None, r"pairs\[1500\]: expected \(group_id, node_id\)"),
    ],
)
def test_many_memberships_bad_pair_named(backend: Backend, conn: psycopg.Connection, bad: Any, message: str) -> None:
    # many pairs take a column-wise check (fastdos/ingest.py _plain_pairs); a bad one goes the pair-by-pair way,
    # which names it, and nothing is written
    (pk,) = conn.execute("SELECT id FROM db_dbnode").fetchone() or (0,)
    pairs: list[Any] = [(1, pk)] * 2000
    pairs[1500] = bad
    with pytest.raises(ValidationError, match=message):
        backend.add_nodes_to_groups(pairs)


def test_many_memberships_as_lists_or_a_generator(backend: Backend, conn: psycopg.Connection, user: int) -> None:
    ids = backend.bulk_insert("node", [node_row(user, i) for i in range(1200)])
    (a, b) = backend.bulk_insert("group", [{"label": f"g{i}", "user_id": user} for i in range(2)], allow_defaults=True)
    assert backend.add_nodes_to_groups([[a, pk] for pk in ids]) == 1200  # type: ignore[misc]
    assert backend.add_nodes_to_groups((b, pk) for pk in ids) == 1200
    rows = conn.execute("SELECT dbgroup_id, count(*) FROM db_dbgroup_dbnodes GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [(a, 1200), (b, 1200)]


def test_plain_rows_checked_column_wise_as_row_by_row() -> None:
    # int/text entities (links, memberships, users) take a column-wise check; anything it does not accept goes
    # the per-row way, which names the row: the same tuples, the same errors
    from fastdos import rows as rows_module

    spec = ENTITIES[EntityTypes.LINK]
    good = [{"input_id": i + 1, "output_id": i + 2, "label": f"l{i}", "type": "input_calc"} for i in range(50)]
    fast = rows_module._plain_rows(spec, good)
    assert fast is not None and fast == rows_module.insert_rows(spec, iter(good), False)  # iter: the row path
    for row, key, value, message in [
        (7, "input_id", 2**31, "32-bit integer"),
        (8, "label", "a\x00b", "NUL"),
        (9, "type", None, None),
        (10, "label", "caf\u00e9", None),
        (11, "output_id", True, "32-bit integer"),
    ]:
        bad = [dict(r) for r in good]
        bad[row][key] = value
        assert rows_module._plain_rows(spec, bad) is None
        if message is None:
            rows_module.insert_rows(spec, bad, False)  # accepted by the row path too (NOT NULL is the server's)
        else:
            with pytest.raises(ValidationError, match=rf"rows\[{row}\]\['{key}'\].*{message}"):
                rows_module.insert_rows(spec, bad, False)
    with pytest.raises(IntegrityError, match="Incorrect fields"):
        rows_module.insert_rows(spec, [*good[:3], {"input_id": 1}], False)
