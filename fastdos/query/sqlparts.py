"""SQL fragments of the QueryBuilder: vertices, value expressions, type filters, the ancestor/descendant
relations (recursive CTE or the closure table). Composed from ``psycopg.sql`` objects only; every user value
is a named parameter (:class:`fastdos.query.filters.Params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from .. import db
from .entities import PROVENANCE_LINK_TYPES, Entity, Join, NodeType
from .filters import FilterCompiler, Params, json_value, split_path


@dataclass
class Vertex:
    """One appended entity with its filters, projections and the relationship to an earlier vertex."""

    index: int
    tag: str
    entity: Entity
    node_type: NodeType | None
    filters: Mapping[str, Any]
    project: list[str]
    join: Join | None = None
    other: int | None = None
    relationship: str | None = None
    outer: bool = False
    edge_tag: str | None = None
    edge_filters: Mapping[str, Any] = field(default_factory=dict)
    edge_project: list[str] = field(default_factory=list)

    @property
    def alias(self) -> str:
        return f"t{self.index}"

    @property
    def edge_alias(self) -> str:
        return f"e{self.index}" if self.join is not None and self.join.kind == "edge" else f"r{self.index}"


def value_expr(v: Vertex, path: str, is_edge: bool, params: Params) -> sql.Composable:
    entity = v.join.edge if is_edge and v.join is not None and v.join.edge is not None else v.entity
    alias = v.edge_alias if is_edge else v.alias
    column, keys = split_path(entity, path)
    if keys:
        return json_value(alias, column, keys, params)
    return sql.Identifier(alias, column)


def type_filter(v: Vertex, params: Params) -> list[sql.Composable]:
    if v.node_type is None:
        return []
    ref = sql.Identifier(v.alias, "node_type")
    if not v.node_type.prefix:
        return [sql.SQL("{} = {}").format(ref, params.add(v.node_type.value))]
    parts: list[sql.Composable] = [sql.SQL("{} LIKE {}").format(ref, params.add(v.node_type.value + "%"))]
    if v.node_type.value.startswith("process.") and v.node_type.value != "process.":
        # Implied by the prefix, but stated in the exact text of the shipped partial indexes' predicate
        # so that the planner can prove the index applies (fastdos.query.indexes).
        parts.append(sql.SQL("{} LIKE 'process.%%'").format(ref))
    return parts


def closure_relation(conn: db.Connection) -> sql.Composable | None:
    """The seam for the transitive-closure table: ``(ancestor_id, descendant_id)`` rows from it when it is
    installed and current (fastdos.graph.CLOSURE), else None (the recursive statement is used)."""
    try:
        from ..graph import CLOSURE
    except ImportError:  # the graph module without a closure
        return None
    if not CLOSURE.state(conn).current:
        return None
    names = CLOSURE.identifiers
    return sql.SQL("(SELECT {} AS ancestor_id, {} AS descendant_id FROM {})").format(
        sql.Identifier(names["parent"]), sql.Identifier(names["child"]), sql.Identifier(names["closure"])
    )


def recursive_relation(v: Vertex, source: Vertex, params: Params) -> sql.Composable:
    """``r<i>(ancestor_id, descendant_id)`` over create/input_calc links, seeded by the other vertex's
    filters (as aiida-core does), deduplicated by UNION (no path explosion, cycles terminate).

    Both the seed and the recursive term reach the links through ``LATERAL (... OFFSET 0)``: one index probe
    per start node and per reached node. Flattened into joins, the planner sized them blindly and hashed a
    sequential scan of all of db_dblink for the seed and for the recursion (34.5 ms against 12.6 ms at 10^5
    nodes, 1000 starts; bench/notes/traversal.md). The statement must run with JIT off
    (:func:`fastdos.query.builder.QueryBuilder`): the probes' estimate passes the JIT thresholds, and
    compiling cost ten times the walk. A seed with no filter at all (every node) keeps the hash join.
    """
    assert v.join is not None
    seed_alias = f"s{v.index}"
    seed_filters = _seed_type_filter(source, seed_alias, params)
    compiled = FilterCompiler(source.entity, seed_alias, params).compile(source.filters)
    if compiled is not None:
        seed_filters.append(compiled)
    types = sql.SQL("l.type IN ('create', 'input_calc')")
    assert PROVENANCE_LINK_TYPES == ("create", "input_calc")
    name, s = sql.Identifier(v.edge_alias), sql.Identifier(seed_alias)
    down = v.relationship == "with_ancestors"  # v is a descendant of source: walk down from it
    near, far = ("input_id", "output_id") if down else ("output_id", "input_id")
    # (ancestor_id, descendant_id) of a seed link / of a step from the work table row r to the link's far end
    seed_pair = sql.SQL("{s}.id, x.id" if down else "x.id, {s}.id").format(s=s)
    step_pair = sql.SQL("r.ancestor_id, x.id" if down else "x.id, r.descendant_id")
    step_from = sql.SQL("r.descendant_id" if down else "r.ancestor_id")
    if seed_filters:
        seed = sql.SQL(
            "SELECT {pair} FROM db_dbnode AS {s} CROSS JOIN LATERAL ("
            "SELECT l.{far} FROM db_dblink AS l WHERE l.{near} = {s}.id AND {types} OFFSET 0) AS x(id) "
            "WHERE {where}"
        ).format(
            pair=seed_pair, s=s, far=sql.Identifier(far), near=sql.Identifier(near), types=types,
            where=sql.SQL(" AND ").join(seed_filters),
        )
    else:
        seed = sql.SQL("SELECT l.input_id, l.output_id FROM db_dblink AS l WHERE {types}").format(types=types)
    step = sql.SQL(
        "SELECT {pair} FROM {name} AS r CROSS JOIN LATERAL ("
        "SELECT l.{far} FROM db_dblink AS l WHERE l.{near} = {start} AND {types} OFFSET 0) AS x(id)"
    ).format(pair=step_pair, name=name, far=sql.Identifier(far), near=sql.Identifier(near), start=step_from,
             types=types)
    return sql.SQL("{name}(ancestor_id, descendant_id) AS ({seed} UNION {step})").format(
        name=name, seed=seed, step=step
    )


def _seed_type_filter(source: Vertex, alias: str, params: Params) -> list[sql.Composable]:
    if source.node_type is None:
        return []
    ref = sql.Identifier(alias, "node_type")
    if not source.node_type.prefix:
        return [sql.SQL("{} = {}").format(ref, params.add(source.node_type.value))]
    return [sql.SQL("{} LIKE {}").format(ref, params.add(source.node_type.value + "%"))]
