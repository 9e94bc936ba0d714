"""Measure table and index sizes of a storage as it grows (the figures of docs/scaling.md).

Not a pytest benchmark: a script, run by hand, that builds a throwaway database on the server of ``--dsn``
with ``fastdos.generate.ingest_generated`` (COPY through ``bulk_insert_iter``), reads the sizes at each
step with ``sql/scaling/*.sql``, builds the closure table at the end, and writes everything as JSON.

    .venv/bin/python -m bench.scaling --dsn "host=127.0.0.1 port=5432 user=postgres" --steps 200000,1000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastdos import db
from fastdos.backend import Backend
from fastdos.generate import ingest_generated
from fastdos.profile import Profile

TABLE_FIELDS = ("table", "rows", "heap", "indexes", "toast", "total")


def sizes(storage: Backend) -> dict[str, Any]:
    """Sizes of every table and index, and btree levels, right now (after ANALYZE)."""
    with storage.context.connection() as conn:
        db.run(conn, "scaling/analyze")
        tables = db.all_rows(conn, "scaling/relation_sizes")
        indexes = db.all_rows(conn, "scaling/index_sizes")
        levels = dict(db.all_rows(conn, "scaling/btree_levels"))
        total = db.scalar(conn, "info/database_size")
    return {
        "database_bytes": int(total),
        "tables": [dict(zip(TABLE_FIELDS, row, strict=True)) for row in tables],
        "indexes": [
            {"table": t, "index": i, "method": m, "bytes": int(b), "btree_level": levels.get(i)}
            for t, i, m, b in indexes
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="libpq DSN of a server where a database may be created")
    parser.add_argument("--steps", default="200000,1000000", help="cumulative node counts to measure at")
    parser.add_argument("--out", default="bench/notes/scaling_measured.json")
    args = parser.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    name = f"fastdos_scaling_{uuid.uuid4().hex[:8]}"
    repo = Path(tempfile.mkdtemp(prefix="fastdos-scaling-"))
    admin = Profile.from_dsn("admin", args.dsn, repo)
    with db.connect(admin.conninfo("postgres")) as conn:
        db.run(conn, "admin/create_database", identifiers={"dbname": name})
    profile = Profile.from_dsn("scaling", args.dsn + f" dbname={name}", repo)
    results: dict[str, Any] = {"database": name, "steps": []}
    try:
        Backend.initialise(profile)
        with Backend(profile) as storage:
            with storage.context.connection() as conn:
                db.run(conn, "scaling/create_pageinspect")
                results["server_version"] = conn.info.server_version
            done = 0
            for target in steps:
                started = time.perf_counter()
                report = ingest_generated(storage, target - done, seed=done)
                done = target
                step = {"nodes": done, "ingest_seconds": time.perf_counter() - started, "ingest": report}
                step["sizes"] = sizes(storage)
                results["steps"].append(step)
                print(f"{done} nodes: {step['sizes']['database_bytes'] / 2**20:.1f} MiB", flush=True)
            storage.install_closure()
            started = time.perf_counter()
            refresh = storage.refresh_closure(row_budget=None, force_rebuild=True)
            results["closure"] = {
                "seconds": time.perf_counter() - started,
                "report": str(refresh),
                "sizes": sizes(storage),
            }
        Path(args.out).write_text(json.dumps(results, indent=1, default=str) + "\n")
        print(f"written {args.out}")
    finally:
        with db.connect(admin.conninfo("postgres")) as conn:
            db.run(conn, "admin/drop_database", identifiers={"dbname": name})
        shutil.rmtree(repo, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
