"""aiida-core's query dict (``QueryDictType``) compiled to one fastdos statement, with aiida's row semantics.

The filters are compiled by fastdos' own :class:`~fastdos.query.filters.FilterCompiler` (jsonb comparisons that
fastdos' expression indexes serve, instead of aiida's ``CASE jsonb_typeof`` form that no index can); the rest of
the statement is assembled here because aiida's rows differ from :class:`fastdos.query.QueryBuilder`'s:

* ``with_ancestors`` / ``with_descendants`` repeat a pair once per path (aiida's recursive CTE is a UNION ALL;
  fastdos' own builder deduplicates), so the walk below is a UNION ALL seeded exactly like aiida's;
* every filter is a WHERE condition, also for outer joins (aiida's ``query.filter``), and the outer joins are
  aiida's: ``with_outgoing`` and the group membership table are always inner on their first hop;
* projections carry aiida's casts (``cast``: f, i, b, t, j, d) and ``attributes`` without a key is the whole
  value; ``'*'`` selects the id and :mod:`fastdos.aiida.querybuilder` loads aiida's ORM models for it.

Anything outside the shapes verified against aiida-core (tests/test_aiida_plugin_query.py) raises
:class:`Unsupported` with the reason, and the caller runs aiida-core's own SqlaQueryBuilder instead. That
includes every input aiida rejects: aiida raises its own exception then, unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ..query.entities import ENTITIES, GROUP_MEMBERS_TABLE, LINK, PROVENANCE_LINK_TYPES, Entity
from ..query.filters import FilterCompiler, Params, json_value
from .qb_filters import JSON_BY_NAME, METADATA_ENTITIES, Unsupported, check_filters, json_column

# aiida's projection functions. Its 'min' is SQL max() (SqlaQueryBuilder's _get_projection), kept as it is: the
# plugin returns what aiida-core returns.
AGGREGATES = {"max": "max", "min": "max", "count": "count"}
# aiida's projection/order casts: SQLAlchemy's Float, Integer, Boolean, JSONB and DateTime (no time zone).
CASTS = {"f": "double precision", "i": "integer", "b": "boolean", "j": "jsonb", "d": "timestamp without time zone"}
# The provenance links aiida-core's recursive walk follows (its SqlaJoiner): create and input_calc.
LINK_TYPES = sql.SQL("IN ({})").format(sql.SQL(", ").join(sql.Literal(t) for t in PROVENANCE_LINK_TYPES))


@dataclass
class Vertex:
    """One path item: its tag, entity, SQL alias and (for the links of with_incoming/with_outgoing) its edge."""

    tag: str
    entity: Entity
    alias: str
    edge_tag: str | None = None
    edge_alias: str | None = None
    edge_entity: Entity | None = None  # LINK when the edge is a db_dblink row; None: no queryable edge


@dataclass
class Plan:
    """A compiled query: the pieces of its statement and how to read its result rows."""

    ctes: list[sql.Composable]
    from_: list[sql.Composable]
    where: list[sql.Composable]
    select: list[sql.Composable]
    order: list[sql.Composable]
    params: Params
    entities: dict[int, str]  # result column -> orm_base of a '*' projection (the column holds the id)
    dict_shape: list[tuple[str, str, int]]  # (tag, key, result column) for iterdict
    limit: int | None
    offset: int | None
    distinct: bool
    shape: str
    features: list[str] = field(default_factory=list)

    def _body(self, select: sql.Composable) -> list[sql.Composable]:
        parts: list[sql.Composable] = []
        if self.ctes:
            parts.append(sql.SQL("WITH RECURSIVE {}").format(sql.SQL(", ").join(self.ctes)))
        parts.append(sql.SQL("SELECT {} FROM {}").format(select, sql.SQL(" ").join(self.from_)))
        if self.where:
            parts.append(sql.SQL("WHERE {}").format(sql.SQL(" AND ").join(self.where)))
        return parts

    def rows_statement(self, *, first: bool = False) -> tuple[sql.Composed, dict[str, Any]]:
        """The SELECT of the rows (``first``: aiida's ``Query.first()``, LIMIT 1 in place of the limit)."""
        params = dict(self.params.values)
        select: sql.Composable = sql.SQL(", ").join(self.select)
        if self.distinct:
            select = sql.SQL("DISTINCT {}").format(select)
        parts = self._body(select)
        if self.order:
            parts.append(sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(self.order)))
        limit = 1 if first else self.limit
        if limit is not None:
            params["limit"] = limit
            parts.append(sql.SQL("LIMIT %(limit)s"))
        if self.offset is not None:
            params["offset"] = self.offset
            parts.append(sql.SQL("OFFSET %(offset)s"))
        return sql.Composed([sql.SQL(" ").join(parts)]), params

    def count_statement(self) -> tuple[sql.Composed, dict[str, Any]]:
        """aiida's ``Query.count()``: the number of rows, duplicates included (distinct, limit, offset honoured)."""
        if self.distinct or self.limit is not None or self.offset is not None or "project:func" in self.features:
            inner, params = self.rows_statement()
            return sql.Composed([sql.SQL("SELECT count(*) FROM ({}) AS q").format(inner)]), params
        return sql.Composed([sql.SQL(" ").join(self._body(sql.SQL("count(*)")))]), dict(self.params.values)


