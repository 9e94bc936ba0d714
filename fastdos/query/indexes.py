"""Expression indexes on JSON keys of nodes: ``add_index``, ``list_indexes``, ``drop_index``, and the opt-in
process indexes AiiDA's engine queries (``process_state``, ``process_label``, ``exit_status``, ``sealed``).

An index is a btree on ``(attributes #> '{a,b}')`` — the jsonb value, exactly the expression the query
builder emits for ``attributes.a.b`` — so one index serves ``==``, ``in`` and the ordering comparisons of
every JSON type (:mod:`fastdos.query.filters`). ``where='process.'`` makes it partial on
``node_type LIKE 'process.%'``; the builder repeats that exact predicate for ``process.*`` entity types, so
the planner can prove the partial index applies.

DDL takes no bind parameters: the keys and the prefix are validated against a narrow character set before
they are composed (as quoted literals) into the statement. Index names are derived deterministically from the
path (and the prefix), so adding the same index twice is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from .. import db, queries
from ..context import context_of
from ..errors import NotExistent, ValidationError
from .entities import JSON, NODE

if TYPE_CHECKING:
    from ..context import HasContext, StorageContext

LOGGER = logging.getLogger("fastdos.query")

PREFIX = "fastdos_ix_"
_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,63}$")
_TYPE_PREFIX = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*\.$")
_NAME = re.compile(r"^fastdos_ix_[a-z0-9_]{1,52}$")

# The keys aiida-core's engine and `verdi process list` filter on (aiida-core#2770), on process nodes only.
PROCESS_INDEX_KEYS = ("process_state", "process_label", "exit_status", "sealed")
PROCESS_PREFIX = "process."
PROCESS_INDEX_BRANCH = "process_indexes"


@dataclass(frozen=True)
class IndexSpec:
    """A validated expression index: its name and the pieces of its DDL."""

    name: str
    column: str
    keys: tuple[str, ...]
    where: str | None

    def pieces(self) -> dict[str, sql.Composable]:
        """The ``{name}``, ``{expression}``, ``{predicate}`` fillers of ``sql/query/create_index*.sql``."""
        array = "{" + ",".join(self.keys) + "}"
        expression = sql.SQL("({} #> {}::text[])").format(sql.Identifier(self.column), sql.Literal(array))
        predicate: sql.Composable = sql.SQL("")
        if self.where is not None:
            predicate = sql.SQL("WHERE node_type LIKE {}").format(sql.Literal(self.where + "%"))
        return {"name": sql.Identifier(self.name), "expression": expression, "predicate": predicate}


def index_spec(path: str, where: str | None = None) -> IndexSpec:
    """Validate ``path`` (``'attributes.process_state'``) and ``where`` (a node_type prefix such as
    ``'process.'``) and derive the index name; ValidationError on anything else."""
    if not isinstance(path, str):
        raise ValidationError(f"index path must be a string like 'attributes.process_state', not {path!r}")
    column, *keys = path.split(".")
    if column not in NODE.columns or NODE.columns[column] != JSON:
        raise ValidationError(f"index path {path!r} must start with attributes or extras")
    if not keys or not all(_KEY.match(k) for k in keys):
        raise ValidationError(
            f"index path {path!r}: give at least one key, each of letters, digits, '_' or '-' (at most 63)"
        )
    if where is not None and (not isinstance(where, str) or not _TYPE_PREFIX.match(where)):
        raise ValidationError(f"where must be a node_type prefix ending in '.' such as 'process.', not {where!r}")
    raw = PREFIX + "_".join([column, *keys])
    if where is not None:
        raw += "_" + where.rstrip(".").replace(".", "_")
    base = raw.lower().replace("-", "_")
    # Lower-casing and '-' -> '_' could make two paths collide, and names are capped (63 bytes): such names
    # carry a hash of the exact path and prefix.
    if base != raw or len(base) > 52:
        base = base[:43] + "_" + hashlib.sha1(f"{path}|{where}".encode()).hexdigest()[:8]
    return IndexSpec(base, column, tuple(keys), where)


def add_index(storage: StorageContext | HasContext, path: str, *, where: str | None = None) -> str:
    """Create the expression index for ``path`` (optionally partial on ``node_type LIKE '<where>%'``).

    Uses ``CREATE INDEX CONCURRENTLY`` (writers are not blocked) unless called inside a transaction.
    Idempotent. Returns the index name.
    """
    spec = index_spec(path, where)
    context = context_of(storage)
    concurrent = not context.in_transaction
    with context.connection() as conn:
        if concurrent:
            # A CONCURRENTLY build that failed leaves an INVALID index under the name: drop it and retry once.
            if _invalid(conn, spec.name):
                ddl(conn, "query/drop_index_concurrently", name=sql.Identifier(spec.name))
            ddl(conn, "query/create_index_concurrently", **spec.pieces())
        else:
            ddl(conn, "query/create_index", **spec.pieces())
    return spec.name


def ddl(conn: db.Connection, query: str, **identifiers: sql.Composable) -> None:
    """Run a DDL file of ``sql/query`` without parameters (no placeholder parsing: its ``LIKE 'process.%'``
    reaches the server unchanged)."""
    db.execute_composed(conn, query, queries.get(query).compose(**identifiers))


def _invalid(conn: db.Connection, name: str) -> bool:
    return any(row[0] == name and not row[3] for row in db.all_rows(conn, "query/list_indexes"))


@dataclass(frozen=True)
class IndexInfo:
    """One fastdos expression index."""

    name: str
    table: str
    definition: str
    valid: bool
    size_bytes: int
    scans: int


def list_indexes(storage: StorageContext | HasContext) -> list[IndexInfo]:
    """The expression indexes fastdos created, with size and the number of scans since statistics reset."""
    with context_of(storage).connection() as conn:
        rows = db.all_rows(conn, "query/list_indexes")
    return [IndexInfo(str(n), str(t), str(d), bool(v), int(s), int(c)) for n, t, d, v, s, c in rows]


def drop_index(storage: StorageContext | HasContext, name: str) -> None:
    """Drop a fastdos expression index by name (CONCURRENTLY outside a transaction).

    :raises ValidationError: not a fastdos index name. :raises NotExistent: no such index.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(f"{name!r} is not the name of a fastdos index (they start with {PREFIX!r})")
    context = context_of(storage)
    with context.connection() as conn:
        if not any(row[0] == name for row in db.all_rows(conn, "query/list_indexes")):
            raise NotExistent(f"there is no index {name!r}")
        query = "query/drop_index" if context.in_transaction else "query/drop_index_concurrently"
        ddl(conn, query, name=sql.Identifier(name))


def process_index_specs() -> list[IndexSpec]:
    """The indexes of the opt-in process-index migration."""
    return [index_spec(f"attributes.{key}", PROCESS_PREFIX) for key in PROCESS_INDEX_KEYS]


def install_process_indexes(storage: StorageContext | HasContext) -> None:
    """Install the process indexes by the fastdos alembic revision (branch ``process_indexes``) so that the
    version table ``fastdos_alembic_version`` records them."""
    _alembic(storage, "upgrade", f"{PROCESS_INDEX_BRANCH}@head")


def uninstall_process_indexes(storage: StorageContext | HasContext) -> None:
    """Drop the process indexes (downgrade of the ``process_indexes`` branch)."""
    _alembic(storage, "downgrade", f"{PROCESS_INDEX_BRANCH}@base")


def _alembic(storage: StorageContext | HasContext, command_name: str, target: str) -> None:
    from ..migrator import run_fastdos_revisions

    run_fastdos_revisions(context_of(storage), command_name, target)
