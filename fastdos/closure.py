"""Opt-in transitive-closure table over ``db_dblink`` (the provenance link types), maintained set-wise.

AiiDA once kept ``db_dbpath`` current with a per-row trigger on ``db_dblink`` and dropped it because the
table and the per-link cost exploded on nested workflows (docs/traversal-rules.md#history-db_dbpath).
fastdos' closure differs on purpose:

* It covers only the link types AiiDA's ``with_ancestors``/``with_descendants`` follow (``create``,
  ``input_calc``) and stores one row per (ancestor, descendant) pair with the *minimal* depth — no path
  rows, no per-edge bookkeeping columns.
* No triggers. It is rebuilt in bulk (:meth:`Closure.rebuild`), or brought up to date by
  :meth:`Closure.refresh`, which folds in the links added since the last refresh (a watermark on
  ``db_dblink.id``) with three set-wise statements; fastdos' own deletions remove the rows they invalidate in
  the same transaction.
* Writes by aiida-core are noticed, not prevented: new links sit above the watermark (folded in on the next
  refresh); deleted links make the count of links at or below the watermark drop below the recorded count,
  which marks the closure as not current until the next refresh rebuilds it. Until then queries fall back to
  the recursive statements.
* No foreign keys, so aiida-core's node deletion, ``_clear`` and ``initialise(reset=True)`` (which DELETE the
  rows of every reflected table) keep working; an emptied state table simply means "rebuild needed".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from . import db
from .errors import ClosureBudgetExceeded, ClosureError
from .rules import PROVENANCE_LINK_TYPES

LOGGER = logging.getLogger("fastdos.closure")

DEFAULT_TABLE = "fastdos_closure"

# Rebuilds refuse above this many estimated rows unless a larger budget is passed: a chain of 10^4 nodes
# already needs 5*10^7 rows (n(n-1)/2, bench/notes/graph.md; size on disk not yet measured), which is
# the kind of growth that made AiiDA drop db_dbpath.
DEFAULT_ROW_BUDGET = 20_000_000

# Sources sampled by the size estimate. Not tuned yet: 200 sources of a 10^4 chain walk ~10^6 pairs (well
# under a second); the estimate is exact when every source is sampled (tests/test_closure.py::test_row_budget).
ESTIMATE_SAMPLE = 200

# Advisory lock key of closure maintenance ("fdclosur" as an int8).
LOCK_KEY = 0x6664636C6F737572


def get_pg_tc(
    links_table_name: str = "db_dblink",
    links_table_input_field: str = "input_id",
    links_table_output_field: str = "output_id",
    closure_table_name: str = DEFAULT_TABLE,
    closure_table_parent_field: str = "parent_id",
    closure_table_child_field: str = "child_id",
) -> str:
    """The DDL of a closure table over ``links_table_name`` and its state table (``<closure>_state``).

    The name and signature follow aiida-core's ``psql_dos.utils.get_pg_tc``, but the template creates tables
    (idempotently: ``IF NOT EXISTS``) instead of a trigger function. The links table and its fields are
    recorded in comments so that a reader of the catalog sees what the closure summarises. Identifiers are
    quoted with ``psycopg.sql.Identifier``.
    """
    closure = sql.Identifier(closure_table_name)
    state = sql.Identifier(f"{closure_table_name}_state")
    parent, child = sql.Identifier(closure_table_parent_field), sql.Identifier(closure_table_child_field)
    child_index = sql.Identifier(f"ix_{closure_table_name}_{closure_table_child_field}")
    source = f"{links_table_name}({links_table_input_field} -> {links_table_output_field})"
    template = sql.SQL(
        "CREATE TABLE IF NOT EXISTS {closure} (\n"
        "    {parent} integer NOT NULL,\n"
        "    {child} integer NOT NULL,\n"
        "    depth integer NOT NULL,\n"
        "    PRIMARY KEY ({parent}, {child})\n"
        ");\n"
        "CREATE INDEX IF NOT EXISTS {child_index} ON {closure} ({child}, {parent}) INCLUDE (depth);\n"
        "COMMENT ON TABLE {closure} IS {comment};\n"
        "CREATE TABLE IF NOT EXISTS {state} (\n"
        "    key text PRIMARY KEY,\n"
        "    watermark integer NOT NULL,\n"
        "    link_count bigint NOT NULL,\n"
        "    exact boolean NOT NULL,\n"
        "    row_count bigint NOT NULL,\n"
        "    link_types text[] NOT NULL,\n"
        "    refreshed_at timestamptz NOT NULL\n"
        ");\n"
        "COMMENT ON TABLE {state} IS {state_comment};\n"
    ).format(
        closure=closure,
        state=state,
        parent=parent,
        child=child,
        child_index=child_index,
        comment=sql.Literal(f"fastdos transitive closure of {source}; no foreign keys, no triggers"),
        state_comment=sql.Literal(f"fastdos bookkeeping of {closure_table_name}; empty = rebuild needed"),
    )
    return template.as_string(None)


def get_pg_tc_drop(closure_table_name: str = DEFAULT_TABLE) -> str:
    """DDL removing what :func:`get_pg_tc` created."""
    return (
        sql.SQL("DROP TABLE IF EXISTS {state};\nDROP TABLE IF EXISTS {closure};\n")
        .format(
            closure=sql.Identifier(closure_table_name),
            state=sql.Identifier(f"{closure_table_name}_state"),
        )
        .as_string(None)
    )


def install_tc(conn: Any, **names: str) -> None:
    """Execute :func:`get_pg_tc` on ``conn`` (a psycopg or a SQLAlchemy connection, as alembic hands over).

    Prefer :meth:`fastdos.backend.Backend.install_closure`, which runs the fastdos alembic revision and so
    records the installation in ``fastdos_alembic_version``.
    """
    ddl = get_pg_tc(**names)
    if hasattr(conn, "exec_driver_sql"):
        conn.exec_driver_sql(ddl)
    else:
        conn.execute(ddl)


@dataclass(frozen=True)
class ClosureState:
    """What the state table says, and whether the closure matches ``db_dblink`` now."""

    installed: bool
    built: bool
    watermark: int = 0
    link_count: int = 0
    exact: bool = False
    row_count: int = 0
    links_deleted_elsewhere: bool = False
    newer_links: bool = False

    @property
    def current(self) -> bool:
        """True when queries may read the closure instead of walking the links."""
        return (
            self.installed and self.built and self.exact and not self.links_deleted_elsewhere and not self.newer_links
        )


@dataclass(frozen=True)
class RefreshReport:
    """What :meth:`Closure.refresh` did."""

    action: str  # 'none', 'fold', 'rebuild'
    affected_nodes: int
    rows_deleted: int
    rows_inserted: int
    row_count: int
    watermark: int


class Closure:
    """The closure table of one database, with the statements that read and maintain it."""

    def __init__(
        self,
        table: str = DEFAULT_TABLE,
        *,
        parent_field: str = "parent_id",
        child_field: str = "child_id",
        links_table: str = "db_dblink",
        input_field: str = "input_id",
        output_field: str = "output_id",
        link_types: tuple[str, ...] = PROVENANCE_LINK_TYPES,
    ) -> None:
        self.table = table
        self.link_types = link_types
        self.identifiers: dict[str, str] = {
            "closure": table,
            "state": f"{table}_state",
            "parent": parent_field,
            "child": child_field,
            "links": links_table,
            "input": input_field,
            "output": output_field,
        }

    def _run(self, conn: db.Connection, name: str, params: db.Params | None = None) -> int:
        return db.run(conn, name, params, identifiers=self.identifiers)

    def _one(self, conn: db.Connection, name: str, params: db.Params | None = None) -> tuple[Any, ...] | None:
        return db.one(conn, name, params, identifiers=self.identifiers)

    def is_installed(self, conn: db.Connection) -> bool:
        """Whether the closure and state tables exist."""
        return bool(
            db.scalar(conn, "closure/installed", {"closure": self.table, "state": self.identifiers["state"]})
        )

    def state(self, conn: db.Connection) -> ClosureState:
        """Read the state row and compare it with ``db_dblink`` (one index-only count of the links)."""
        if not self.is_installed(conn):
            return ClosureState(installed=False, built=False)
        row = self._one(conn, "closure/state")
        if row is None:
            return ClosureState(installed=True, built=False)
        watermark, link_count, exact, row_count, link_types = row
        if tuple(link_types) != self.link_types:
            return ClosureState(installed=True, built=False)
        stats = self._one(conn, "closure/link_stats", {"watermark": watermark, "link_types": list(self.link_types)})
        assert stats is not None
        count_below, newer, _max_id = stats
        return ClosureState(
            installed=True,
            built=True,
            watermark=int(watermark),
            link_count=int(link_count),
            exact=bool(exact),
            row_count=int(row_count),
            links_deleted_elsewhere=int(count_below) != int(link_count),
            newer_links=bool(newer),
        )

    def estimate_rows(self, conn: db.Connection, sample: int = ESTIMATE_SAMPLE) -> int:
        """Estimated number of rows of a full rebuild (sampled descendant counts, scaled)."""
        row = self._one(conn, "closure/estimate_rows", {"link_types": list(self.link_types), "sample": sample})
        assert row is not None
        sources, sampled, pairs = (int(v) for v in row)
        return 0 if sampled == 0 else round(pairs * sources / sampled)

    def refresh(
        self, conn: db.Connection, *, row_budget: int | None = DEFAULT_ROW_BUDGET, force_rebuild: bool = False
    ) -> RefreshReport:
        """Bring the closure up to date inside the caller's transaction on ``conn``.

        Folds in newer links when the recorded state is exact and no links were deleted elsewhere; otherwise
        rebuilds. A rebuild first estimates its size and raises :class:`ClosureBudgetExceeded` when the
        estimate exceeds ``row_budget`` (None: no limit); a fold logs a warning when the table ends up above
        the budget.
        """
        db.run(conn, "closure/lock", {"key": LOCK_KEY})
        state = self.state(conn)
        if not state.installed:
            raise ClosureError(f"the closure table {self.table} is not installed (Backend.install_closure())")
        stats = self._one(conn, "closure/link_stats", {"watermark": 0, "link_types": list(self.link_types)})
        assert stats is not None
        max_id = int(stats[2])
        rebuild = force_rebuild or not (state.built and state.exact and not state.links_deleted_elsewhere)
        if not rebuild and not state.newer_links:
            count = self._link_count(conn, max_id)
            self._save(conn, max_id, count, exact=True, row_count=state.row_count)
            return RefreshReport("none", 0, 0, 0, state.row_count, max_id)
        types = {"link_types": list(self.link_types)}
        if rebuild:
            estimate = self.estimate_rows(conn)
            if row_budget is not None and estimate > row_budget:
                raise ClosureBudgetExceeded(
                    f"rebuilding {self.table} would create about {estimate} rows, above the row budget of "
                    f"{row_budget}; pass a larger row_budget (or None) to build it anyway"
                )
            LOGGER.info("rebuilding %s (estimated %d rows)", self.table, estimate)
            self._run(conn, "closure/truncate")
            deleted = state.row_count
        db.run(conn, "closure/affected_create")
        if rebuild:
            affected = db.run(conn, "closure/affected_all", types, identifiers=self.identifiers)
        else:
            affected = db.run(
                conn, "closure/affected_since", {"watermark": state.watermark, **types}, identifiers=self.identifiers
            )
        db.run(conn, "closure/affected_analyze")
        if not rebuild:
            deleted = self._run(conn, "closure/delete_children")
        inserted = self._run(conn, "closure/insert_children", types)
        row_count = state.row_count - deleted + inserted if not rebuild else inserted
        count = self._link_count(conn, max_id)
        self._save(conn, max_id, count, exact=True, row_count=row_count)
        if row_budget is not None and row_count > row_budget:
            LOGGER.warning("%s holds %d rows, above the row budget of %d", self.table, row_count, row_budget)
        return RefreshReport("rebuild" if rebuild else "fold", affected, deleted, inserted, row_count, max_id)

    def _link_count(self, conn: db.Connection, watermark: int) -> int:
        row = self._one(conn, "closure/link_stats", {"watermark": watermark, "link_types": list(self.link_types)})
        assert row is not None
        return int(row[0])

    def _save(self, conn: db.Connection, watermark: int, link_count: int, *, exact: bool, row_count: int) -> None:
        self._run(
            conn,
            "closure/save_state",
            {
                "watermark": watermark,
                "link_count": link_count,
                "exact": exact,
                "row_count": row_count,
                "link_types": list(self.link_types),
            },
        )

    def before_delete(self, conn: db.Connection, ids: list[int]) -> ClosureState | None:
        """Inside a deletion transaction, before the links go: lock, read the state (None: nothing to keep)."""
        if not self.is_installed(conn):
            return None
        db.run(conn, "closure/lock", {"key": LOCK_KEY})
        state = self.state(conn)
        return state if state.built else None

    def after_delete(self, conn: db.Connection, state: ClosureState, ids: list[int], links_below: int) -> None:
        """Remove the rows of deleted nodes and keep the state honest.

        The recorded link count drops by the links at or below the watermark that this deletion removed, so
        that deletions made elsewhere still show up as a mismatch. When the deleted set has closure
        descendants outside it (a toggled rule, or a direct ``delete_nodes_and_connections``), paths through
        the deleted nodes between surviving nodes become invalid: the closure is marked inexact (the next
        refresh rebuilds it) instead of being repaired row by row.
        """
        escapes = bool(db.scalar(conn, "closure/deleted_escape", {"ids": ids}, identifiers=self.identifiers))
        removed = self._run(conn, "closure/delete_nodes", {"ids": ids})
        self._save(
            conn,
            state.watermark,
            state.link_count - links_below,
            exact=state.exact and not escapes,
            row_count=state.row_count - removed,
        )

    def ancestors(self, conn: db.Connection, ids: list[int], max_depth: int | None) -> dict[int, int]:
        """Ancestors with minimal depth from the closure table (the caller checked that it is current)."""
        rows = db.all_rows(
            conn, "closure/ancestors", {"ids": ids, "max_depth": max_depth}, identifiers=self.identifiers
        )
        return {int(i): int(d) for i, d in rows}

    def descendants(self, conn: db.Connection, ids: list[int], max_depth: int | None) -> dict[int, int]:
        """Descendants with minimal depth from the closure table (the caller checked that it is current)."""
        rows = db.all_rows(
            conn, "closure/descendants", {"ids": ids, "max_depth": max_depth}, identifiers=self.identifiers
        )
        return {int(i): int(d) for i, d in rows}
