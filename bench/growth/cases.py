"""The growth cases: for each operation, fastdos and its in-run references, as (set-up, timed call, check).

A case is built once per worker process (:func:`make`), then run for a few rounds: ``setup()`` is untimed
and may rebuild the data, ``run()`` is the timed call, ``check(result)`` asserts the result is right (a
wrong answer is never a point on a curve). The data builders are the bench suite's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.test_graph import chain, clear, hop_by_hop_delete, hop_by_hop_descendants, wide
from bench.test_ingest import NODE_INSERT, count, node_params, reset
from bench.test_repository import aiida_style_unreferenced
from fastdos import rules
from fastdos.backend import Backend
from fastdos.exporter import export_archive
from fastdos.generate import NODE_COLUMNS, copy_text, generate_nodes, node_copy_text
from fastdos.importer import import_archive
from fastdos.profile import Profile


@dataclass
class Case:
    setup: Callable[[], None]
    run: Callable[[], Any]
    check: Callable[[Any], None]


@dataclass
class Storage:
    """What a worker was given: one storage (or one per round for the import) and the case's extras."""

    profiles: list[Profile]
    extra: dict[str, Any]


def _nothing() -> None:
    return None


def _user(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT id FROM db_dbuser ORDER BY id LIMIT 1").fetchone()
    if row is not None:
        return int(row[0])
    row = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('g@f.i', '', '', '') RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def ingest(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """Nodes from Python rows to committed rows (bench/test_ingest.py ``test_node_insert``)."""
    rows = list(generate_nodes(n, seed=1, user_id=_user(conn)))
    if method == "fastdos":
        target: Callable[[], Any] = lambda: backend.bulk_insert("node", rows)  # noqa: E731
    elif method == "raw_copy":
        data = node_copy_text(rows, range(1, n + 1))

        def target() -> None:
            with conn.transaction():
                copy_text(conn, "db_dbnode", NODE_COLUMNS, data)
    else:
        params = node_params(rows)

        def target() -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(NODE_INSERT, params)

    def check(_: Any) -> None:
        assert count(conn, "db_dbnode") == n

    return Case(lambda: reset(conn, "db_dbnode"), target, check)


def update(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """The extras of n existing nodes (bench/test_ingest.py ``test_update_extras``)."""
    ids: list[int] = []
    reset(conn, "db_dbnode")
    backend.bulk_insert_iter("node", generate_nodes(n, seed=3, user_id=_user(conn)), on_ids=ids.extend)
    conn.execute("VACUUM ANALYZE db_dbnode")
    state = {"round": 0}

    def setup() -> None:
        state["round"] += 1
        conn.execute("VACUUM db_dbnode")

    def extras(pk: int) -> dict[str, Any]:
        return {"_aiida_hash": f"{pk:064x}", "round": state["round"], "tag": method}

    if method == "fastdos":

        def target() -> None:
            backend.bulk_update("node", [{"id": pk, "extras": extras(pk)} for pk in ids])
    else:

        def target() -> None:
            params = [(Jsonb(extras(pk)), pk) for pk in ids]
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany("UPDATE db_dbnode SET extras = %s, mtime = now() WHERE id = %s", params)

    def check(_: Any) -> None:
        row = conn.execute(
            "SELECT count(*) FROM db_dbnode WHERE extras->>'tag' = %s AND (extras->>'round')::int = %s",
            (method, state["round"]),
        ).fetchone()
        assert row == (n,), row

    return Case(setup, target, check)


def _delete(
    backend: Backend,
    conn: psycopg.Connection,
    method: str,
    build: Callable[[], list[int]],
    expected: Callable[[list[int]], int],
) -> Case:
    state: dict[str, list[int]] = {}

    def setup() -> None:
        clear(conn)
        state["start"] = build()

    def target() -> set[int]:
        if method == "fastdos":
            return backend.delete_nodes(state["start"], dry_run=False)
        return hop_by_hop_delete(conn, state["start"])

    def check(result: Any) -> None:
        assert len(result) == expected(state["start"]), len(result)

    return Case(setup, target, check)


def delete_chain(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """Delete from the first node of an n-node chain: everything goes (bench/test_graph.py ``chain``)."""
    return _delete(backend, conn, method, lambda: chain(conn, n)[:1], lambda _: n)


def delete_wide(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """Delete all n/4 work chains of the wide graph: 3 nodes each go (bench/test_graph.py ``wide``)."""
    return _delete(backend, conn, method, lambda: wide(conn, n)[0], lambda start: 3 * len(start))


def _walk(backend: Backend, conn: psycopg.Connection, method: str, start: list[int], expected: int) -> Case:
    def target() -> dict[int, int]:
        if method == "fastdos":
            return backend.get_descendants(start, use_closure=False)
        return hop_by_hop_descendants(conn, start, rules.PROVENANCE_LINK_TYPES)

    def check(result: Any) -> None:
        assert len(result) == expected, len(result)

    return Case(_nothing, target, check)


def descendants_chain(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """Descendants of the first node of an n-node chain (n - 1 nodes, n - 1 levels deep)."""
    clear(conn)
    ids = chain(conn, n)
    return _walk(backend, conn, method, ids[:1], n - 1)


def descendants_wide(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """Descendants of all n/4 inputs of the wide graph (n/2 nodes, 2 levels)."""
    clear(conn)
    _, inputs = wide(conn, n)
    return _walk(backend, conn, method, inputs, 2 * len(inputs))


def keyset(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """Container keys no node references, n nodes and 1.1 n objects (bench/test_repository.py)."""
    expected = set(storage.extra["expected"])
    target: Callable[[], Any] = (
        backend.get_unreferenced_keyset if method == "fastdos" else lambda: aiida_style_unreferenced(backend)
    )

    def check(result: Any) -> None:
        assert result == expected, len(result)

    return Case(_nothing, target, check)


def archive_import(
    backend: Backend | None, conn: psycopg.Connection | None, method: str, n: int, storage: Storage
) -> Case:
    """``import_archive`` of an aiida-made archive of n nodes into a fresh storage (one per round; the worker
    opens no storage of its own for this case)."""
    archive = Path(storage.extra["archive"])
    profiles = list(storage.profiles)
    state: dict[str, Backend] = {}

    def setup() -> None:
        if "backend" in state:
            state.pop("backend").close()
        state["backend"] = Backend(profiles.pop(0))

    def target() -> Any:
        return import_archive(state["backend"], archive)

    def check(report: Any) -> None:
        assert report.stages["nodes"].new >= storage.extra["nodes"], report.stages["nodes"]

    return Case(setup, target, check)


def archive_export(backend: Backend, conn: psycopg.Connection, method: str, n: int, storage: Storage) -> Case:
    """``export_archive(all=True)`` of a storage holding an imported n-node archive."""
    out = Path(storage.extra["out"])

    def target() -> Any:
        return export_archive(backend, out, overwrite=True, all=True)

    def check(report: Any) -> None:
        assert report.counts["nodes"] == storage.extra["nodes"], report.counts

    return Case(_nothing, target, check)


Factory = Callable[..., Case]
CASES: dict[str, Factory] = {
    "ingest": ingest,
    "update": update,
    "delete_chain": delete_chain,
    "delete_wide": delete_wide,
    "descendants_chain": descendants_chain,
    "descendants_wide": descendants_wide,
    "keyset": keyset,
    "import": archive_import,
    "export": archive_export,
}


def payload_storage(payload: dict[str, Any]) -> Storage:
    """The :class:`Storage` described by a worker payload (``storages``: ``[[dsn, repository], ...]``)."""
    profiles = [Profile.from_dsn("growth", dsn, Path(repo)) for dsn, repo in payload["storages"]]
    return Storage(profiles, json.loads(json.dumps(payload.get("extra", {}))))
