"""Provenance graph operations: deletion with AiiDA's traversal rules, ancestors/descendants, closure tables, integrity.

Every walk runs inside PostgreSQL as one recursive statement (aiida-core walks from Python, one round trip
per hop and rule). Deletion (docs/traversal-rules.md#deletion): expand the start set by the DELETE rules, then remove
group memberships, links by input, links by output and the nodes, one set-wise statement each, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg import sql

from . import bulk_delete, db, integrity, queries, rules, session_settings
from .closure import DEFAULT_ROW_BUDGET, Closure, ClosureState, RefreshReport
from .errors import ClosureError
from .ids import array_literal

if TYPE_CHECKING:
    from .context import StorageContext

LOGGER = logging.getLogger("fastdos.graph")

CLOSURE = Closure()

DryRun = bool | Callable[[set[int]], bool]

# See walk_row_limit. From WALK_LEVELS_FIRST_STARTS start nodes the capped statement is skipped: its per-row
# index probes lose to the level walk's one scan per level (the wide graph of 10^5 nodes from 1000 starts:
# 11.6 ms capped, 9.0 ms level walk; from 100 starts 2.5 against 3.7 ms; bench/notes/traversal.md, section 6).
WALK_BASE_ROWS = 500
WALK_ROWS_PER_START = 2
WALK_LEVELS_FIRST_STARTS = 256
# Past the cap, one statement (sql/graph/walk_wide.sql) does the levels on the server, one `= ANY` scan
# over the frontier per level, whose targets are binary-searched in three sorted arrays of the nodes reached
# so far, merged like a log-structured tree; the smallest takes a level's new nodes while it stays within
# WALK_MERGE_MIN or half of the next (the random DAG of 10^5 nodes, descendants from 1000 starts: 246 ms with
# three arrays and 1000, 280 ms with two and 4000, 323 ms with two and 8000; bench/notes/traversal.md,
# section 8). It hands over to the node-wise walk (sql/graph/walk_narrow.sql: a recursive UNION holding the
# visited set, one row and one index probe per new node) after WALK_NARROW_LEVELS levels in a row of fewer
# than WALK_NARROW new nodes, since every level still re-sorts the smaller array (a chain of 10^4 from 1
# start: 44 ms node-wise, where the server's DO loop this replaced took 150 ms, and 3.4 s from 1000 starts).
# It also hands over once the sorting has handled more than WALK_DEDUP_PER_NODE elements per reached node
# plus WALK_DEDUP_BASE: a sorted element costs ~0.15-0.19 us (37,230 in 5.5-7 ms, EXPLAIN ANALYZE), so 32 per
# node is about the node-wise walk's ~3-5 us per node; the random DAGs of bench/test_graph.py sort 3.1-4.5 per
# node. bench/notes/traversal.md, sections 6-8.
WALK_MERGE_MIN = 1000
WALK_NARROW = 32
WALK_NARROW_LEVELS = 32
WALK_DEDUP_PER_NODE = 32
WALK_DEDUP_BASE = 1_000_000
# The walk statements' estimates grow with the start set against jit_above_cost's default of 100000: below
# 50 starts JIT does not trigger, and switching it off costs ~80 us even in the statement's own pipeline (a
# 2-node walk: 0.37 ms against 0.29 ms). bench/notes/traversal.md, section 5.
WALK_JIT_STARTS = 50


@dataclass(frozen=True)
class DeletionPlan:
    """The outcome of expanding a deletion request by the traversal rules."""

    requested: list[int]
    missing: list[int]
    pks: set[int]
    forward: tuple[str, ...]
    backward: tuple[str, ...]


def walk_row_limit(starts: int) -> int:
    """Rows the capped one-statement walk (sql/graph/walk_capped.sql) may produce before the level walk takes over.

    The capped statement costs about 3-4 us per (id, depth) row and answers small walks in one round trip
    (0.3 ms for a 2-node result) where the level walk costs ~0.8 ms (its plan and its recursion of arrays);
    past the cap its work is wasted. 500 rows plus 2 per start node (a workflow input typically reaches a
    calculation and its outputs at depths 1 and 2) wastes at most ~2-4 ms on larger walks; measured in
    bench/notes/traversal.md, section 6.
    """
    return max(1, WALK_BASE_ROWS + WALK_ROWS_PER_START * starts)  # 0 would read as 'complete and empty'


def _check_max_depth(max_depth: object) -> int | None:
    if max_depth is None:
        return None
    if isinstance(max_depth, bool) or not isinstance(max_depth, int):
        raise TypeError(f"max_depth must be an int or None, got {type(max_depth).__name__} {max_depth!r}")
    if max_depth < 1:
        raise ValueError(f"max_depth must be at least 1, got {max_depth}")
    return max_depth


# --- deletion ----------------------------------------------------------------------------------------


def delete_nodes_and_connections(ctx: StorageContext, pks: Iterable[int], *, strategy: str | None = None) -> None:
    """Delete the nodes ``pks`` with their group memberships, links, comments and logs, without any traversal.

    Must run inside :meth:`transaction` (aiida-core's contract). Small sets: four statements, each against the
    whole id set passed as one array (group memberships, links by input, links by output, nodes; comments and
    logs follow by their ``ON DELETE CASCADE``). Large sets, while this process can hold the profile's
    exclusive lock: every dependent row set-wise without PostgreSQL's per-row foreign-key triggers
    (:mod:`fastdos.bulk_delete`; inside a caller's transaction never with DDL). Repository objects stay until
    ``maintain``. Ids that do not exist are ignored. When the closure table is installed its rows for these
    nodes go in the same transaction. ``strategy`` forces one of :data:`fastdos.bulk_delete.STRATEGIES`
    where it is allowed (benchmarks); None chooses by size.

    :raises AssertionError: outside a transaction.
    :raises TypeError, ValueError: an id that is not an int ≥ 1, an unknown strategy.
    """
    if not ctx.in_transaction:
        raise AssertionError("Cannot delete nodes and links outside a transaction")
    _delete_set(ctx, rules.check_pks(pks), ddl=False, strategy=strategy)


def _delete_set(ctx: StorageContext, ids: list[int], *, ddl: bool, strategy: str | None, filled: bool = False) -> str:
    """Delete ``ids`` and their connections in a savepoint; the strategy that ran.

    ``filled``: the deletion's temporary table already holds ``ids`` (:func:`_plan` with ``into_table``).
    """
    if strategy is not None and strategy not in bulk_delete.STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(bulk_delete.STRATEGIES)} or None, got {strategy!r}")
    if not ids:
        return bulk_delete.PLAIN
    # A savepoint: a failure halfway rolls back this deletion only, whatever the caller does next.
    with ctx.transaction() as conn:
        state = CLOSURE.before_delete(conn, ids)
        watermark = state.watermark if state is not None else 0
        outcome = bulk_delete.delete(ctx, conn, ids, watermark, ddl=ddl, strategy=strategy, filled=filled)
        if state is not None:
            CLOSURE.after_delete(conn, state, ids, outcome.links_below)
    LOGGER.info("deleted %d node(s) with the %s strategy", len(ids), outcome.strategy)
    return outcome.strategy


def plan_deletion(ctx: StorageContext, pks: Iterable[int], **toggles: bool) -> DeletionPlan:
    """Expand ``pks`` by the DELETE traversal rules (:func:`_traverse`); nothing is deleted.

    ``toggles`` switch the toggleable rules (``create_forward``, ``call_calc_forward``,
    ``call_work_forward``) with aiida-core's checks. Ids that do not exist are listed in ``missing``.
    """
    directions = rules.resolve(rules.DELETE, toggles)
    ids = rules.check_pks(pks)
    # A read: the context's connection (a replica's when reads are routed, docs/replicas.md), in a transaction of
    # its own (a savepoint inside a caller's) for the transaction-local jit setting of _plan.
    with ctx.connection() as conn, conn.transaction():
        return _plan(conn, ids, directions)


def _plan(conn: db.Connection, ids: list[int], directions: rules.Directions, into_table: bool = False) -> DeletionPlan:
    """The traversal; start ids it does not reach are the missing ones (it starts from the existing nodes).

    ``into_table``: the reached ids also fill the deletion's temporary table (:func:`_traverse`).
    """
    reached: set[int] = set()
    if into_table:
        db.run(conn, "graph/bulk_ids_create")
    if ids:
        params: dict[str, object] = {
            "ids": array_literal(ids), "group_ids": [], "forward": list(directions.forward),
            "backward": list(directions.backward),
        }  # fmt: skip
        reached = _traverse(conn, params, into_table)
    missing = [pk for pk in ids if pk not in reached]
    if missing:
        LOGGER.warning("skipping %d node(s) that do not exist: %s", len(missing), missing[:20])
    return DeletionPlan(ids, missing, reached, directions.forward, directions.backward)


def _traverse(conn: db.Connection, params: dict[str, object], into_table: bool) -> set[int]:
    """The traversal by levels (graph/traverse_levels: a deletion of 10^4 work chains in 66 ms against 192 ms
    node-wise, bench/notes/graph.md), or node-wise when the levels turn narrow or long (a chain), as the
    walks hand over (WALK_NARROW, WALK_NARROW_LEVELS, WALK_DEDUP_*); ``into_table`` fills fastdos_delete_ids."""
    levels = {**params, "narrow": WALK_NARROW, "narrow_levels": WALK_NARROW_LEVELS, "merge_min": WALK_MERGE_MIN,
              "dedup_per_node": WALK_DEDUP_PER_NODE, "dedup_base": WALK_DEDUP_BASE}  # fmt: skip
    # The recursive statements' estimates (millions of rows) trigger JIT compilation: 170 ms of a 400 ms walk of
    # 10^4 work chains on PG 15, for a statement that runs once (bench/notes/graph.md#bulk-deletion).
    rows = _walk_statement(conn, "graph/traverse_levels", levels, _reached_fragments(), no_jit=True, prepare=False,
                           bitmap=True)  # fmt: skip
    if not rows[-1][1]:
        reached = {node for frontier, _ in rows for node in frontier}
        if into_table:
            db.run(conn, "graph/bulk_ids_fill", {"ids": array_literal(sorted(reached))})
        return reached
    LOGGER.debug("traversal: narrow or long levels, node-wise instead")
    name = "graph/bulk_traverse_into" if into_table else "graph/traverse"
    return {int(r[0]) for r in _walk_statement(conn, name, params, {}, no_jit=True)}


def delete_nodes(ctx: StorageContext, pks: Iterable[int], dry_run: DryRun = True, **toggles: bool) -> set[int]:
    """Delete ``pks`` and everything AiiDA's DELETE rules drag along; return the ids (to be) deleted.

    Like ``aiida.tools.graph.deletions.delete_nodes``: ``dry_run`` (True by default) only computes the
    set; it may also be a callable that receives the set and returns True to stop before deleting.
    Missing ids are logged as a warning and skipped (:meth:`plan_deletion` returns them). The expansion
    and the deletion run in one transaction, so the set deleted is the set computed, and an error leaves
    the storage as it was. When that transaction is this call's own, a large deletion may drop and restore
    the foreign keys (:mod:`fastdos.bulk_delete`).

    :raises fastdos.errors.ValidationError: an unknown rule name.
    :raises ValueError: a rule that is not toggleable, a non-bool rule value, an id below 1.
    :raises TypeError: an id that is not an int.
    """
    return delete_nodes_using(ctx, pks, None, dry_run, toggles)


def delete_nodes_using(
    ctx: StorageContext,
    pks: Iterable[int],
    strategy: str | None,
    dry_run: DryRun = False,
    toggles: Mapping[str, bool] | None = None,
) -> set[int]:
    """:func:`delete_nodes` with the deletion strategy forced where it is allowed (benchmarks; None: by size).

    :raises ValueError: ``strategy`` is not one of :data:`fastdos.bulk_delete.STRATEGIES` or None.
    """
    toggles = dict(toggles or {})
    directions = rules.resolve(rules.DELETE, toggles)
    ids = rules.check_pks(pks)
    if not isinstance(dry_run, bool) and not callable(dry_run):
        raise TypeError(f"dry_run must be a bool or a callable, got {dry_run!r}")
    if strategy is not None and strategy not in bulk_delete.STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(bulk_delete.STRATEGIES)} or None, got {strategy!r}")
    if dry_run is True:
        # A read: the context's connection (a replica's when reads are routed, docs/replicas.md), in a
        # transaction of its own (a savepoint inside a caller's) for the transaction-local jit setting of _plan.
        with ctx.connection() as conn, conn.transaction():
            return _plan(conn, ids, directions).pks
    # DDL only in a transaction opened here for this deletion alone (its locks end with it).
    own = ctx.owns_transactions and not ctx.in_transaction
    # From this many start nodes the deletion is set-wise anyway: the walk writes the ids into its temporary
    # table (saves sending 3*10^4 ids back: 35-60 ms on the wide graph); below, the table's 1-2 ms of DDL is
    # not spent before the size is known.
    filled = len(ids) >= bulk_delete.MIN_BULK_NODES
    with ctx.transaction() as conn:
        plan = _plan(conn, ids, directions, into_table=filled)
        if not plan.pks or (callable(dry_run) and dry_run(set(plan.pks))):
            if filled:
                db.run(conn, "graph/bulk_ids_drop")
            return plan.pks
        _delete_set(ctx, sorted(plan.pks), ddl=own, strategy=strategy, filled=filled)
    return plan.pks


def delete_group_nodes(
    ctx: StorageContext, group_pks: Iterable[int], dry_run: DryRun = True, **toggles: bool
) -> set[int]:
    """Delete the nodes of the groups ``group_pks`` (and what the rules drag along); groups are kept.

    Missing group ids are logged as a warning and skipped.
    """
    rules.resolve(rules.DELETE, toggles)
    group_ids = rules.check_pks(group_pks, what="group pk")
    with ctx.connection() as conn:
        existing = {int(r[0]) for r in db.all_rows(conn, "graph/existing_groups", {"group_ids": group_ids})}
        missing = [pk for pk in group_ids if pk not in existing]
        if missing:
            LOGGER.warning("skipping %d group(s) that do not exist: %s", len(missing), missing[:20])
        rows = db.all_rows(conn, "graph/group_nodes", {"group_ids": group_ids})
    return delete_nodes(ctx, [int(r[0]) for r in rows], dry_run=dry_run, **toggles)


# --- traversal ---------------------------------------------------------------------------------------


def get_ancestors(
    ctx: StorageContext,
    pks: Iterable[int],
    link_types: Iterable[str] = rules.PROVENANCE_LINK_TYPES,
    max_depth: int | None = None,
    use_closure: bool | None = None,
) -> dict[int, int]:
    """Ancestors of the start set along ``link_types`` links: node id → minimal depth (≥ 1).

    Defaults follow AiiDA's ``with_ancestors`` (``create`` and ``input_calc``). Start nodes appear only
    when they are ancestors of another start node (or lie on a cycle). Reads the closure table when it
    is installed, current and covers exactly these link types (``use_closure=None``); ``False`` forces
    the recursive statement, ``True`` requires the closure (``RuntimeError`` when it is not current).
    """
    return _walk(ctx, "ancestors", pks, link_types, max_depth, use_closure)


def get_descendants(
    ctx: StorageContext,
    pks: Iterable[int],
    link_types: Iterable[str] = rules.PROVENANCE_LINK_TYPES,
    max_depth: int | None = None,
    use_closure: bool | None = None,
) -> dict[int, int]:
    """Descendants of the start set along ``link_types`` links: node id → minimal depth (≥ 1).

    See :meth:`get_ancestors` for the arguments.
    """
    return _walk(ctx, "descendants", pks, link_types, max_depth, use_closure)


def _walk(
    ctx: StorageContext,
    direction: str,
    pks: Iterable[int],
    link_types: Iterable[str],
    max_depth: object,
    use_closure: bool | None,
) -> dict[int, int]:
    types = rules.check_link_types(link_types)
    depth = _check_max_depth(max_depth)
    ids = rules.check_pks(pks)
    if not ids:
        return {}
    with ctx.connection() as conn:
        closure_fits = set(types) == set(CLOSURE.link_types)
        if use_closure is not False and closure_fits:
            current = CLOSURE.state(conn).current
            if current:
                read = CLOSURE.ancestors if direction == "ancestors" else CLOSURE.descendants
                return read(conn, ids, depth)
        if use_closure:
            raise ClosureError(
                "the closure table is not installed, not current, or does not cover these link types; "
                "call refresh_closure() first"
            )
        source, target = ("output_id", "input_id") if direction == "ancestors" else ("input_id", "output_id")
        identifiers: dict[str, str | sql.Composable] = {"source": source, "target": target}
        params = {"ids": ids, "link_types": list(types), "max_depth": depth}
        many = len(ids) >= WALK_JIT_STARTS
        if len(ids) < WALK_LEVELS_FIRST_STARTS:
            limit = walk_row_limit(len(ids))
            capped = {**params, "row_limit": limit}
            rows = _walk_statement(conn, "graph/walk_capped", capped, identifiers, no_jit=many)
            if not rows or int(rows[0][2]) < limit:
                return {int(i): int(d) for i, d, _ in rows}
            LOGGER.debug("%s: more than %d (id, depth) rows, switching to the level walk", direction, limit)
        wide = {**params, "narrow": WALK_NARROW, "narrow_levels": WALK_NARROW_LEVELS, "merge_min": WALK_MERGE_MIN,
                "dedup_per_node": WALK_DEDUP_PER_NODE, "dedup_base": WALK_DEDUP_BASE}  # fmt: skip
        reached: dict[int, int] = {}
        frontier: list[int] = []
        level = 0
        levels = {**identifiers, **_reached_fragments()}
        for level_depth, nodes, continues in _walk_statement(conn, "graph/walk_wide", wide, levels, no_jit=many,
                                                             prepare=False, bitmap=True):  # fmt: skip
            reached.update(dict.fromkeys(nodes, level_depth))
            if continues:
                frontier, level = nodes, level_depth
        if frontier:
            LOGGER.debug("%s: narrow or long levels from level %d on, the node-wise walk takes over", direction, level)
            narrow = {**params, "frontier": frontier, "first_depth": level, "visited": list(reached)}
            reached.update(_walk_statement(conn, "graph/walk_narrow", narrow, identifiers, no_jit=True, prepare=False))
        return reached


def _reached_fragments() -> dict[str, str | sql.Composable]:
    """The fragments of the level statements' reached arrays (sql/graph/reached_next.sql, reached_tier.sql)."""
    return {name: queries.get(f"graph/{name}").sql for name in ("reached_next", "reached_tier")}


def _walk_statement(
    conn: db.Connection,
    name: str,
    params: dict[str, object],
    identifiers: dict[str, str | sql.Composable],
    no_jit: bool,
    prepare: bool | None = None,
    bitmap: bool = False,
) -> list[tuple[Any, ...]]:
    """One walk statement, with JIT off if ``no_jit`` (from WALK_JIT_STARTS starts, and always for the node-wise
    walk): compiling took 132 ms of a 166 ms walk that runs in 10 ms without it (10^5-node DAG, 1000 starts;
    bench/notes/traversal.md). Outside a transaction the setting goes in the same pipeline, i.e. the same
    implicit transaction, so that it costs no round trip and ends with the statement; inside one it is switched
    off and back. ``prepare=False`` for the level walks: their custom plans fold the arguments in, and ran the
    10^5-node DAG's descendants in 325 ms against 402 ms for the generic plan psycopg's prepared statement gets
    after five calls (bench/notes/traversal.md). ``bitmap``: no plain index scans, so that the level walk's
    `= ANY` over a frontier array (which the planner sizes at ~10 rows) reads db_dblink by a bitmap scan, a heap
    page at a time: 205 against 239 ms for the 10^5-node DAG's descendants from 1 (bench/notes/traversal.md,
    section 8)."""
    settings = {"jit": "off"} if no_jit else {}
    if bitmap:
        settings["enable_indexscan"] = "off"
    if not settings:
        return db.all_rows(conn, name, params, identifiers=identifiers, prepare=prepare)
    cursor = session_settings.execute_with_settings(
        conn, name, settings, lambda: db.execute(conn, name, params, identifiers=identifiers, prepare=prepare)
    )
    return cursor.fetchall()


# --- closure table -------------------------------------------------------------------------------------


def install_closure(ctx: StorageContext) -> None:
    """Install the closure tables with fastdos' alembic revision (``fastdos_alembic_version``); empty."""
    _fastdos_alembic(ctx, "upgrade", "fastdos@head")


def uninstall_closure(ctx: StorageContext) -> None:
    """Drop the closure tables (alembic downgrade of the fastdos branch to base)."""
    _fastdos_alembic(ctx, "downgrade", "fastdos@base")


def _fastdos_alembic(ctx: StorageContext, command_name: str, target: str) -> None:
    from .migrator import run_fastdos_revisions

    run_fastdos_revisions(ctx, command_name, target)


def closure_state(ctx: StorageContext) -> ClosureState:
    """Whether the closure is installed, built and current."""
    with ctx.connection() as conn:
        return CLOSURE.state(conn)


def refresh_closure(
    ctx: StorageContext, row_budget: int | None = DEFAULT_ROW_BUDGET, force_rebuild: bool = False
) -> RefreshReport:
    """Bring the closure up to date: fold in newer links, or rebuild after foreign deletions (one transaction).

    :raises fastdos.closure.ClosureBudgetExceeded: a rebuild is estimated above ``row_budget`` rows.
    :raises RuntimeError: the closure is not installed.
    """
    with ctx.transaction() as conn:
        return CLOSURE.refresh(conn, row_budget=row_budget, force_rebuild=force_rebuild)


# --- integrity -------------------------------------------------------------------------------------------


def check_integrity(
    ctx: StorageContext, examples: int = integrity.DEFAULT_EXAMPLES, repository: bool = True
) -> integrity.IntegrityReport:
    """Run aiida 1.x's provenance integrity checks (and the repository-key check); nothing is changed."""
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 0:
        raise ValueError(f"examples must be an int >= 0, got {examples!r}")
    # The database checks only read (one snapshot; a replica's, on a read context); the repository check
    # stages the container's keys in a temporary table, a unit of work (the primary's).
    with ctx.connection() as conn, db.savepoint(conn, "integrity-checks"):
        checks = integrity.check_database(conn, examples)
    if repository:
        with ctx.transaction() as conn:
            checks.append(integrity.check_repository(conn, ctx.repository, examples))
    return integrity.IntegrityReport(checks)
