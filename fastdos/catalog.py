"""The one description of the psql_dos tables: columns, SQL types, nullability, JSON, client-side defaults.

``sql/schema/*.sql`` is the DDL that creates the tables; this module is what the Python code knows about
them, and every other description derives from it: the row validation and COPY types of bulk insert and
update (:mod:`fastdos.rows`), the allow-list of the query builder (:mod:`fastdos.query.entities`), the
SELECT lists and named rows of the archive reader (:mod:`fastdos.archive`) and the importer's staging tables
(:mod:`fastdos.importer.staging`). ``tests/test_catalog.py`` checks it against the ``information_schema`` of
a freshly initialised database and against the SQLAlchemy mirror in :mod:`fastdos.schema`.

Facts it encodes (docs/schema.md#conventions, docs/schema.md#client-side-defaults): every table has an
``integer`` primary key ``id`` filled from the sequence ``<table>_id_seq``, and no other column has a server
default. aiida-core fills the defaults on the client instead (a new uuid4, a timezone-aware now, ``''``,
``{}``, ``true``), and so does fastdos, from :attr:`Column.default`. Rows of ``bulk_insert``/``bulk_update``
name the ``metadata`` columns ``_metadata`` (aiida's model attribute), which is :attr:`Column.row_key`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class EntityTypes(Enum):
    """The entity types of ``bulk_insert``/``bulk_update`` (values as in ``aiida.orm.entities.EntityTypes``)."""

    AUTHINFO = "authinfo"
    COMMENT = "comment"
    COMPUTER = "computer"
    GROUP = "group"
    LOG = "log"
    NODE = "node"
    USER = "user"
    LINK = "link"
    GROUP_NODE = "group_node"


# Column kinds: how a value is checked in Python and which binary COPY dumper takes it.
INT, TEXT, UUID, TIME, JSON, BOOL = "int", "text", "uuid", "time", "json", "bool"
# The base SQL type of each kind (what casts of array parameters use: ``= ANY(%(p)s::uuid[])``).
BASE_TYPES = {INT: "integer", TEXT: "text", UUID: "uuid", TIME: "timestamptz", JSON: "jsonb", BOOL: "boolean"}
# Binary COPY type of each kind. uuid and jsonb values are pre-encoded to their binary wire form (16 raw bytes;
# version byte + JSON text), which the bytea dumper sends unchanged and the server reads with the column's
# own receive function (a binary COPY field carries no type).
COPY_TYPES = {INT: "int4", TEXT: "text", UUID: "bytea", TIME: "timestamptz", JSON: "bytea", BOOL: "bool"}


class _Required:
    """The default of a column that has none: a row must give it (missing under ``allow_defaults`` → NULL)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
# Markers of the defaults that are computed per row: a new uuid4, the call's now, a new empty dict.
UUID4, NOW, EMPTY_JSON = "uuid", "now", "{}"


@dataclass(frozen=True)
class Column:
    """One table column: name, kind, client-side default, row key, exact SQL type and nullability.

    ``sql_type`` is spelled as PostgreSQL's ``format_type`` spells it (``character varying(255)``,
    ``timestamp with time zone``); empty means the kind's base type. ``default`` is :data:`REQUIRED`, a
    constant, or one of the markers :data:`UUID4`, :data:`NOW`, :data:`EMPTY_JSON`.
    """

    name: str
    kind: str
    default: Any = REQUIRED
    key: str = ""
    sql_type: str = ""
    nullable: bool = False

    @property
    def row_key(self) -> str:
        """The key of this column in a row dict (``_metadata`` for the ``metadata`` columns)."""
        return self.key or self.name

    @property
    def type(self) -> str:
        """The exact SQL type (``format_type`` spelling)."""
        return self.sql_type or _FORMAT_TYPES[self.kind]

    @property
    def base_type(self) -> str:
        """The base SQL type of the kind (``text`` for every character type)."""
        return BASE_TYPES[self.kind]

    @property
    def copy_type(self) -> str:
        """The binary COPY type that the prepared values of this column are dumped with."""
        return COPY_TYPES[self.kind]

    @property
    def is_json(self) -> bool:
        """Whether the column is ``jsonb``."""
        return self.kind == JSON


# format_type spellings of the base types (information_schema spells them the same way).
_FORMAT_TYPES = {
    INT: "integer",
    TEXT: "text",
    UUID: "uuid",
    TIME: "timestamp with time zone",
    JSON: "jsonb",
    BOOL: "boolean",
}


def default_value(column: Column, now: datetime) -> Any:
    """The client-side default of ``column`` (a fresh one per call for uuid and ``{}``; None if required)."""
    default = column.default
    if default == UUID4:
        return uuid.uuid4()
    if default == NOW:
        return now
    if default == EMPTY_JSON:
        return {}
    if default is REQUIRED:
        return None
    return default