def compile_query(data: Mapping[str, Any]) -> Plan:
    """The :class:`Plan` of aiida's query dict, or :class:`Unsupported` naming what is not covered."""
    path = data.get("path") or []
    if not path:
        raise Unsupported("empty path")
    params = Params()
    vertices: dict[str, Vertex] = {}
    ctes: list[sql.Composable] = []
    from_: list[sql.Composable] = []
    shape: list[str] = []
    filters = data.get("filters") or {}
    for index, item in enumerate(path):
        orm_base = item.get("orm_base")
        if orm_base not in ENTITIES:
            raise Unsupported(f"entity {orm_base!r}")
        tag = item["tag"]
        if not isinstance(tag, str) or tag in vertices:
            raise Unsupported(f"tag {tag!r}")
        vertex = Vertex(tag, ENTITIES[orm_base], f"t{index}")
        table = sql.SQL("{} AS {}").format(sql.Identifier(vertex.entity.table), sql.Identifier(vertex.alias))
        if index == 0:
            from_.append(table)
            shape.append(orm_base)
        else:
            rel, other_tag = item.get("joining_keyword"), item.get("joining_value")
            if not isinstance(other_tag, str) or other_tag not in vertices:
                raise Unsupported(f"joining_value {other_tag!r}")
            other = vertices[other_tag]
            outer = bool(item.get("outerjoin"))
            vertex.edge_tag = item.get("edge_tag")
            vertex.edge_alias = f"e{index}"
            _join(vertex, other, rel, outer, table, from_, ctes, filters.get(other_tag) or {}, params)
            shape.append(f"{rel}:{orm_base}" + ("(outer)" if outer else ""))
        vertices[tag] = vertex
    edges = {v.edge_tag: v for v in vertices.values() if v.edge_tag is not None}

    where: list[sql.Composable] = []
    features: set[str] = set()
    for tag, spec in filters.items():
        if not spec:
            continue
        if tag in vertices:
            entity, alias = vertices[tag].entity, vertices[tag].alias
        elif tag in edges and edges[tag].edge_entity is not None:
            entity, alias = LINK, str(edges[tag].edge_alias)
            features.add("edge_filter")
        else:
            raise Unsupported(f"filters on tag {tag!r}")
        features.update(check_filters(entity, spec))
        compiled = FilterCompiler(entity, alias, params).compile(spec)
        if compiled is not None:
            where.append(compiled)

    select, entities, dict_shape = _projections(data, path, vertices, edges, params, features)
    order = _order_by(data, vertices, edges, params)
    distinct = bool(data.get("distinct"))
    if order:
        features.add("order_by")
        if distinct:
            raise Unsupported("distinct with order_by (PostgreSQL's select-list rule depends on aiida's columns)")
    limit, offset = data.get("limit"), data.get("offset")
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise Unsupported(f"{name} {value!r}")
    if limit is not None:
        features.add("limit")
    if offset is not None:
        features.add("offset")
    if distinct:
        features.add("distinct")
    return Plan(
        ctes, from_, where, select, order, params, entities, dict_shape, limit, offset, distinct,
        " ".join(shape), sorted(features),
    )  # fmt: skip


