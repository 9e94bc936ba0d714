"""The import's working tables (temporary, ``ON COMMIT DROP``), their columns derived from the catalog.

Archive rows are staged with their archive ids and remapped, validated and inserted by set-wise statements
(``sql/importer/``). A staged table's columns are the catalog columns of the table it feeds (same names, so
the statements read ``s.dbnode_id`` as the target table does), plus ``archive_id`` and a few map columns.
Staged values are archive values before the checks, so a column takes its kind's base type (``text`` for
every character type): a value that breaks the target's type fails where it is inserted, not where it is
staged, and one that is never inserted (it exists already) does not fail at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from psycopg import sql

from .. import catalog, db
from ..catalog import BOOL, INT, UUID, Column


@dataclass(frozen=True)
class Staging:
    """One working table: its name and columns (``NOT NULL`` unless the catalog column is nullable)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def copy_types(self) -> tuple[str, ...]:
        """Binary COPY types of the columns (uuid and jsonb values travel pre-encoded as bytea)."""
        return tuple(c.copy_type for c in self.columns)

    def definition(self) -> sql.Composable:
        """The column list of ``CREATE TABLE``: identifiers composed, types from the catalog's constants."""
        parts = []
        for c in self.columns:
            constraint = "PRIMARY KEY" if c.name == self.primary_key else ("" if c.nullable else "NOT NULL")
            parts.append(sql.SQL(" ").join([sql.Identifier(c.name), sql.SQL(c.base_type), sql.SQL(constraint)]))
        return sql.SQL(", ").join(parts)


def _columns(table: str, *names: str) -> tuple[Column, ...]:
    t = catalog.table(table)
    return tuple(t.column(name) for name in names)


ARCHIVE_ID = Column("archive_id", INT)
IS_NEW = Column("is_new", BOOL)
_NODE_TYPE = catalog.table("db_dbnode").column("node_type")

# Archive node id -> target node id, with what link validation needs of the node (uuid, type).
NODES = Staging(
    "fastdos_import_nodes",
    (ARCHIVE_ID, *_columns("db_dbnode", "id", "uuid", "node_type"), IS_NEW),
    primary_key="archive_id",
)
# Archive extras of existing nodes, for merge_extras.
EXTRAS = Staging("fastdos_import_extras", _columns("db_dbnode", "id", "extras"))
# Archive links (archive node ids), then the links to add (target ids) with their endpoints' uuid and type.
LINKS = Staging("fastdos_import_links", (ARCHIVE_ID, *catalog.table("db_dblink").data_columns))
NEW_LINKS = Staging(
    "fastdos_import_new_links",
    (
        *LINKS.columns,
        Column("input_uuid", UUID),
        Column("output_uuid", UUID),
        replace(_NODE_TYPE, name="input_type"),
        replace(_NODE_TYPE, name="output_type"),
    ),
)
# Archive group id -> target group id.
GROUPS = Staging("fastdos_import_groups", (ARCHIVE_ID, *_columns("db_dbgroup", "id"), IS_NEW), primary_key="archive_id")
# Archive memberships (archive ids).
GROUP_NODES = Staging("fastdos_import_group_nodes", catalog.table("db_dbgroup_dbnodes").data_columns)
# Archive logs and comments (archive node ids; comment users already mapped).
LOGS = Staging("fastdos_import_logs", (ARCHIVE_ID, *catalog.table("db_dblog").data_columns))
COMMENTS = Staging("fastdos_import_comments", (ARCHIVE_ID, *catalog.table("db_dbcomment").data_columns))

ALL = (NODES, EXTRAS, LINKS, NEW_LINKS, GROUPS, GROUP_NODES, LOGS, COMMENTS)
# The working tables each archive table needs (NODES always: every other stage remaps through it).
FEEDS: dict[str, tuple[Staging, ...]] = {
    "db_dblink": (LINKS, NEW_LINKS),
    "db_dbgroup": (GROUPS, GROUP_NODES),
    "db_dblog": (LOGS,),
    "db_dbcomment": (COMMENTS,),
}


def _names(tables: Sequence[Staging]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(t.name) for t in tables)


def create(conn: db.Connection, tables: Sequence[Staging] = ALL, *, fresh: bool = False) -> None:
    """Create the working tables ``tables`` (in one round trip). Unless ``fresh`` (the import's own transaction,
    where none can exist), every working table is dropped first, so that a second import inside one outer
    transaction starts clean (``ON COMMIT DROP`` covers an import interrupted before :func:`drop`)."""
    if not fresh:
        drop(conn)
    creates: list[tuple[str, dict[str, str | sql.Composable]]] = [
        ("importer/create_staging", {"table": table.name, "columns": table.definition()}) for table in tables
    ]
    db.run_together(conn, "importer/create_staging", creates)


def drop(conn: db.Connection) -> None:
    """Drop every working table (those that exist)."""
    db.run(conn, "importer/drop_staging", identifiers={"tables": _names(ALL)})


def copy(conn: db.Connection, table: Staging, rows: Iterable[Sequence[Any]]) -> None:
    """Binary COPY of ``rows`` (values in the table's column order) into the working table."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    identifiers: dict[str, str | sql.Composable] = {"table": table.name, "columns": columns}
    with db.copy(conn, "ingest/copy_rows", identifiers=identifiers, types=table.copy_types) as cp:
        write = cp.write_row
        for row in rows:
            write(row)
