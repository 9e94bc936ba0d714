"""check_integrity: each of aiida 1.x's provenance checks finds its planted problem and nothing else."""

from __future__ import annotations

import io
import json
import uuid

import psycopg
import pytest

from fastdos.backend import Backend
from tests.test_graph import build


def test_clean_storage_is_ok(backend: Backend, conn: psycopg.Connection) -> None:
    repo = backend.get_repository()
    key = repo.put_object_from_filelike(io.BytesIO(b"hello"))
    ids, _ = build(conn, ["data", "work", "calc", "data"],
                   [(0, 1, "input_work"), (1, 2, "call_calc"), (0, 2, "input_calc"), (2, 3, "create"),
                    (1, 3, "return")])
    conn.execute("UPDATE db_dbnode SET repository_metadata = %s WHERE id = %s",
                 (json.dumps({"o": {"a": {"o": {"f.txt": {"k": key}}}, "empty": {}}}), ids[3]))
    report = backend.check_integrity()
    assert report.ok, report.summary()
    assert {c.name for c in report.checks} == {
        "duplicate_uuids", "link_endpoints", "multiple_callers", "multiple_creators", "unknown_link_types",
        "missing_objects",
    }
    assert report.as_dict()["ok"] is True


def test_each_problem_is_found(backend: Backend, conn: psycopg.Connection) -> None:
    repo = backend.get_repository()
    present = repo.put_object_from_filelike(io.BytesIO(b"present"))
    missing = "0" * 64
    ids, _ = build(conn, ["data", "work", "calc", "data", "calc", "work", "data"], [
        (0, 2, "input_calc"), (2, 3, "create"),
        (4, 3, "create"),            # node 3 has two creators
        (1, 2, "call_calc"), (5, 2, "call_calc"),  # calc 2 has two callers
        (3, 1, "create"),            # create data -> work: wrong endpoints
        (0, 6, "bogus"),             # unknown link type
    ])
    conn.execute("UPDATE db_dbnode SET repository_metadata = %s WHERE id = %s",
                 (json.dumps({"o": {"x": {"k": present}, "d": {"o": {"y": {"k": missing}}}}}), ids[6]))
    conn.execute("UPDATE db_dbnode SET repository_metadata = %s WHERE id = %s",
                 (json.dumps({"o": {"z": {"k": missing}}}), ids[0]))
    # Duplicate UUIDs need the unique constraint gone (as in databases that lost it); this DB is a throwaway.
    conn.execute("ALTER TABLE db_dbnode DROP CONSTRAINT uq_db_dbnode_uuid")
    dup = uuid.uuid4()
    conn.execute("UPDATE db_dbnode SET uuid = %s WHERE id = ANY(%s)", (dup, [ids[4], ids[5]]))

    report = backend.check_integrity(examples=5)
    assert not report.ok
    assert report["duplicate_uuids"].count == 1
    assert report["duplicate_uuids"].examples == [{"uuid": str(dup), "ids": [ids[4], ids[5]]}]
    assert report["link_endpoints"].count == 1
    assert report["link_endpoints"].examples[0]["input_id"] == ids[3]
    assert report["link_endpoints"].examples[0]["output_node_type"].startswith("process.workflow.")
    assert report["multiple_callers"].examples == [{"node_id": ids[2], "caller_ids": [ids[1], ids[5]]}]
    assert report["multiple_creators"].examples == [{"node_id": ids[3], "creator_ids": [ids[2], ids[4]]}]
    assert report["unknown_link_types"].count == 1 and report["unknown_link_types"].examples[0]["type"] == "bogus"
    assert report["missing_objects"].count == 1
    assert report["missing_objects"].examples == [{"key": missing, "node_ids": sorted([ids[0], ids[6]])}]
    assert "missing_objects: 1 found" in report.summary()
    assert not backend.check_integrity(repository=False).ok
    with pytest.raises(KeyError):
        report["nope"]


def test_examples_are_capped_and_counts_are_totals(backend: Backend, conn: psycopg.Connection) -> None:
    ids, _ = build(conn, ["data"] * 8, [(i, i + 1, "weird") for i in range(7)])
    report = backend.check_integrity(examples=3)
    assert report["unknown_link_types"].count == 7
    assert len(report["unknown_link_types"].examples) == 3
    capped = backend.check_integrity(examples=0)["unknown_link_types"]
    assert capped.examples == [] and capped.count == 7 and not capped.ok
    with pytest.raises(ValueError, match="examples"):
        backend.check_integrity(examples=-1)
    assert len(ids) == 8
