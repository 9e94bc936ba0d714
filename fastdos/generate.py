"""A generated provenance graph for the demo (``make run``), the CLI and the benchmarks.

The graph repeats a unit of four nodes — two ``Int`` inputs, one ``CalcJobNode``, one ``Int`` output — with
two ``input_calc`` links and one ``create`` link per unit, and puts every output in one group. Data nodes
carry ~10 attribute keys, process nodes the attributes a finished calcjob has. Values depend on ``seed``;
uuids are always fresh, so generating twice into one storage never collides.

:func:`raw_copy_rate` measures what the database itself takes: the same node rows, pre-serialised as COPY
text, sent through a plain psycopg COPY into ``db_dbnode`` (same indexes and foreign keys, checked
immediately) inside a transaction that is rolled back, so it leaves nothing behind.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import sql

from . import db
from .clock import now
from .rows import EntityTypes

if TYPE_CHECKING:
    from .backend import Backend

DEMO_EMAIL = "demo@fastdos.invalid"
NODES_PER_UNIT = 4
NODE_COLUMNS: tuple[str, ...] = ("id", "uuid", "node_type", "process_type", "label", "description", "ctime")
NODE_COLUMNS += ("mtime", "attributes", "extras", "repository_metadata", "dbcomputer_id", "user_id")

PhaseProgress = Callable[[str, int, int], None]


def _data_attributes(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "value": rng.randint(-(2**40), 2**40),
        "unit": "eV",
        "precision": rng.random(),
        "tags": ["generated", f"batch-{i // 1000}"],
        "source": {"kind": "generator", "index": i},
        "valid": True,
        "comment": None,
        "name": f"value {i}",
        "scale": 1.0,
        "version": 1,
    }


def _calc_attributes(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "process_state": "finished",
        "exit_status": 0,
        "process_label": "ArithmeticAddCalculation",
        "sealed": True,
        "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1},
        "withmpi": False,
        "parser_name": "core.arithmetic.add",
        "remote_workdir": f"/scratch/{rng.getrandbits(64):016x}",
        "scheduler_state": "DONE",
        "job_id": str(i),
    }


def generate_nodes(n_nodes: int, seed: int = 0, user_id: int = 1) -> Iterator[dict[str, Any]]:
    """Node rows (every key of ``bulk_insert``) of the generated graph, ``n_nodes`` of them."""
    rng = random.Random(seed)
    stamp = now()
    for i in range(n_nodes):
        process = i % NODES_PER_UNIT == 2
        yield {
            "uuid": str(uuid.uuid4()),
            "node_type": "process.calculation.calcjob.CalcJobNode." if process else "data.core.int.Int.",
            "process_type": "aiida.calculations:core.arithmetic.add" if process else None,
            "label": f"node {i}",
            "description": "",
            "ctime": stamp,
            "mtime": stamp,
            "attributes": _calc_attributes(rng, i) if process else _data_attributes(rng, i),
            "extras": {"_aiida_hash": f"{rng.getrandbits(256):064x}"},
            "repository_metadata": {},
            "dbcomputer_id": None,
            "user_id": user_id,
        }


def generate_links(node_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
    """Link rows between the nodes of :func:`generate_nodes` (given their ids in generation order)."""
    for base in range(0, len(node_ids) - NODES_PER_UNIT + 1, NODES_PER_UNIT):
        x, y, calc, out = node_ids[base : base + NODES_PER_UNIT]
        yield {"input_id": x, "output_id": calc, "label": "x", "type": "input_calc"}
        yield {"input_id": y, "output_id": calc, "label": "y", "type": "input_calc"}
        yield {"input_id": calc, "output_id": out, "label": "sum", "type": "create"}


def generate_provenance(n_nodes: int, seed: int = 0, user_id: int = 1) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(kind, row)`` pairs: all ``"node"`` rows, then ``"link"`` and ``"group_node"`` rows, then one ``"group"``.

    Links and memberships refer to nodes by their 0-based generation index (``input_id``/``output_id``/
    ``dbnode_id``), to be mapped to the ids ``bulk_insert`` returns; :func:`ingest_generated` does that.
    """
    yield from (("node", row) for row in generate_nodes(n_nodes, seed, user_id))
    indexes = list(range(n_nodes))
    yield from (("link", row) for row in generate_links(indexes))
    yield from (("group_node", {"dbnode_id": i}) for i in indexes[NODES_PER_UNIT - 1 :: NODES_PER_UNIT])
    yield "group", {"label": f"generated-{uuid.uuid4().hex[:8]}", "type_string": "core", "user_id": user_id}