def _join(
    vertex: Vertex,
    other: Vertex,
    rel: Any,
    outer: bool,
    table: sql.Composable,
    from_: list[sql.Composable],
    ctes: list[sql.Composable],
    other_filters: Mapping[str, Any],
    params: Params,
) -> None:
    """Append the joins of aiida's SqlaJoiner for ``vertex <rel> other`` (same tables, same ON, same outer)."""
    name = vertex.entity.name
    kind = sql.SQL("LEFT JOIN" if outer else "JOIN")
    t, o, e = sql.Identifier(vertex.alias), sql.Identifier(other.alias), sql.Identifier(str(vertex.edge_alias))
    if name == "node" and other.entity.name == "node" and rel in ("with_incoming", "with_outgoing"):
        vertex.edge_entity = LINK
        link = sql.SQL("db_dblink AS {}").format(e)
        if rel == "with_incoming":  # both hops outer when asked (aiida's _join_node_outputs)
            from_.append(sql.SQL("{} {} ON {}.input_id = {}.id").format(kind, link, e, o))
            from_.append(sql.SQL("{} {} ON {}.output_id = {}.id").format(kind, table, e, t))
        else:  # the link hop is always inner (aiida's _join_node_inputs)
            from_.append(sql.SQL("JOIN {} ON {}.output_id = {}.id").format(link, e, o))
            from_.append(sql.SQL("{} {} ON {}.input_id = {}.id").format(kind, table, e, t))
        return
    if name == "node" and other.entity.name == "node" and rel in ("with_ancestors", "with_descendants"):
        seed = f"s{vertex.alias[1:]}"
        check_filters(other.entity, other_filters)
        seed_filter = FilterCompiler(other.entity, seed, params).compile(other_filters)
        conditions: list[sql.Composable] = [sql.SQL("l.type {}").format(LINK_TYPES)]
        if seed_filter is not None:
            conditions.insert(0, seed_filter)
        s, cond = sql.Identifier(seed), sql.SQL(" AND ").join(conditions)
        if rel == "with_ancestors":  # vertex is a descendant of other: walk down (_join_node_descendants_recursive)
            ctes.append(
                sql.SQL(
                    "{e}(ancestor_id, descendant_id) AS ("
                    "SELECT l.input_id, l.output_id FROM db_dbnode AS {s} JOIN db_dblink AS l ON l.input_id = {s}.id "
                    "WHERE {cond} UNION ALL "
                    "SELECT w.ancestor_id, l.output_id FROM {e} AS w JOIN db_dblink AS l "
                    "ON l.input_id = w.descendant_id WHERE l.type {types})"
                ).format(e=e, s=s, cond=cond, types=LINK_TYPES)
            )
            from_.append(sql.SQL("JOIN {} ON {}.ancestor_id = {}.id").format(e, e, o))
            from_.append(sql.SQL("{} {} ON {}.descendant_id = {}.id").format(kind, table, e, t))
        else:  # vertex is an ancestor of other: walk up (_join_node_ancestors_recursive)
            ctes.append(
                sql.SQL(
                    "{e}(ancestor_id, descendant_id) AS ("
                    "SELECT l.input_id, l.output_id FROM db_dbnode AS {s} JOIN db_dblink AS l ON l.output_id = {s}.id "
                    "WHERE {cond} UNION ALL "
                    "SELECT l.input_id, w.descendant_id FROM {e} AS w JOIN db_dblink AS l "
                    "ON l.output_id = w.ancestor_id WHERE l.type {types})"
                ).format(e=e, s=s, cond=cond, types=LINK_TYPES)
            )
            from_.append(sql.SQL("JOIN {} ON {}.descendant_id = {}.id").format(e, e, o))
            from_.append(sql.SQL("{} {} ON {}.ancestor_id = {}.id").format(kind, table, e, t))
        return
    members = sql.SQL("{} AS {}").format(sql.Identifier(GROUP_MEMBERS_TABLE), e)
    if name == "node" and other.entity.name == "group" and rel == "with_group":  # membership hop always inner
        from_.append(sql.SQL("JOIN {} ON {}.dbgroup_id = {}.id").format(members, e, o))
        from_.append(sql.SQL("{} {} ON {}.id = {}.dbnode_id").format(kind, table, t, e))
        return
    if name == "group" and other.entity.name == "node" and rel == "with_node":
        from_.append(sql.SQL("JOIN {} ON {}.dbnode_id = {}.id").format(members, e, o))
        from_.append(sql.SQL("{} {} ON {}.id = {}.dbgroup_id").format(kind, table, t, e))
        return
    foreign = FOREIGN_KEYS.get((name, rel, other.entity.name))
    if foreign is None:
        raise Unsupported(f"relationship {name} {rel} {other.entity.name}")
    new_col, other_col = foreign
    from_.append(
        sql.SQL("{} {} ON {} = {}").format(
            kind, table, sql.Identifier(vertex.alias, new_col), sql.Identifier(other.alias, other_col)
        )
    )


