"""A small hand-built provenance graph for the query and collection tests (and a check of the seed itself).

    n1 Int(1) --input_calc--> n7 CalcJob --create--> n2 Int(2) --input_calc--> n8 CalcFunction --create--> n3 Float
    n9 WorkChain --call_calc--> n7, n9 --return--> n2, n4 Str('2') --input_work--> n9
Group g1 = {n1, n2}. Users u1 (most nodes), u2 (n10). Computer c1 used by n7.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

NODES: list[tuple[str, str, dict[str, Any], str]] = [
    # (key, node_type, attributes, label)
    ("n1", "data.core.int.Int.", {"value": 1}, "one"),
    ("n2", "data.core.int.Int.", {"value": 2}, "two"),
    ("n3", "data.core.float.Float.", {"value": 2.5}, "two and a half"),
    ("n4", "data.core.str.Str.", {"value": "2"}, "string two"),
    ("n5", "data.core.dict.Dict.", {"a": {"b": 5, "c": "x"}, "list": [1, 2, 3], "flag": True}, "dict5"),
    ("n6", "data.core.dict.Dict.", {"a": {"b": "5"}, "list": [], "flag": False, "n": None}, "dict6"),
    (
        "n7",
        "process.calculation.calcjob.CalcJobNode.",
        {"process_state": "finished", "exit_status": 0, "sealed": True, "process_label": "Add"},
        "calc",
    ),
    (
        "n8",
        "process.calculation.calcfunction.CalcFunctionNode.",
        {"process_state": "excepted", "exit_status": 1, "sealed": True, "process_label": "mul"},
        "calcfunction",
    ),
    ("n9", "process.workflow.workchain.WorkChainNode.", {"process_state": "running", "sealed": False}, "work"),
    ("n10", "data.core.int.Int.", {}, "empty"),
]
LINKS = [
    ("n1", "n7", "x", "input_calc"),
    ("n7", "n2", "result", "create"),
    ("n2", "n8", "x", "input_calc"),
    ("n8", "n3", "result", "create"),
    ("n9", "n7", "CALL", "call_calc"),
    ("n9", "n2", "result", "return"),
    ("n4", "n9", "x", "input_work"),
]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class Seed:
    """Ids of the seeded rows by key."""

    ids: dict[str, int]
    uuids: dict[str, str]

    def pks(self, *keys: str) -> set[int]:
        return {self.ids[k] for k in keys}

    def keys(self, pks: Any) -> set[str]:
        back = {v: k for k, v in self.ids.items() if k.startswith("n")}
        return {back[p] for p in pks}


def seed(conn: psycopg.Connection) -> Seed:
    ids: dict[str, int] = {}
    uuids: dict[str, str] = {}

    def one(query: str, params: tuple[Any, ...]) -> int:
        row = conn.execute(query, params).fetchone()
        assert row is not None
        return int(row[0])

    for key, email in (("u1", "u1@example.org"), ("u2", "u2@example.org")):
        ids[key] = one(
            "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES (%s, '', '', '') RETURNING id",
            (email,),
        )
    ids["c1"] = one(
        "INSERT INTO db_dbcomputer (uuid, label, hostname, description, scheduler_type, transport_type, metadata)"
        " VALUES (%s, 'localhost', 'localhost', '', 'core.direct', 'core.local', '{}') RETURNING id",
        (uuid.uuid4(),),
    )
    for i, (key, node_type, attributes, label) in enumerate(NODES):
        uid = uuid.uuid4()
        uuids[key] = str(uid)
        process_type = "aiida.calculations:core.arithmetic.add" if node_type.startswith("process.") else None
        ids[key] = one(
            "INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes,"
            " extras, repository_metadata, dbcomputer_id, user_id)"
            " VALUES (%s, %s, %s, %s, '', %s, %s, %s, %s, '{}', %s, %s) RETURNING id",
            (
                uid,
                node_type,
                process_type,
                label,
                T0 + timedelta(hours=i),
                T0 + timedelta(hours=i),
                json.dumps(attributes),
                json.dumps({"tag": key}),
                ids["c1"] if key == "n7" else None,
                ids["u2"] if key == "n10" else ids["u1"],
            ),
        )
    for source, target, label, link_type in LINKS:
        conn.execute(
            "INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (%s, %s, %s, %s)",
            (ids[source], ids[target], label, link_type),
        )
    ids["g1"] = one(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " VALUES (%s, 'g1', 'core', %s, '', '{}', %s) RETURNING id",
        (uuid.uuid4(), T0, ids["u1"]),
    )
    for key in ("n1", "n2"):
        conn.execute("INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) VALUES (%s, %s)", (ids["g1"], ids[key]))
    ids["cm1"] = one(
        "INSERT INTO db_dbcomment (uuid, dbnode_id, ctime, mtime, user_id, content) VALUES (%s, %s, %s, %s, %s, 'hi')"
        " RETURNING id",
        (uuid.uuid4(), ids["n7"], T0, T0, ids["u1"]),
    )
    ids["l1"] = one(
        "INSERT INTO db_dblog (uuid, time, loggername, levelname, dbnode_id, message, metadata)"
        " VALUES (%s, %s, 'aiida', 'REPORT', %s, 'done', '{}') RETURNING id",
        (uuid.uuid4(), T0, ids["n7"]),
    )
    ids["a1"] = one(
        "INSERT INTO db_dbauthinfo (aiidauser_id, dbcomputer_id, metadata, auth_params, enabled)"
        " VALUES (%s, %s, '{}', '{}', true) RETURNING id",
        (ids["u1"], ids["c1"]),
    )
    conn.execute("ANALYZE")
    return Seed(ids, uuids)


def test_seed_counts(conn: psycopg.Connection) -> None:
    s = seed(conn)
    row = conn.execute("SELECT (SELECT count(*) FROM db_dbnode), (SELECT count(*) FROM db_dblink)").fetchone()
    assert row == (len(NODES), len(LINKS))
    assert len(s.uuids) == len(NODES)
