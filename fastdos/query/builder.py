"""``QueryBuilder``: aiida-core's QueryBuilder vocabulary, compiled to one SQL statement with parameters.

The statement is composed from ``psycopg.sql`` objects: fixed text fragments from this package, identifiers
from the allow-list in :mod:`fastdos.query.entities`, and every user value as a named parameter. Tags never
reach SQL: vertices are aliased ``t0, t1, ...``, their edges ``e1, ...``, recursive relations ``r1, ...``.
All validation happens in :meth:`QueryBuilder.append` / :meth:`order_by` / ... and in the compile step,
before a connection is even taken.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import uuid as uuidlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from .. import db, session_settings
from ..context import context_of
from ..errors import MultipleObjectsError, NotExistent, ValidationError
from .entities import (
    GROUP_MEMBERS_TABLE,
    NODE,
    PATH,
    RELATIONSHIP_NAMES,
    RELATIONSHIPS,
    resolve,
)
from .filters import FilterCompiler, Params, split_path
from .sqlparts import Vertex, closure_relation, recursive_relation, type_filter, value_expr

if TYPE_CHECKING:
    from ..context import HasContext, StorageContext

LOGGER = logging.getLogger("fastdos.query")

# Rows fetched per round trip by iterall()/iterdict() when the caller gives no batch size. 1000 rows of
# full node dicts is ~1 MB on the wire: large enough that round trips cost < 5 % of the stream time.
DEFAULT_BATCH_SIZE = 1000

# One result row of dict()/iterdict(): {tag: {property: value}} (an alias: `dict` is a method name below).
ResultDict = dict[str, dict[str, Any]]


def _projection_list(project: Any, what: str) -> list[str]:
    if project is None:
        return []
    items = [project] if isinstance(project, str) else project
    if not isinstance(items, (list, tuple)) or not all(isinstance(p, str) and p for p in items):
        raise ValidationError(f"{what} must be a property name or a list of them, not {project!r}")
    return list(items)


class QueryBuilder:
    """aiida-core's QueryBuilder, on fastdos: ``append``, ``order_by``, ``limit``, ``offset``, ``distinct``,
    then ``all``/``iterall``/``dict``/``iterdict``/``first``/``one``/``count``/``as_sql``."""

    def __init__(self, storage: StorageContext | HasContext | None = None, *, closure: bool = True) -> None:
        """A builder on ``storage`` (a Backend or a storage context; needed to run, not to compose).
        ``closure=False`` never reads the transitive-closure table, even when it is current (the recursive
        statement is used)."""
        self._context = None if storage is None else context_of(storage)
        self._use_closure = closure
        self._vertices: list[Vertex] = []
        self._tags: dict[str, int] = {}
        self._edge_tags: dict[str, int] = {}
        self._order: list[tuple[int, bool, str, bool]] = []  # (vertex, is_edge, path, descending)
        self._limit: int | None = None
        self._offset: int | None = None
        self._distinct = False

    # --- building ------------------------------------------------------------------------------------

    def append(
        self,
        entity: str = "node",
        tag: str | None = None,
        filters: Mapping[str, Any] | None = None,
        project: str | Sequence[str] | None = None,
        subclassing: bool = True,
        edge_tag: str | None = None,
        edge_filters: Mapping[str, Any] | None = None,
        edge_project: str | Sequence[str] | None = None,
        outerjoin: bool = False,
        **relationship: str,
    ) -> QueryBuilder:
        """Add a vertex: an entity name ('node', 'group', 'user', 'computer', 'comment', 'log', 'authinfo') or
        a node type string; with at most one relationship keyword (``with_incoming='tag'`` ...) to an
        earlier vertex (required for every vertex but the first). Returns ``self``."""
        ent, node_type = resolve(entity, bool(subclassing))
        index = len(self._vertices)
        if tag is None:
            tag = f"{ent.name}_{index + 1}"
            while tag in self._tags or tag in self._edge_tags:
                tag += "_"
        if not isinstance(tag, str) or not tag:
            raise ValidationError(f"a tag must be a non-empty string, not {tag!r}")
        if tag in self._tags or tag in self._edge_tags:
            raise ValidationError(f"tag {tag!r} is already used in this query")
        unknown = set(relationship) - RELATIONSHIP_NAMES
        if unknown:
            raise ValidationError(
                f"unknown append() keyword(s) {sorted(unknown)}; relationships are {sorted(RELATIONSHIP_NAMES)}"
            )
        if len(relationship) > 1:
            raise ValidationError(f"give at most one relationship, not {sorted(relationship)}")
        if filters is not None and not isinstance(filters, Mapping):
            raise ValidationError(f"filters must be a dict, not {type(filters).__name__}")
        vertex = Vertex(
            index, tag, ent, node_type, dict(filters or {}), _projection_list(project, "project"), outer=bool(outerjoin)
        )
        if relationship:
            ((name, other_tag),) = relationship.items()
            if not isinstance(other_tag, str) or other_tag not in self._tags:
                raise ValidationError(f"{name}={other_tag!r} names no tag of this query (tags: {sorted(self._tags)})")
            other = self._vertices[self._tags[other_tag]]
            join = RELATIONSHIPS.get((ent.name, name))
            if join is None or join.source != other.entity.name:
                raise ValidationError(
                    f"{ent.name} cannot be joined {name} a {other.entity.name} (tag {other_tag!r}); "
                    f"valid for {ent.name}: "
                    + ", ".join(f"{r} a {j.source}" for (e, r), j in RELATIONSHIPS.items() if e == ent.name)
                )
            vertex.join, vertex.other, vertex.relationship = join, other.index, name
            vertex.edge_filters = dict(edge_filters or {})
            vertex.edge_project = _projection_list(edge_project, "edge_project")
            if (vertex.edge_filters or vertex.edge_project) and join.edge is None:
                raise ValidationError(
                    f"relationship {name} between {ent.name} and {join.source} has no edge "
                    "properties to filter or project"
                )
            vertex.edge_tag = edge_tag if edge_tag is not None else f"{other_tag}--{tag}"
            if (
                not isinstance(vertex.edge_tag, str)
                or vertex.edge_tag in self._tags
                or vertex.edge_tag in self._edge_tags
            ):
                raise ValidationError(f"edge tag {vertex.edge_tag!r} is already used or not a string")
        elif self._vertices:
            raise ValidationError(f"vertex {tag!r} needs a relationship to an earlier vertex (e.g. with_incoming=...)")
        elif edge_filters or edge_project:
            raise ValidationError("the first vertex has no edge to filter or project")
        # Validate filters and projections now (compiling them raises on bad input), before any SQL runs.
        FilterCompiler(ent, vertex.alias, Params()).compile(vertex.filters)
        for path in vertex.project:
            if path != "*":
                split_path(ent, path)
        if vertex.join is not None and vertex.join.edge is not None:
            FilterCompiler(vertex.join.edge, vertex.edge_alias, Params()).compile(vertex.edge_filters)
            for path in vertex.edge_project:
                if path != "*":
                    split_path(vertex.join.edge, path)
        self._vertices.append(vertex)
        self._tags[tag] = index
        if vertex.edge_tag is not None:
            self._edge_tags[vertex.edge_tag] = index
        return self

    def order_by(self, order_by: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> QueryBuilder:
        """aiida's ``{tag: ['ctime', {'id': {'order': 'desc'}}]}`` (or a list of such dicts); replaces any
        earlier ordering."""
        specs = [order_by] if isinstance(order_by, Mapping) else list(order_by)
        order: list[tuple[int, bool, str, bool]] = []
        for spec in specs:
            if not isinstance(spec, Mapping):
                raise ValidationError(f"order_by takes {{tag: [properties]}} dicts, not {spec!r}")
            for tag, items in spec.items():
                if tag in self._tags:
                    index, is_edge = self._tags[tag], False
                    entity = self._vertices[index].entity
                elif tag in self._edge_tags:
                    index, is_edge = self._edge_tags[tag], True
                    edge = self._vertices[index].join
                    assert edge is not None
                    if edge.edge is None:
                        raise ValidationError(f"edge {tag!r} has no properties to order by")
                    entity = edge.edge
                else:
                    raise ValidationError(f"order_by names tag {tag!r}, which this query does not have")
                for item in [items] if isinstance(items, (str, Mapping)) else list(items):
                    entries = (
                        [(item, "asc")]
                        if isinstance(item, str)
                        else list(item.items())
                        if isinstance(item, Mapping)
                        else None
                    )
                    if entries is None:
                        raise ValidationError(f"order_by item must be a property or {{property: order}}, not {item!r}")
                    for path, how in entries:
                        direction = how.get("order", "asc") if isinstance(how, Mapping) else how
                        if direction not in ("asc", "desc"):
                            raise ValidationError(f"order must be 'asc' or 'desc', not {direction!r}")
                        split_path(entity, path)
                        order.append((index, is_edge, path, direction == "desc"))
        self._order = order
        return self

    def limit(self, limit: int | None) -> QueryBuilder:
        """At most ``limit`` rows (None: no limit)."""
        self._limit = _non_negative(limit, "limit")
        return self

    def offset(self, offset: int | None) -> QueryBuilder:
        """Skip the first ``offset`` rows (None: none)."""
        self._offset = _non_negative(offset, "offset")
        return self

    def distinct(self, value: bool = True) -> QueryBuilder:
        """Return each distinct result row once."""
        self._distinct = bool(value)
        return self

    # --- compiling -----------------------------------------------------------------------------------

    def _projections(self) -> list[tuple[str, str, str, Vertex, bool]]:
        """(result tag, result key, path, vertex, is_edge) for every projected value, in order."""
        out: list[tuple[str, str, str, Vertex, bool]] = []
        for v in self._vertices:
            for p in v.project:
                for path in list(v.entity.columns) if p == "*" else [p]:
                    out.append((v.tag, path, path, v, False))
            if v.edge_tag is not None:
                assert v.join is not None
                for p in v.edge_project:
                    assert v.join.edge is not None
                    for path in list(v.join.edge.columns) if p == "*" else [p]:
                        out.append((v.edge_tag, path, path, v, True))
        if not out and self._vertices:
            last = self._vertices[-1]
            out = [(last.tag, c, c, last, False) for c in last.entity.columns]
        return out

    def _compile(
        self, conn: db.Connection | None, *, mode: str = "rows"
    ) -> tuple[sql.Composed, dict[str, Any], list[tuple[str, str, str, Vertex, bool]]]:
        if not self._vertices:
            raise ValidationError("the query has no vertex: call append() first")
        params = Params()
        ctes: list[sql.Composable] = []
        where: list[sql.Composable] = []
        first = self._vertices[0]
        from_parts: list[sql.Composable] = [
            sql.SQL("{} AS {}").format(sql.Identifier(first.entity.table), sql.Identifier(first.alias))
        ]
        for v in self._vertices:
            own = [*type_filter(v, params)]
            compiled = FilterCompiler(v.entity, v.alias, params).compile(v.filters)
            if compiled is not None:
                own.append(compiled)
            if v.join is None:
                where.extend(own)
                continue
            assert v.other is not None
            other = self._vertices[v.other]
            edge_conds: list[sql.Composable] = []
            if v.join.edge is not None:
                ec = FilterCompiler(v.join.edge, v.edge_alias, params).compile(v.edge_filters)
                if ec is not None:
                    edge_conds.append(ec)
            kind = sql.SQL("LEFT JOIN" if v.outer else "JOIN")
            target = sql.SQL("{} AS {}").format(sql.Identifier(v.entity.table), sql.Identifier(v.alias))
            new_ref, ea = sql.Identifier(v.alias, "id"), sql.Identifier(v.edge_alias)
            if v.join.kind == "fk":
                on = [
                    sql.SQL("{} = {}").format(
                        sql.Identifier(v.alias, v.join.new_col), sql.Identifier(other.alias, v.join.other_col)
                    )
                ]
                from_parts.append(
                    sql.SQL("{} {} ON {}").format(kind, target, sql.SQL(" AND ").join(on + (own if v.outer else [])))
                )
            else:
                if v.join.kind == "edge":
                    table = v.join.edge.table if v.join.edge is not None else GROUP_MEMBERS_TABLE
                    edge_from: sql.Composable = sql.SQL("{} AS {}").format(sql.Identifier(table), ea)
                else:
                    relation = closure_relation(conn) if conn is not None and self._use_closure else None
                    if relation is None:
                        ctes.append(recursive_relation(v, other, params))
                        edge_from = ea
                    else:
                        edge_from = sql.SQL("{} AS {}").format(relation, ea)
                edge_on = [
                    sql.SQL("{} = {}").format(
                        sql.Identifier(v.edge_alias, v.join.other_col), sql.Identifier(other.alias, "id")
                    )
                ]
                from_parts.append(
                    sql.SQL("{} {} ON {}").format(
                        kind, edge_from, sql.SQL(" AND ").join(edge_on + (edge_conds if v.outer else []))
                    )
                )
                on = [sql.SQL("{} = {}").format(new_ref, sql.Identifier(v.edge_alias, v.join.new_col))]
                from_parts.append(
                    sql.SQL("{} {} ON {}").format(kind, target, sql.SQL(" AND ").join(on + (own if v.outer else [])))
                )
            if not v.outer:
                where.extend(own)
                where.extend(edge_conds)
        projections = self._projections()
        if mode == "count" and not self._distinct and self._limit is None and self._offset is None:
            select: sql.Composable = sql.SQL("count(*)")
        else:
            select = sql.SQL(", ").join(value_expr(v, path, is_edge, params) for _, _, path, v, is_edge in projections)
            if self._distinct:
                select = sql.SQL("DISTINCT {}").format(select)
        parts: list[sql.Composable] = []
        if ctes:
            parts.append(sql.SQL("WITH RECURSIVE {}").format(sql.SQL(", ").join(ctes)))
        parts.append(sql.SQL("SELECT {} FROM {}").format(select, sql.SQL(" ").join(from_parts)))
        if where:
            parts.append(sql.SQL("WHERE {}").format(sql.SQL(" AND ").join(where)))
        if mode != "count" or self._limit is not None or self._offset is not None:
            if self._order and mode != "count":
                terms = []
                for index, is_edge, path, desc in self._order:
                    terms.append(
                        sql.SQL("{} {}").format(
                            value_expr(self._vertices[index], path, is_edge, params),
                            sql.SQL("DESC" if desc else "ASC"),
                        )
                    )
                parts.append(sql.SQL("ORDER BY {}").format(sql.SQL(", ").join(terms)))
            if self._limit is not None:
                parts.append(sql.SQL("LIMIT {}").format(params.add(self._limit)))
            if self._offset is not None:
                parts.append(sql.SQL("OFFSET {}").format(params.add(self._offset)))
        statement = sql.SQL(" ").join(parts)
        if mode == "count" and (self._distinct or self._limit is not None or self._offset is not None):
            statement = sql.SQL("SELECT count(*) FROM ({}) AS q").format(statement)
        return sql.Composed([statement]), params.values, projections

    # --- running -------------------------------------------------------------------------------------

    def _require_context(self) -> StorageContext:
        if self._context is None:
            raise ValidationError("this QueryBuilder has no backend: create it with backend.query()")
        return self._context

    def _execute(self, conn: db.Connection, statement: sql.Composed, params: dict[str, Any]) -> psycopg.Cursor[Any]:
        # prepare=False: a custom plan per execution, so that parameters that index expressions depend on
        # (JSON paths, the node_type prefix) are folded into constants and the indexes stay usable.
        return db.execute_composed(conn, "query-builder", statement, params, prepare=False)

    def _rows(self, batch_size: int | None = None) -> Iterator[tuple[Any, ...]]:
        context = self._require_context()
        with context.connection() as conn:
            statement, params, _ = self._compile(conn)
            if batch_size is None:
                yield from self._fetch(conn, statement, params).fetchall()
                return
            with self._jit_off(conn):
                yield from db.stream(conn, "query-builder", statement, params, batch_size)

    def _fetch(self, conn: db.Connection, statement: sql.Composed, params: dict[str, Any]) -> psycopg.Cursor[Any]:
        """Run the statement, with JIT off when it walks ancestors/descendants (sql/query/jit_off.sql says why)."""
        if not self._walks():
            return self._execute(conn, statement, params)
        return session_settings.execute_without_jit(
            conn, "query-builder", lambda: self._execute(conn, statement, params)
        )

    def _walks(self) -> bool:
        return any(v.join is not None and v.join.kind == "closure" for v in self._vertices)

    @contextlib.contextmanager
    def _jit_off(self, conn: db.Connection) -> Iterator[None]:
        """JIT off around a statement that walks ancestors/descendants (sql/query/jit_off.sql says why); the
        previous setting is restored, since the connection may be a caller's. A failed transaction needs no
        restore: its rollback undoes the setting."""
        if not self._walks():
            yield
            return
        row = db.one(conn, "query/jit_off")
        assert row is not None
        try:
            yield
        finally:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                db.run(conn, "query/jit_restore", {"previous": row[0]})

    def _shape(self) -> list[tuple[str, str, str, Vertex, bool]]:
        return self._projections()

    def all(self, batch_size: int | None = None, flat: bool = False) -> list[Any]:
        """Every result row as a list of the projected values (``flat``: one flat list of all values)."""
        rows = [[_out(x) for x in row] for row in self._rows(batch_size)]
        if flat:
            return [x for row in rows for x in row]
        return rows

    def iterall(self, batch_size: int | None = DEFAULT_BATCH_SIZE) -> Iterator[list[Any]]:
        """Stream the result rows through a server-side cursor, ``batch_size`` rows per round trip."""
        for row in self._rows(_batch(batch_size)):
            yield [_out(x) for x in row]

    def iterdict(self, batch_size: int | None = DEFAULT_BATCH_SIZE) -> Iterator[ResultDict]:
        """Stream the result rows as ``{tag: {property: value}}`` dicts."""
        shape = self._shape()
        for row in self._rows(_batch(batch_size)):
            result: ResultDict = {}
            for (tag, key, _path, _v, _e), value in zip(shape, row, strict=True):
                result.setdefault(tag, {})[key] = _out(value)
            yield result

    def dict(self, batch_size: int | None = None) -> list[ResultDict]:
        """Every result row as ``{tag: {property: value}}``."""
        return list(self.iterdict(batch_size))

    def first(self, flat: bool = False) -> Any:
        """The first row (``flat``: its single value when one property is projected), or None."""
        saved = self._limit
        self._limit = 1
        try:
            rows = self.all()
        finally:
            self._limit = saved
        if not rows:
            return None
        return rows[0][0] if flat and len(rows[0]) == 1 else rows[0]

    def one(self) -> list[Any]:
        """The only row; NotExistent when there is none, MultipleObjectsError when there are more."""
        saved = self._limit
        self._limit = 2 if saved is None else min(saved, 2)
        try:
            rows = self.all()
        finally:
            self._limit = saved
        if not rows:
            raise NotExistent("the query returned no row")
        if len(rows) > 1:
            raise MultipleObjectsError("the query returned more than one row")
        row: list[Any] = rows[0]
        return row

    def count(self) -> int:
        """The number of result rows (respecting distinct, limit and offset)."""
        with self._require_context().connection() as conn:
            statement, params, _ = self._compile(conn, mode="count")
            row = self._fetch(conn, statement, params).fetchone()
        assert row is not None
        return int(row[0])

    def as_sql(self, inline: bool = False) -> str:
        """The statement as text: with ``%(pN)s`` placeholders, or (``inline``) with the values quoted in —
        for reading only; fastdos always sends the values as parameters."""
        if self._context is None:
            statement, params, _ = self._compile(None)
            return statement.as_string(None)
        with self._context.connection() as conn:
            statement, params, _ = self._compile(conn)
            if not inline:
                return statement.as_string(conn)
            return psycopg.ClientCursor(conn).mogrify(statement, params)

    def params(self) -> builtins.dict[str, Any]:
        """The parameters of :meth:`as_sql` (without a backend: as compiled without the closure table)."""
        return self._compile(None)[1]

    def __str__(self) -> str:
        return self.as_sql()


def _batch(batch_size: int | None) -> int:
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"batch_size must be a positive integer, not {batch_size!r}")
    return batch_size


def _non_negative(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{what} must be a non-negative integer or None, not {value!r}")
    return value


def _out(value: Any) -> Any:
    """aiida's QueryBuilder returns UUIDs as strings."""
    return str(value) if isinstance(value, uuidlib.UUID) else value


__all__ = ["NODE", "PATH", "QueryBuilder"]