@dataclass(frozen=True)
class Table:
    """One psql_dos table: its columns in physical order (``id`` first) and what aiida does with it."""

    name: str
    columns: tuple[Column, ...]
    entity_type: EntityTypes | None = None
    onupdate: str | None = None  # the column aiida sets to now on every UPDATE (docs/schema.md#client-side-defaults)
    primary_key: str = "id"
    by_name: Mapping[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def sequence(self) -> str:
        """The sequence that fills the primary key (``serial``'s name)."""
        return f"{self.name}_{self.primary_key}_seq"

    @property
    def data_columns(self) -> tuple[Column, ...]:
        """Every column but the primary key, in table order (what a row of ``bulk_insert`` gives)."""
        return tuple(c for c in self.columns if c.name != self.primary_key)

    @property
    def json_columns(self) -> tuple[str, ...]:
        """Names of the ``jsonb`` columns."""
        return tuple(c.name for c in self.columns if c.is_json)

    def column(self, name: str) -> Column:
        """The column ``name``; KeyError naming the table otherwise."""
        try:
            return self.by_name[name]
        except KeyError:
            raise KeyError(f"table {self.name} has no column {name!r}") from None


def _varchar(n: int) -> str:
    return f"character varying({n})"


_ID = Column("id", INT)

# In foreign-key dependency order (a table after the tables it refers to).
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "db_dbuser",
            (
                _ID,
                Column("email", TEXT, sql_type=_varchar(254)),
                Column("first_name", TEXT, "", sql_type=_varchar(254)),
                Column("last_name", TEXT, "", sql_type=_varchar(254)),
                Column("institution", TEXT, "", sql_type=_varchar(254)),
            ),
            EntityTypes.USER,
        ),
        Table(
            "db_dbcomputer",
            (
                _ID,
                Column("uuid", UUID, UUID4),
                Column("label", TEXT, sql_type=_varchar(255)),
                Column("hostname", TEXT, "", sql_type=_varchar(255)),
                Column("description", TEXT, ""),
                Column("scheduler_type", TEXT, "", sql_type=_varchar(255)),
                Column("transport_type", TEXT, "", sql_type=_varchar(255)),
                Column("metadata", JSON, EMPTY_JSON, key="_metadata"),
            ),
            EntityTypes.COMPUTER,
        ),
        Table(
            "db_dbauthinfo",
            (
                _ID,
                Column("aiidauser_id", INT),
                Column("dbcomputer_id", INT),
                Column("metadata", JSON, EMPTY_JSON, key="_metadata"),
                Column("auth_params", JSON, EMPTY_JSON),
                Column("enabled", BOOL, True),
            ),
            EntityTypes.AUTHINFO,
        ),
        Table(
            "db_dbnode",
            (
                _ID,
                Column("uuid", UUID, UUID4),
                Column("node_type", TEXT, "", sql_type=_varchar(255)),
                Column("process_type", TEXT, None, sql_type=_varchar(255), nullable=True),
                Column("label", TEXT, "", sql_type=_varchar(255)),
                Column("description", TEXT, ""),
                Column("ctime", TIME, NOW),
                Column("mtime", TIME, NOW),
                Column("attributes", JSON, EMPTY_JSON, nullable=True),
                Column("extras", JSON, EMPTY_JSON, nullable=True),
                Column("repository_metadata", JSON, EMPTY_JSON),
                Column("dbcomputer_id", INT, None, nullable=True),
                Column("user_id", INT),
            ),
            EntityTypes.NODE,
            onupdate="mtime",
        ),
        Table(
            "db_dblink",
            (
                _ID,
                Column("input_id", INT),
                Column("output_id", INT),
                Column("label", TEXT, sql_type=_varchar(255)),
                Column("type", TEXT, sql_type=_varchar(255)),
            ),
            EntityTypes.LINK,
        ),
        Table(
            "db_dbgroup",
            (
                _ID,
                Column("uuid", UUID, UUID4),
                Column("label", TEXT, sql_type=_varchar(255)),
                Column("type_string", TEXT, "", sql_type=_varchar(255)),
                Column("time", TIME, NOW),
                Column("description", TEXT, ""),
                Column("extras", JSON, EMPTY_JSON),
                Column("user_id", INT),
            ),
            EntityTypes.GROUP,
        ),
        Table(
            "db_dbgroup_dbnodes",
            (_ID, Column("dbnode_id", INT), Column("dbgroup_id", INT)),
            EntityTypes.GROUP_NODE,
        ),
        Table(
            "db_dbcomment",
            (
                _ID,
                Column("uuid", UUID, UUID4),
                Column("dbnode_id", INT),
                Column("ctime", TIME, NOW),
                Column("mtime", TIME, NOW),
                Column("user_id", INT),
                Column("content", TEXT, ""),
            ),
            EntityTypes.COMMENT,
            onupdate="mtime",
        ),
        Table(
            "db_dblog",
            (
                _ID,
                Column("uuid", UUID, UUID4),
                Column("time", TIME, NOW),
                Column("loggername", TEXT, sql_type=_varchar(255)),
                Column("levelname", TEXT, sql_type=_varchar(50)),
                Column("dbnode_id", INT),
                Column("message", TEXT, ""),
                Column("metadata", JSON, EMPTY_JSON, key="_metadata"),
            ),
            EntityTypes.LOG,
        ),
        Table(
            "db_dbsetting",
            (
                _ID,
                Column("key", TEXT, sql_type=_varchar(1024)),
                Column("val", JSON, EMPTY_JSON, nullable=True),
                Column("description", TEXT, ""),
                Column("time", TIME, NOW),
            ),
            onupdate="time",
        ),
    )
}

# The table of each entity type.
ENTITY_TABLES: dict[EntityTypes, Table] = {t.entity_type: t for t in TABLES.values() if t.entity_type is not None}


def table(name: str) -> Table:
    """The table ``name``; KeyError naming the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; the psql_dos tables are {', '.join(TABLES)}") from None
