"""Calibration workloads: fixed yardsticks for the fastdos benchmarks that have no reference beside them.

aiida-core's archive import and export are timed once per run outside pytest-benchmark's rounds (they take
minutes), so the gate (bench/pairs.py) measures fastdos' import and export against these instead: fixed
work of the same kind on the same server, whose code does not change with fastdos.

* ``sqlite_to_copy``: read N node rows from an SQLite file (as an archive's ``db.sqlite3`` holds them) and
  COPY them into ``db_dbnode`` of a fastdos storage, committed: what an archive import does, minus the
  checks, links, groups and files (yardstick of bench/test_import.py);
* ``copy_to_sqlite``: COPY N node rows out of PostgreSQL, insert them into a fresh SQLite file and deflate
  that into a zip: what an export does, minus the selection walk and the files (bench/test_export.py).

Run: ``.venv/bin/python -m pytest bench/test_calibration.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from bench.sizes import ARCHIVE_SIZES, IMPORT_SIZES
from fastdos.backend import Backend
from fastdos.generate import NODE_COLUMNS, copy_text, generate_nodes

Storage = tuple[Backend, psycopg.Connection]
ROUNDS = {1_000: 7, 3_300: 5, 10_000: 3, 100_000: 2}  # as bench/test_import.py
COLUMNS = ", ".join(NODE_COLUMNS)
# SQLite side (fixed text, no parameters in it); the PostgreSQL side through psycopg.sql
LITE_CREATE = "CREATE TABLE db_dbnode (" + COLUMNS + ")"
LITE_INSERT = "INSERT INTO db_dbnode VALUES (" + ", ".join("?" for _ in NODE_COLUMNS) + ")"
LITE_SELECT = "SELECT " + COLUMNS + " FROM db_dbnode"
COPY_OUT = sql.SQL("COPY db_dbnode ({}) TO STDOUT").format(sql.SQL(", ").join(map(sql.Identifier, NODE_COLUMNS)))


def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dict):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


@pytest.fixture(scope="module")
def user(module_storage: Storage) -> int:
    _, conn = module_storage
    row = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('c@f.i', '', '', '') RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def node_sqlite(path: Path, n: int, user: int) -> Path:
    """An SQLite file with ``n`` generated node rows, JSON columns as text (as in an archive)."""
    with sqlite3.connect(path) as lite:
        lite.execute(LITE_CREATE)
        rows = (
            (i, *(json.dumps(r[c]) if isinstance(r.get(c), dict) else r.get(c) for c in NODE_COLUMNS[1:]))
            for i, r in enumerate(generate_nodes(n, seed=7, user_id=user), 1)
        )
        lite.executemany(LITE_INSERT, rows)
    return path


@pytest.mark.parametrize("n", IMPORT_SIZES)
def test_sqlite_to_copy(benchmark: Any, module_storage: Storage, user: int, tmp_path: Path, n: int) -> None:
    _, conn = module_storage
    source = node_sqlite(tmp_path / "db.sqlite3", n, user)

    def setup() -> None:
        conn.execute("TRUNCATE db_dbnode RESTART IDENTITY CASCADE")

    def target() -> None:
        with sqlite3.connect(source) as lite:
            data = "".join("\t".join(_text(v) for v in row) + "\n" for row in lite.execute(LITE_SELECT)).encode()
        with conn.transaction():
            copy_text(conn, "db_dbnode", NODE_COLUMNS, data)

    benchmark.pedantic(target, setup=setup, rounds=ROUNDS[n], iterations=1, warmup_rounds=0)
    benchmark.extra_info["rows"] = n
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone() == (n,)


@pytest.mark.parametrize("n", ARCHIVE_SIZES)
def test_copy_to_sqlite(benchmark: Any, module_storage: Storage, user: int, tmp_path: Path, n: int) -> None:
    backend, conn = module_storage
    conn.execute("TRUNCATE db_dbnode RESTART IDENTITY CASCADE")
    backend.bulk_insert_iter("node", generate_nodes(n, seed=8, user_id=user))
    conn.execute("VACUUM ANALYZE db_dbnode")
    out = tmp_path / "out.zip"

    def target() -> None:
        database = tmp_path / "db.sqlite3"
        if database.exists():
            os.unlink(database)
        with sqlite3.connect(database) as lite, conn.cursor() as cursor:
            lite.execute(LITE_CREATE)
            with cursor.copy(COPY_OUT) as copy:
                lite.executemany(LITE_INSERT, copy.rows())
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            archive.write(database, "db.sqlite3")

    benchmark.pedantic(target, rounds=ROUNDS[n], iterations=1, warmup_rounds=0)
    benchmark.extra_info["rows"] = n
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["db.sqlite3"]
