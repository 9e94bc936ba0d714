"""Worker processes for the reliability tests: run one fastdos operation, report progress, get killed.

Run as ``python worker.py <scenario> <conninfo> <repository> [json-args]``. The worker prints ``READY ...``
lines on stdout at the point the parent waits for; the parent then sends SIGKILL to the worker's process
group (so child programs such as pg_dump or rsync die with it). Scenarios that finish print ``DONE``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastdos.backend import Backend
from fastdos.profile import Profile


def say(*words: object) -> None:
    print(*words, flush=True)


def hang() -> None:
    """Wait to be killed (bounded, so that a broken test never leaves a worker behind for long)."""
    time.sleep(300)
    say("TIMEOUT")
    sys.exit(3)


def node_rows(user_id: int, n: int, label: str, keys: list[str] | None = None) -> Iterator[dict[str, Any]]:
    for index in range(n):
        metadata: dict[str, Any] = {}
        if keys:
            key = keys[index % len(keys)]
            metadata = {"o": {"f.txt": {"k": key}}}
        yield {
            "user_id": user_id,
            "node_type": "data.core.int.Int.",
            "label": label,
            "attributes": {"value": index},
            "repository_metadata": metadata,
        }


def insert_iter(backend: Backend, args: dict[str, Any]) -> None:
    """Write objects, then stream nodes that reference them; stop mid-transaction after some batches."""
    repository = backend.get_repository()
    keys = [repository.put_object_from_filelike(io.BytesIO(f"orphan {os.getpid()} {i}".encode())) for i in range(5)]
    say("OBJECTS", json.dumps(keys))

    def rows() -> Iterator[dict[str, Any]]:
        for index, row in enumerate(node_rows(args["user_id"], args["n"], args["label"], keys)):
            if index == args["stop_after"]:
                say("READY")
                hang()
            yield row

    backend.bulk_insert_iter("node", rows(), batch_size=1_000, allow_defaults=True)
    say("DONE")


def insert_big(backend: Backend, args: dict[str, Any]) -> None:
    """One large bulk_insert whose last row collides with a uuid the parent holds uncommitted (COPY waits)."""
    rows = list(node_rows(args["user_id"], args["n"], args["label"]))
    rows[-1]["uuid"] = args["blocking_uuid"]
    say("READY")
    backend.bulk_insert("node", rows, allow_defaults=True)
    say("DONE")


def update(backend: Backend, args: dict[str, Any]) -> None:
    """bulk_update of every given id; the parent holds a row lock on the last one (the UPDATE waits)."""
    rows = [{"id": pk, "label": args["label"], "extras": {"touched": True}} for pk in args["ids"]]
    say("READY")
    backend.bulk_update("node", rows)
    say("DONE")


def delete(backend: Backend, args: dict[str, Any]) -> None:
    """delete_nodes of the given ids; the parent holds a row lock on one node (the node DELETE waits)."""
    say("READY")
    backend.delete_nodes(args["ids"], dry_run=False)
    say("DONE")


def bulk_delete(backend: Backend, args: dict[str, Any]) -> None:
    """delete_nodes with a forced strategy; just before the statement ``wait_before`` its session waits for an
    advisory lock the parent holds, so the kill lands mid-statement, halfway through the deletion."""
    from fastdos import db, graph

    execute = db.execute

    def waiting(conn: Any, name: str, *rest: Any, **kw: Any) -> Any:
        if name == args["wait_before"]:
            say("READY")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (args["lock_key"],))
        return execute(conn, name, *rest, **kw)

    db.execute = waiting  # type: ignore[assignment]
    graph.delete_nodes_using(backend.context, args["ids"], args["strategy"])
    say("DONE")


def maintain(backend: Backend, args: dict[str, Any]) -> None:
    """maintain(full=True), stopping at the n-th progress callback (mid-pack or mid-repack)."""
    calls = 0

    def callback(action: str, value: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == args["stop_at"]:
            say("READY", action)
            hang()

    backend.maintain(full=True, callback=callback)
    say("DONE", calls)


def backup(backend: Backend, args: dict[str, Any]) -> None:
    """A backup that waits to be killed after the database dump, or after the first container folder copied."""
    from fastdos import backup as module

    patched = "_dump_database" if args["stop"] == "after_dump" else "_copy_tree"
    original = getattr(module, patched)

    def stop_after(*a: Any, **kw: Any) -> Any:
        original(*a, **kw)
        say("READY", patched)
        hang()

    setattr(module, patched, stop_after)
    backend.backup(args["dest"], rsync=args.get("rsync"))
    say("DONE")


def hold(backend: Backend, args: dict[str, Any]) -> None:
    """Keep the backend open inside a transaction that inserted rows (an ingest in progress)."""
    with backend.transaction():
        backend.bulk_insert("node", list(node_rows(args["user_id"], 10, args["label"])), allow_defaults=True)
        say("READY")
        hang()


def ingest_graph(backend: Backend, args: dict[str, Any]) -> None:
    """``count`` subgraphs (input -> calculation -> output, all three in group ``group``), one transaction each."""
    user, group, tag = args["user_id"], args["group"], args["tag"]
    ids: list[int] = []
    for index in range(args["count"]):
        with backend.transaction():
            data_in, calc, data_out = backend.bulk_insert(
                "node",
                [
                    {"user_id": user, "node_type": "data.core.int.Int.", "label": f"{tag}-{index}-in"},
                    {
                        "user_id": user,
                        "node_type": "process.calculation.calcjob.CalcJobNode.",
                        "label": f"{tag}-{index}",
                    },
                    {"user_id": user, "node_type": "data.core.int.Int.", "label": f"{tag}-{index}-out"},
                ],
                allow_defaults=True,
            )
            backend.bulk_insert(
                "link",
                [
                    {"input_id": data_in, "output_id": calc, "label": "x", "type": "input_calc"},
                    {"input_id": calc, "output_id": data_out, "label": "y", "type": "create"},
                ],
            )
            backend.add_nodes_to_group(group, [data_out, calc, data_in])
        ids += [data_in, calc, data_out]
    say("IDS", json.dumps(ids))


def delete_graph(backend: Backend, args: dict[str, Any]) -> None:
    """Delete the given calculations (and what they created) one call each, in an order that interleaves."""
    deleted: list[int] = []
    for pk in args["ids"]:
        deleted += sorted(backend.delete_nodes([pk], dry_run=False))
    say("DELETED", json.dumps(deleted))


def import_archive(backend: Backend, args: dict[str, Any]) -> None:
    """Archive import, stopping at the first progress report of stage ``stage`` with some work done."""
    from fastdos.importer import import_archive as run

    def progress(stage: str, done: int, total: int) -> None:
        if stage == args["stage"] and (done > 0 or total == 0):
            say("READY", stage, done, total)
            hang()

    run(backend, args["path"], progress=progress, tmpdir=args.get("tmpdir"))
    say("DONE")


SCENARIOS = {
    "import_archive": import_archive,
    "ingest_graph": ingest_graph,
    "delete_graph": delete_graph,
    "insert_iter": insert_iter,
    "insert_big": insert_big,
    "update": update,
    "delete": delete,
    "bulk_delete": bulk_delete,
    "maintain": maintain,
    "backup": backup,
    "hold": hold,
}


def main() -> None:
    scenario, conninfo, repository = sys.argv[1:4]
    args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    profile = Profile.from_dsn("reliability", conninfo, Path(repository))
    with Backend(profile) as backend:
        SCENARIOS[scenario](backend, args)


if __name__ == "__main__":
    main()
