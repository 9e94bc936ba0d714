"""Ingest benchmarks, each beside its comparisons in the same run.

For every workload and size (10^4 and 10^5 rows; 10^6 too with ``FASTDOS_BENCH_LARGE=1``):

* ``fastdos``: the public call (``bulk_insert``, ``add_nodes_to_group``, ``bulk_update``), timed from
  Python rows to committed data (validation, JSON serialisation, id reservation, COPY, commit);
* ``raw_copy``: a plain psycopg COPY of the same rows pre-serialised as COPY text (serialisation *not*
  timed) into the same table with its indexes and foreign keys, committed: the database's own limit;
* ``executemany``: a plain psycopg ``executemany`` INSERT/UPDATE of the same rows (parameters pre-built).

Every round starts from the same table state (the table is emptied in the untimed setup) and asserts its
result. Streaming peak memory and the load mode have their own benchmarks at the end.

Run: ``.venv/bin/python -m pytest bench/test_ingest.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from bench.interleave import pedantic_interleaved
from bench.sizes import FULL_ROW_SIZES, LARGE, QUICK, ROW_SIZES
from fastdos.backend import Backend
from fastdos.generate import NODE_COLUMNS, copy_text, generate_nodes, node_copy_text

SIZES = ROW_SIZES
METHODS = ["fastdos", "raw_copy", "executemany"]
# executemany of 10^6 rows takes many minutes and says nothing new: its rate is flat from 10^4 up.
EXECUTEMANY_MAX = 100_000
ROUNDS = {10_000: 3, 100_000: 2, 1_000_000: 1}
# The fastdos cases, each round after a round of the raw COPY: more rounds at 10^4, where a round is short
# and one disturbed round would otherwise set the ratio (bench/interleave.py).
INTERLEAVED_ROUNDS = {10_000: 5, 100_000: 2, 1_000_000: 1}

Storage = tuple[Backend, psycopg.Connection]


@pytest.fixture(scope="module")
def user(module_storage: Storage) -> int:
    _, conn = module_storage
    row = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('b@f.i', '', '', '') RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def reset(conn: psycopg.Connection, *tables: str) -> None:
    conn.execute("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
    conn.execute("VACUUM ANALYZE " + ", ".join(tables))


def count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def run(
    benchmark: Any,
    target: Callable[[], Any],
    setup: Callable[[], None],
    n: int,
    reference: Callable[[], Any] | None = None,
) -> None:
    """The rounds; with ``reference`` (the raw COPY, for the fastdos case) it is timed in alternating rounds, and
    the gate's ratio comes from those (bench/interleave.py)."""
    if reference is None:
        benchmark.pedantic(target, setup=setup, rounds=ROUNDS[n], iterations=1, warmup_rounds=0)
    else:
        pedantic_interleaved(benchmark, target, setup, reference, INTERLEAVED_ROUNDS[n])
    benchmark.extra_info["rows"] = n
    benchmark.extra_info["rows_per_second"] = n / benchmark.stats.stats.min


def copy_in_transaction(conn: psycopg.Connection, table: str, columns: list[str], data: bytes) -> None:
    """The raw reference: pre-serialised COPY text into ``table`` in one transaction."""
    with conn.transaction():
        copy_text(conn, table, columns, data)


def raw_update(conn: psycopg.Connection, data: str) -> None:
    """The raw reference of bulk_update: COPY into a temp table, one ``UPDATE ... FROM``."""
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE raw_update (id integer, extras jsonb) ON COMMIT DROP")
        copy_text(conn, "raw_update", ["id", "extras"], data.encode())
        conn.execute(
            "UPDATE db_dbnode AS t SET extras = s.extras, mtime = now() FROM raw_update AS s WHERE t.id = s.id"
        )


def skip_slow(method: str, n: int) -> None:
    if method == "executemany" and n > EXECUTEMANY_MAX:
        pytest.skip("executemany beyond 10^5 rows")


NODE_INSERT = (
    "INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras,"
    " repository_metadata, dbcomputer_id, user_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def node_params(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        tuple(Jsonb(r[c]) if c in ("attributes", "extras", "repository_metadata") else r[c] for c in NODE_COLUMNS[1:])
        for r in rows
    ]


