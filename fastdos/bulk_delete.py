"""Deleting many nodes without PostgreSQL's per-row foreign-key work (bench/notes/graph.md#bulk-deletion).

Deleting a row of ``db_dbnode`` makes PostgreSQL run, per row, the cascade triggers of the five foreign keys
into it (comments, logs, links by output) and, at COMMIT, the deferred NO ACTION checks of links by input and
group memberships (docs/schema.md#foreign-keys): about 20-25 us per node, 80-90 % of a large deletion. Three
strategies delete the same rows:

* ``plain``: the four array statements of graph/delete_* (memberships, links by input, links by output,
  nodes); the triggers do the rest. Always correct, and the one used for small sets, without the exclusive
  profile lock, or when the foreign keys into ``db_dbnode`` are not aiida's five.
* ``replica``: ``session_replication_role = replica`` for a few statements of this transaction (``SET
  LOCAL``: no other session, and nothing after the deletion, runs without the triggers), which silences the
  foreign-key triggers; the nodes and then every referencing row are deleted by joins against a temporary
  table of the ids, a set-wise check confirms that no row still points at a deleted node, and the role is
  put back. Needs the privilege to set it (superuser, or ``GRANT SET ON PARAMETER`` on PostgreSQL 15+), READ
  COMMITTED, and no trigger or rule of anyone else on the tables (replica mode would silence it too).
* ``constraints``: the five foreign keys are dropped, the rows deleted the same way, and the keys re-added
  ``NOT VALID`` and validated (``VALIDATE CONSTRAINT``: one join over each referencing table). DDL takes
  ACCESS EXCLUSIVE locks on the tables until COMMIT, so only in a deletion's own transaction (never a
  caller's), with a short lock timeout; it pays by the size of the tables, so only for deletions that are a
  large part of them.

Nodes go first: their row locks make any concurrent insert of a reference to them wait and then fail its own
foreign-key check, and each later statement (READ COMMITTED) sees every reference committed before it, so it
deletes them. Everything runs inside the caller's transaction (a savepoint of it): a failure or a killed client
rolls back the rows, the role and the DDL alike. The strategies other than ``plain`` run only while this
process holds the profile's exclusive lock (no other fastdos process uses the storage meanwhile).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from . import db, session_settings
from .errors import DatabaseError, IntegrityError, LockingProfileError
from .ids import array_literal

if TYPE_CHECKING:
    from .context import StorageContext

LOGGER = logging.getLogger("fastdos.graph")

PLAIN, REPLICA, CONSTRAINTS = "plain", "replica", "constraints"
STRATEGIES = (PLAIN, REPLICA, CONSTRAINTS)

# The foreign keys into db_dbnode of aiida's schema (docs/schema.md#foreign-keys): (table, column, ON DELETE
# action letter of pg_constraint.confdeltype: a = NO ACTION, c = CASCADE). The set-wise strategies delete the
# rows behind each of them, which is what the plain path does (explicitly or by the cascade); a schema with
# other keys into db_dbnode (an extension's table) gets the plain path, so its rules stay in force.
AIIDA_REFERENCES = frozenset(
    {
        ("db_dbcomment", "dbnode_id", "c"),
        ("db_dbgroup_dbnodes", "dbnode_id", "a"),
        ("db_dblink", "input_id", "a"),
        ("db_dblink", "output_id", "c"),
        ("db_dblog", "dbnode_id", "c"),
    }
)

# Below this many nodes the plain path is used without looking further. Its triggers cost ~60-75 us per node
# under load; the set-wise strategies add ~25 round trips (exclusive lock record, catalog reads, temporary
# table, checks: ~10-30 ms). bench/test_graph.py::test_delete_threshold, wide graph, PG 15, load 4-5, min of 3
# (bench/notes/graph.md#bulk-deletion): 600 nodes plain 44 ms / replica 81 ms / constraints 63 ms; 1 200 nodes
# 91 / 43 / 63 ms; 3 000 nodes 220 / 115 / 83 ms.
MIN_BULK_NODES = 1000

# What the strategies cost beyond deleting the rows (PG 15, bench/notes/graph.md#bulk-deletion), for choose():
# * plain: the per-row triggers, ~20 us per deleted node on a quiet machine (10^5 of 10^6 nodes: 4.5 s plain
#   against 0.5 s set-wise);
# * replica: its dangling check, ~1.8 us per deleted node (177 ms for 10^5, 494 ms for 3*10^5, 1.37 s for
#   7.5*10^5 nodes);
# * constraints: the DDL of five keys and the plan invalidations it causes, ~80 ms (wide graph, 3*10^4 of 4*10^4
#   nodes: 344 ms against 306 ms with replica, whose check is ~50 ms there), plus VALIDATE, one join per key over
#   what stays of db_dblink and db_dbnode: ~0.6 us per surviving row for both link keys together (1.34 s for
#   1.23*10^6 links and 0.99*10^6 nodes; 0.79 s for 0.75*10^6 and 0.7*10^6).
PLAIN_US_PER_NODE = 20.0
REPLICA_CHECK_US_PER_NODE = 1.8
CONSTRAINTS_FIXED_US = 80_000.0
VALIDATE_US_PER_ROW = 0.6
# How long the constraints strategy waits for its ACCESS EXCLUSIVE locks before it gives up for the plain path
# (a session outside fastdos reading the tables); meanwhile every new reader queues behind the request.
DDL_LOCK_TIMEOUT = "1s"

# SQLSTATEs on which the constraints strategy falls back: lock_not_available (the timeout above) and
# object_in_use (the transaction has pending deferred trigger events on the tables: ALTER TABLE refuses).
_DDL_REFUSED = frozenset({"55P03", "55006"})


@dataclass(frozen=True)
class Reference:
    """One foreign key into ``db_dbnode``, as the catalog describes it."""

    table_oid: int
    schema: str
    table: str
    column: str
    constraint: str
    action: str
    definition: str
    validated: bool
    owned: bool

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)


@dataclass(frozen=True)
class Outcome:
    """What a deletion did: the strategy that ran and the links it removed at or below the closure watermark."""

    strategy: str
    links_below: int


def choose(nodes: int, node_rows: int, link_rows: int, replica: bool, constraints: bool) -> str:
    """The strategy for deleting ``nodes`` from tables estimated at ``node_rows`` nodes and ``link_rows`` links
    (-1: never analysed), by the costs above; ``replica`` and ``constraints``: whether those are allowed here."""
    if nodes < MIN_BULK_NODES:
        return PLAIN
    other = REPLICA_CHECK_US_PER_NODE * nodes if replica else PLAIN_US_PER_NODE * nodes
    if constraints and node_rows >= 0 and link_rows >= 0:
        surviving = max(node_rows - nodes, 0) + link_rows * max(node_rows - nodes, 0) / max(node_rows, 1)
        if CONSTRAINTS_FIXED_US + VALIDATE_US_PER_ROW * surviving < other:
            return CONSTRAINTS
    return REPLICA if replica else PLAIN


def delete(
    ctx: StorageContext,
    conn: db.Connection,
    ids: list[int],
    watermark: int,
    *,
    ddl: bool,
    strategy: str | None = None,
    filled: bool = False,
) -> Outcome:
    """Delete the nodes ``ids`` with every row that references them, inside the open transaction ``conn``.

    ``ddl`` allows the constraints strategy (the transaction is the deletion's own); ``strategy`` forces one
    (benchmarks, tests) where it is allowed, else the choice falls back as :func:`choose` would. ``filled``:
    the temporary table ``fastdos_delete_ids`` already holds ``ids`` (the traversal wrote them); it is dropped
    either way.
    """
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)} or None, got {strategy!r}")
    outcome = _delete(ctx, conn, ids, watermark, ddl, strategy, filled)
    if outcome.strategy == PLAIN and filled:
        db.run(conn, "graph/bulk_ids_drop")
    return outcome


def _delete(
    ctx: StorageContext, conn: db.Connection, ids: list[int], watermark: int, ddl: bool, strategy: str | None,
    filled: bool,
) -> Outcome:  # fmt: skip
    if strategy == PLAIN or (strategy is None and len(ids) < MIN_BULK_NODES):
        return Outcome(PLAIN, _plain(conn, ids, watermark))
    with _exclusive(ctx) as held:
        if not held:
            return Outcome(PLAIN, _plain(conn, ids, watermark))
        references = _references(conn)
        if {(r.table, r.column, r.action) for r in references} != AIIDA_REFERENCES:
            LOGGER.info("foreign keys into db_dbnode differ from aiida's: plain deletion")
            return Outcome(PLAIN, _plain(conn, ids, watermark))
        replica = _replica_allowed(conn, references)
        row = db.one(conn, "graph/bulk_table_rows")
        assert row is not None
        node_rows, link_rows, node_table_owned = int(row[0]), int(row[1]), bool(row[2])
        constraints = ddl and node_table_owned and all(r.owned and r.validated for r in references)
        wanted = strategy or choose(len(ids), node_rows, link_rows, replica, constraints)
        if wanted == CONSTRAINTS and constraints:
            below = _with_constraints(conn, ids, watermark, references, filled)
            if below is not None:
                return Outcome(CONSTRAINTS, below)
        if wanted in (REPLICA, CONSTRAINTS) and replica:
            return Outcome(REPLICA, _with_replica(conn, ids, watermark, references, filled))
        LOGGER.info("%s deletion not allowed here: plain deletion", wanted)
        return Outcome(PLAIN, _plain(conn, ids, watermark))


@contextlib.contextmanager
def _exclusive(ctx: StorageContext) -> Iterator[bool]:
    """The profile's exclusive lock for the block, if this process can have it (False: others use the profile)."""
    with contextlib.ExitStack() as stack:
        held = False
        if ctx.access is not None:
            try:
                stack.enter_context(ctx.access.exclusive())
                held = True
            except LockingProfileError as exc:
                LOGGER.info("profile in use, plain deletion: %s", exc)
        yield held


def _plain(conn: db.Connection, ids: list[int], watermark: int) -> int:
    db.run(conn, "graph/delete_group_memberships", {"ids": ids})
    below = 0
    for name in ("graph/delete_links_by_input", "graph/delete_links_by_output"):
        row = db.one(conn, name, {"ids": ids, "watermark": watermark})
        assert row is not None
        below += int(row[0])
    db.run(conn, "graph/delete_nodes", {"ids": ids})
    return below


def _references(conn: db.Connection) -> list[Reference]:
    rows = db.all_rows(conn, "graph/bulk_node_references")
    return [
        Reference(int(oid), str(schema), str(table), str(column), str(name), str(action), str(d), bool(v), bool(o))
        for oid, schema, table, column, name, action, d, v, o in rows
    ]


def _replica_allowed(conn: db.Connection, references: list[Reference]) -> bool:
    name = "graph/bulk_replica_allowed" if conn.info.server_version >= 150000 else "graph/bulk_replica_allowed_14"
    row = db.one(conn, name, {"tables": sorted({r.table_oid for r in references})})
    assert row is not None
    may_set, read_committed, foreign = bool(row[0]), bool(row[1]), int(row[2])
    if not may_set or not read_committed or foreign:
        LOGGER.debug("replica deletion off: may set %s, read committed %s, foreign triggers %d",
                     may_set, read_committed, foreign)  # fmt: skip
    return may_set and read_committed and not foreign


def _delete_set(conn: db.Connection, ids: list[int], watermark: int, references: list[Reference], filled: bool) -> int:
    """Nodes first, then every referencing row, by joins against a temporary table of the ids."""
    if not filled:
        db.run(conn, "graph/bulk_ids_create")
        db.run(conn, "graph/bulk_ids_fill", {"ids": array_literal(ids)})
    db.run(conn, "graph/bulk_ids_analyze")
    db.run(conn, "graph/bulk_delete_nodes")
    below = 0
    for ref in references:
        row = db.one(
            conn,
            "graph/bulk_delete_referencing",
            {"watermark": watermark if ref.table == "db_dblink" else 0},
            identifiers={"table": ref.identifier, "column": ref.column},
        )
        assert row is not None
        below += int(row[0])
    return below


def _with_replica(
    conn: db.Connection, ids: list[int], watermark: int, references: list[Reference], filled: bool
) -> int:
    with session_settings.local_setting(conn, "session_replication_role", "replica"):
        below = _delete_set(conn, ids, watermark, references, filled)
    for ref in references:
        rows = db.all_rows(conn, "graph/bulk_dangling", identifiers={"table": ref.identifier, "column": ref.column})
        if rows:
            raise IntegrityError(
                f"bulk deletion: rows of {ref.table}.{ref.column} still reference deleted nodes (row id, node id): "
                f"{rows}; nothing was deleted",
                constraint=ref.constraint,
            )
    db.run(conn, "graph/bulk_ids_drop")
    return below


def _with_constraints(
    conn: db.Connection, ids: list[int], watermark: int, references: list[Reference], filled: bool
) -> int | None:
    """The constraints strategy; None when its locks cannot be had in time (nothing changed then)."""
    try:
        with (
            db.savepoint(conn, "bulk-delete/drop-constraints"),
            session_settings.local_setting(conn, "lock_timeout", DDL_LOCK_TIMEOUT),
        ):
            for ref in references:
                drop = sql.SQL("DROP CONSTRAINT {}").format(sql.Identifier(ref.constraint))
                db.run(conn, "ingest/drop_foreign_keys", identifiers={"table": ref.identifier, "drops": drop})
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) not in _DDL_REFUSED:
            raise
        LOGGER.info("cannot drop the foreign keys now, deleting without: %s", exc)
        return None
    below = _delete_set(conn, ids, watermark, references, filled)
    for ref in references:
        db.run(
            conn,
            "graph/bulk_add_foreign_key",
            identifiers={"table": ref.identifier, "constraint": ref.constraint, "definition": sql.SQL(ref.definition)},
        )
    for ref in references:
        db.run(
            conn, "graph/bulk_validate_constraint", identifiers={"table": ref.identifier, "constraint": ref.constraint}
        )
    db.run(conn, "graph/bulk_ids_drop")
    return below