# (new entity, relationship, other entity) -> (new column, other column): aiida's SqlaJoiner foreign-key joins.
FOREIGN_KEYS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("authinfo", "with_computer", "computer"): ("dbcomputer_id", "id"),
    ("authinfo", "with_user", "user"): ("aiidauser_id", "id"),
    ("node", "with_user", "user"): ("user_id", "id"),
    ("user", "with_node", "node"): ("id", "user_id"),
    ("node", "with_computer", "computer"): ("dbcomputer_id", "id"),
    ("computer", "with_node", "node"): ("id", "dbcomputer_id"),
    ("group", "with_user", "user"): ("user_id", "id"),
    ("user", "with_group", "group"): ("id", "user_id"),
    ("comment", "with_node", "node"): ("dbnode_id", "id"),
    ("node", "with_comment", "comment"): ("id", "dbnode_id"),
    ("comment", "with_user", "user"): ("user_id", "id"),
    ("user", "with_comment", "comment"): ("id", "user_id"),
    ("log", "with_node", "node"): ("dbnode_id", "id"),
    ("node", "with_log", "log"): ("id", "dbnode_id"),
    ("user", "with_authinfo", "authinfo"): ("id", "aiidauser_id"),
}


# --- projections and ordering --------------------------------------------------------------------------------


def _value(entity: Entity, alias: str, name: Any, cast: Any, params: Params) -> sql.Composable:
    """aiida's ``_get_projectable_entity``: a column, or a JSON path (``#>``) with an optional cast."""
    if not isinstance(name, str) or not name:
        raise Unsupported(f"property {name!r}")
    head, *keys = name.split(".")
    column, is_json = json_column(entity, head, bool(keys), for_filter=False)
    if not is_json:
        return sql.Identifier(alias, column)  # aiida ignores a cast on a plain column
    if any(not k for k in keys):
        raise Unsupported(f"empty key in {name!r}")
    if cast is None:
        return json_value(alias, column, keys, params) if keys else sql.Identifier(alias, column)
    if cast == "t":
        return json_value(alias, column, keys, params, text=True)
    if cast not in CASTS:
        raise Unsupported(f"cast {cast!r}")
    return sql.SQL("({}::{})").format(json_value(alias, column, keys, params, text=True), sql.SQL(CASTS[cast]))


