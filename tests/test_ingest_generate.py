"""The generated provenance graph (demo, CLI, benchmarks): counts, link shape, raw COPY rate leaves nothing."""

from __future__ import annotations

import psycopg

from fastdos.backend import Backend
from fastdos.generate import generate_provenance, ingest_generated, raw_copy_rate


def test_ingest_generated(backend: Backend, conn: psycopg.Connection) -> None:
    seen: list[tuple[str, int, int]] = []
    result = ingest_generated(backend, 400, progress=lambda *a: seen.append(a))
    assert (result["nodes"], result["links"], result["groups"], result["group_nodes"]) == (400, 300, 1, 100)
    assert result["rows_per_second"] > 0
    assert ("nodes", 400, 400) in seen and ("links", 300, 300) in seen
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM db_dbnode), (SELECT count(*) FROM db_dblink),"
        " (SELECT count(*) FROM db_dbgroup_dbnodes), (SELECT count(*) FROM db_dbnode WHERE process_type IS NULL)"
    ).fetchone()
    assert counts == (400, 300, 100, 300)
    # every calc node has two input_calc links in and one create link out
    shape = conn.execute(
        "SELECT count(*) FROM db_dbnode AS n WHERE n.process_type IS NOT NULL"
        " AND (SELECT count(*) FROM db_dblink WHERE output_id = n.id AND type = 'input_calc') = 2"
        " AND (SELECT count(*) FROM db_dblink WHERE input_id = n.id AND type = 'create') = 1"
    ).fetchone()
    assert shape == (100,)
    # a second run into the same storage reuses the demo user and never collides
    assert ingest_generated(backend, 8)["nodes"] == 8


def test_raw_copy_rate_leaves_nothing(backend: Backend, conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT count(*) FROM db_dbnode").fetchone()
    result = raw_copy_rate(backend, 500)
    assert result["rows"] == 500 and result["rows_per_second"] > 0
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone() == before


def test_generate_provenance_stream() -> None:
    items = list(generate_provenance(8, seed=1))
    kinds = [kind for kind, _ in items]
    assert kinds == ["node"] * 8 + ["link"] * 6 + ["group_node"] * 2 + ["group"]
    assert items[8][1] == {"input_id": 0, "output_id": 2, "label": "x", "type": "input_calc"}
    assert len(items[0][1]["attributes"]) == 10