def demo_user(backend: Backend, email: str = DEMO_EMAIL) -> int:
    """The id of the demo user, created when missing."""
    with backend.transaction() as conn:
        found = db.scalar(conn, "ingest/first_user", {"email": email})
        if found is not None:
            return int(found)
        return backend.bulk_insert(EntityTypes.USER, [{"email": email}], allow_defaults=True)[0]


def ingest_generated(
    backend: Backend,
    n_nodes: int,
    progress: PhaseProgress | None = None,
    *,
    seed: int = 0,
    load_mode: bool = False,
) -> dict[str, Any]:
    """Ingest a generated graph of ``n_nodes`` nodes (links, one group); return counts, seconds and rows/s.

    ``progress(phase, done, total)`` is called after every batch (phases ``nodes``, ``links``, ``group``).
    Each phase is one streamed ``bulk_insert_iter`` transaction.
    """
    user_id = demo_user(backend)
    report = (lambda phase, total: lambda done: progress(phase, done, total)) if progress else None
    started = time.perf_counter()
    node_ids: list[int] = []
    backend.bulk_insert_iter(
        EntityTypes.NODE,
        generate_nodes(n_nodes, seed, user_id),
        on_ids=node_ids.extend,
        progress=report("nodes", n_nodes) if report else None,
        load_mode=load_mode,
    )
    n_links = (n_nodes // NODES_PER_UNIT) * 3
    links = backend.bulk_insert_iter(
        EntityTypes.LINK,
        generate_links(node_ids),
        progress=report("links", n_links) if report else None,
        load_mode=load_mode,
    )
    (group_id,) = backend.bulk_insert(
        EntityTypes.GROUP,
        [{"label": f"generated-{uuid.uuid4().hex[:8]}", "type_string": "core", "user_id": user_id}],
        allow_defaults=True,
    )
    members = backend.add_nodes_to_group(group_id, node_ids[NODES_PER_UNIT - 1 :: NODES_PER_UNIT])
    if progress:
        progress("group", members, members)
    seconds = time.perf_counter() - started
    rows = len(node_ids) + links + 1 + members
    return {
        "nodes": len(node_ids),
        "links": links,
        "groups": 1,
        "group_nodes": members,
        "group_id": group_id,
        "seconds": seconds,
        "rows_per_second": rows / seconds if seconds else 0.0,
        "nodes_per_second": len(node_ids) / seconds if seconds else 0.0,
    }


# --- the database's own limit ---------------------------------------------------------------------------


def _text_field(value: Any) -> str:
    """One field of COPY's text format (``\\N`` for NULL; backslash, tab, newline, CR escaped)."""
    if value is None:
        return "\\N"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, datetime):
        value = value.isoformat()
    elif not isinstance(value, str):
        value = str(value)
    text: str = value
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def node_copy_text(rows: Sequence[dict[str, Any]], ids: Sequence[int]) -> bytes:
    """Pre-serialise node rows (with their ids) as COPY text data, columns in :data:`NODE_COLUMNS` order."""
    lines = []
    for pk, row in zip(ids, rows, strict=True):
        lines.append("\t".join([str(pk), *(_text_field(row[c]) for c in NODE_COLUMNS[1:])]))
    return ("\n".join(lines) + "\n").encode()


def copy_text(conn: db.Connection, table: str, columns: Sequence[str], data: bytes, chunk: int = 1 << 20) -> None:
    """Send pre-serialised COPY text ``data`` into ``table`` (the raw psycopg path, for comparisons)."""
    identifiers: dict[str, str | sql.Composable] = {
        "table": table,
        "columns": sql.SQL(", ").join(sql.Identifier(c) for c in columns),
    }
    with db.copy(conn, "ingest/copy_text", identifiers=identifiers) as copy:
        for start in range(0, len(data), chunk):
            copy.write(data[start : start + chunk])


def raw_copy_rate(backend: Backend, n_rows: int = 100_000, *, seed: int = 0) -> dict[str, Any]:
    """Rows/s of a raw COPY of pre-serialised node rows into ``db_dbnode``, rolled back afterwards.

    Serialisation is not timed; the COPY runs with every constraint checked immediately (so the deferred
    foreign-key checks are part of the figure, as they are of a committed ``bulk_insert``).
    """
    user_id = demo_user(backend)
    rows = list(generate_nodes(n_rows, seed, user_id))
    data = node_copy_text(rows, range(-1, -n_rows - 1, -1))  # negative ids: never issued by the sequence
    del rows
    with backend.database.connection() as conn, conn.transaction(force_rollback=True):
        db.run(conn, "ingest/constraints_immediate")
        started = time.perf_counter()
        copy_text(conn, "db_dbnode", NODE_COLUMNS, data)
        seconds = time.perf_counter() - started
    return {"rows": n_rows, "seconds": seconds, "rows_per_second": n_rows / seconds if seconds else 0.0}