def _projections(
    data: Mapping[str, Any],
    path: list[Any],
    vertices: dict[str, Vertex],
    edges: dict[str, Vertex],
    params: Params,
    features: set[str],
) -> tuple[list[sql.Composable], dict[int, str], list[tuple[str, str, int]]]:
    project = data.get("project") or {}
    project_map = data.get("project_map") or {}
    select: list[sql.Composable] = []
    entities: dict[int, str] = {}
    dict_shape: list[tuple[str, str, int]] = []
    if not any(project.values()):
        order: list[tuple[str, list[Any]]] = [(path[-1]["tag"], [{"*": {}}])]
    else:
        order = [(item["tag"], project.get(item["tag"]) or []) for item in path]
        order += [(item["edge_tag"], project.get(item["edge_tag"]) or []) for item in path[1:] if item.get("edge_tag")]
    for tag, specs in order:
        if not specs:
            continue
        if tag in vertices:
            entity, alias, is_edge = vertices[tag].entity, vertices[tag].alias, False
        elif tag in edges and edges[tag].edge_entity is not None:
            entity, alias, is_edge = LINK, str(edges[tag].edge_alias), True
            features.add("edge_project")
        else:
            raise Unsupported(f"projection on tag {tag!r}")
        seen: set[str] = set()
        for spec in specs:
            if not isinstance(spec, dict):
                raise Unsupported(f"projection {spec!r}")
            for name, extra in spec.items():
                if not isinstance(extra, dict) or set(extra) - {"cast", "func"}:
                    raise Unsupported(f"projection options {extra!r}")
                cast, func = extra.get("cast"), extra.get("func")
                if func is not None and (func not in AGGREGATES or name in ("*", "**")):
                    raise Unsupported(f"projection {name!r} with func {func!r}")
                if name == "*":
                    if is_edge:
                        raise Unsupported("'*' of an edge")
                    names: list[tuple[str, str]] = [("*", "*")]
                elif name == "**" and cast is not None:
                    raise Unsupported("'**' with a cast")
                elif name == "**":  # every column, in the table's order (aiida's get_column_names)
                    names = [(c, c) for c in entity.columns]
                else:
                    names = [(name, name)]
                for prop, key in names:
                    if prop in seen:
                        raise Unsupported(f"{tag!r} projects {prop!r} twice")
                    seen.add(prop)
                    index = len(select)
                    if prop == "*":
                        select.append(sql.Identifier(alias, "id"))
                        entities[index] = entity.name
                        features.add("project:*")
                    elif name == "**" or (prop == "metadata" and entity.name in METADATA_ENTITIES):
                        # '**' selects the plain columns; 'metadata' is aiida's _metadata, returned as 'metadata'
                        select.append(sql.Identifier(alias, prop))
                    else:
                        value = _value(entity, alias, prop, cast, params)
                        if func is not None:
                            value = sql.SQL("{}({})").format(sql.SQL(AGGREGATES[func]), value)
                            features.add("project:func")
                        select.append(value)
                        features.add("project:json" if "." in prop or prop in JSON_BY_NAME else "project:column")
                    dict_shape.append((tag, project_map.get(tag, {}).get(key, key), index))
    if not select:
        raise Unsupported("no projection")
    return select, entities, dict_shape


def _order_by(
    data: Mapping[str, Any], vertices: dict[str, Vertex], edges: dict[str, Vertex], params: Params
) -> list[sql.Composable]:
    terms: list[sql.Composable] = []
    for spec in data.get("order_by") or []:
        if not isinstance(spec, dict):
            raise Unsupported(f"order_by {spec!r}")
        for tag, items in spec.items():
            if tag in vertices:
                entity, alias = vertices[tag].entity, vertices[tag].alias
            elif tag in edges and edges[tag].edge_entity is not None:
                entity, alias = LINK, str(edges[tag].edge_alias)
            else:
                raise Unsupported(f"order_by on tag {tag!r}")
            if not isinstance(items, (list, tuple)):
                raise Unsupported(f"order_by items {items!r}")
            for item in items:
                if not isinstance(item, dict):
                    raise Unsupported(f"order_by item {item!r}")
                for name, how in item.items():
                    if not isinstance(how, dict) or set(how) - {"order", "cast"}:
                        raise Unsupported(f"order_by options {how!r}")
                    if isinstance(name, str) and "." in name and "cast" not in how:
                        raise Unsupported(f"order_by {name!r} without a cast")  # aiida's ValueError
                    direction = how.get("order", "asc")
                    if direction not in ("asc", "desc"):
                        raise Unsupported(f"order {direction!r}")
                    value = _value(entity, alias, name, how.get("cast"), params)
                    terms.append(sql.SQL("{} {}").format(value, sql.SQL("DESC" if direction == "desc" else "ASC")))
    return terms