# --- nodes ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("method", METHODS)
def test_node_insert(benchmark: Any, module_storage: Storage, user: int, method: str, n: int) -> None:
    skip_slow(method, n)
    backend, conn = module_storage
    rows = list(generate_nodes(n, seed=1, user_id=user))
    setup = lambda: reset(conn, "db_dbnode")  # noqa: E731

    def build(method: str) -> Callable[[], Any]:
        if method == "fastdos":
            return lambda: backend.bulk_insert("node", rows)
        if method == "raw_copy":
            data = node_copy_text(rows, range(1, n + 1))
            return lambda: copy_in_transaction(conn, "db_dbnode", NODE_COLUMNS, data)
        params = node_params(rows)

        def target() -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(NODE_INSERT, params)

        return target

    run(benchmark, build(method), setup, n, build("raw_copy") if method == "fastdos" else None)
    assert count(conn, "db_dbnode") == n


# --- links ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def link_nodes(module_storage: Storage, user: int) -> list[int]:
    backend, conn = module_storage
    reset(conn, "db_dbnode")
    ids: list[int] = []
    backend.bulk_insert_iter("node", generate_nodes(max(FULL_ROW_SIZES) // 4, seed=2, user_id=user), on_ids=ids.extend)
    conn.execute("VACUUM ANALYZE db_dbnode")
    return ids


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("method", METHODS)
def test_link_insert(benchmark: Any, module_storage: Storage, link_nodes: list[int], method: str, n: int) -> None:
    skip_slow(method, n)
    backend, conn = module_storage
    m = len(link_nodes)
    links = [
        {
            "input_id": link_nodes[i % m],
            "output_id": link_nodes[(i * 7 + 1) % m],
            "label": f"in_{i % 5}",
            "type": "input_calc",
        }
        for i in range(n)
    ]
    setup = lambda: reset(conn, "db_dblink")  # noqa: E731

    def build(method: str) -> Callable[[], Any]:
        if method == "fastdos":
            return lambda: backend.bulk_insert("link", links)
        if method == "raw_copy":
            data = "".join(
                f"{i}\t{r['input_id']}\t{r['output_id']}\t{r['label']}\t{r['type']}\n" for i, r in enumerate(links, 1)
            ).encode()
            columns = ["id", "input_id", "output_id", "label", "type"]
            return lambda: copy_in_transaction(conn, "db_dblink", columns, data)
        params = [(r["input_id"], r["output_id"], r["label"], r["type"]) for r in links]

        def target() -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (%s, %s, %s, %s)", params
                )

        return target

    run(benchmark, build(method), setup, n, build("raw_copy") if method == "fastdos" else None)
    assert count(conn, "db_dblink") == n


# --- group memberships ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [s for s in SIZES if s <= 250_000])
@pytest.mark.parametrize("method", METHODS)
def test_group_members(
    benchmark: Any, module_storage: Storage, link_nodes: list[int], user: int, method: str, n: int
) -> None:
    skip_slow(method, n)
    backend, conn = module_storage
    m = len(link_nodes)
    groups = backend.bulk_insert(
        "group", [{"label": f"bench-{n}-{method}-{i}", "user_id": user} for i in range(n // m + 1)], allow_defaults=True
    )
    pairs = [(groups[i // m], link_nodes[i % m]) for i in range(n)]
    setup = lambda: reset(conn, "db_dbgroup_dbnodes")  # noqa: E731

    def build(method: str) -> Callable[[], Any]:
        if method == "fastdos":
            return lambda: backend.add_nodes_to_groups(pairs)
        if method == "raw_copy":
            data = "".join(f"{i}\t{g}\t{nd}\n" for i, (g, nd) in enumerate(pairs, 1)).encode()
            return lambda: copy_in_transaction(conn, "db_dbgroup_dbnodes", ["id", "dbgroup_id", "dbnode_id"], data)

        def target() -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id) VALUES (%s, %s)"
                    " ON CONFLICT (dbgroup_id, dbnode_id) DO NOTHING",
                    pairs,
                )

        return target

    run(benchmark, build(method), setup, n, build("raw_copy") if method == "fastdos" else None)
    assert count(conn, "db_dbgroup_dbnodes") == n


# --- bulk_update of extras ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def update_nodes(module_storage: Storage, user: int) -> list[int]:
    backend, conn = module_storage
    reset(conn, "db_dbnode")
    ids: list[int] = []
    backend.bulk_insert_iter(
        "node", generate_nodes(max(s for s in FULL_ROW_SIZES if s <= 100_000), seed=3, user_id=user), on_ids=ids.extend
    )
    conn.execute("VACUUM ANALYZE db_dbnode")
    return ids


@pytest.mark.parametrize("n", [s for s in SIZES if s <= 100_000])
@pytest.mark.parametrize("method", METHODS)
def test_update_extras(benchmark: Any, module_storage: Storage, update_nodes: list[int], method: str, n: int) -> None:
    backend, conn = module_storage
    ids = update_nodes[:n]
    state = {"round": 0}

    def setup() -> None:
        state["round"] += 1
        conn.execute("VACUUM db_dbnode")

    def extras(pk: int, method: str) -> dict[str, Any]:
        return {"_aiida_hash": f"{pk:064x}", "round": state["round"], "tag": method}

    def build(method: str) -> Callable[[], Any]:
        if method == "fastdos":
            return lambda: backend.bulk_update("node", [{"id": pk, "extras": extras(pk, method)} for pk in ids])
        if method == "raw_copy":
            return lambda: raw_update(conn, "".join(f"{pk}\t{json.dumps(extras(pk, method))}\n" for pk in ids))

        def target() -> None:
            params = [(Jsonb(extras(pk, method)), pk) for pk in ids]
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany("UPDATE db_dbnode SET extras = %s, mtime = now() WHERE id = %s", params)

        return target

    run(benchmark, build(method), setup, n, build("raw_copy") if method == "fastdos" else None)
    row = conn.execute(
        "SELECT count(*) FROM db_dbnode WHERE extras->>'tag' = %s AND (extras->>'round')::int = %s",
        (method, state["round"]),
    ).fetchone()
    assert row == (n,)


# --- streaming memory and load mode ---------------------------------------------------------------------

STREAM_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from fastdos.backend import Backend
    from fastdos.generate import generate_nodes
    from fastdos.profile import Profile
    profile = Profile.from_dsn("bench", sys.argv[1], sys.argv[2])
    n, user = int(sys.argv[3]), int(sys.argv[4])
    with Backend(profile) as backend:
        done = backend.bulk_insert_iter("node", generate_nodes(n, seed=4, user_id=user))
    # VmHWM, not ru_maxrss: Linux carries the parent's (pytest's) peak over fork and exec into ru_maxrss.
    hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
    print(json.dumps({"rows": done, "maxrss_mb": hwm / 1024}))
    """
)


@pytest.mark.parametrize("n", [] if QUICK else [1_000_000] if LARGE else [100_000])
def test_stream_peak_memory(benchmark: Any, module_storage: Storage, user: int, n: int) -> None:
    backend, conn = module_storage
    profile = backend.profile
    result: dict[str, Any] = {}

    def target() -> None:
        out = subprocess.run(
            [sys.executable, "-c", STREAM_SCRIPT, profile.conninfo(), str(profile.repository_path), str(n), str(user)],
            check=True,
            capture_output=True,
            text=True,
        )
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))

    benchmark.pedantic(target, setup=lambda: reset(conn, "db_dbnode"), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["rows"] == n == count(conn, "db_dbnode")
    assert result["maxrss_mb"] < 300, result


@pytest.mark.parametrize("n", SIZES[1:])
@pytest.mark.parametrize("mode", ["plain", "load_mode"])
def test_node_load_mode(benchmark: Any, module_storage: Storage, user: int, mode: str, n: int) -> None:
    backend, conn = module_storage
    rows = list(generate_nodes(n, seed=5, user_id=user))

    def target() -> None:
        backend.bulk_insert_iter("node", rows, load_mode=mode == "load_mode")

    run(benchmark, target, lambda: reset(conn, "db_dbnode"), n)
    assert count(conn, "db_dbnode") == n
