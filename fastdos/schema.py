"""SQLAlchemy Core ``MetaData`` mirroring the psql_dos tables — for alembic only.

The schema itself is created from ``sql/schema/*.sql``; this mirror gives alembic's ``revision
--autogenerate`` and ``compare_metadata`` something to compare with, using aiida-core's naming convention
for constraints and indexes (docs/schema.md#conventions). The data path never touches SQLAlchemy; what the Python
code knows of the columns is :mod:`fastdos.catalog`, and ``tests/test_catalog.py`` checks that the two and
a freshly initialised database agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

NAMING_CONVENTION = {
    "pk": "%(table_name)s_pkey",
    "ix": "ix_%(table_name)s_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
}

METADATA = MetaData(naming_convention=NAMING_CONVENTION)


def _fk(target: str, ondelete: str | None = None) -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete, deferrable=True, initially="DEFERRED")


def _pattern_index(table: str, column: str) -> Index:
    return Index(
        f"ix_pat_{table}_{column}", column, postgresql_using="btree", postgresql_ops={column: "varchar_pattern_ops"}
    )


TZ = DateTime(timezone=True)

DbUser = Table(
    "db_dbuser", METADATA,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("first_name", String(254), nullable=False),
    Column("last_name", String(254), nullable=False),
    Column("institution", String(254), nullable=False),
    _pattern_index("db_dbuser", "email"),
)

DbComputer = Table(
    "db_dbcomputer", METADATA,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID(as_uuid=False), nullable=False, unique=True),
    Column("label", String(255), nullable=False, unique=True),
    Column("hostname", String(255), nullable=False),
    Column("description", Text, nullable=False),
    Column("scheduler_type", String(255), nullable=False),
    Column("transport_type", String(255), nullable=False),
    Column("metadata", JSONB, nullable=False),
    _pattern_index("db_dbcomputer", "label"),
)

DbAuthInfo = Table(
    "db_dbauthinfo", METADATA,
    Column("id", Integer, primary_key=True),
    Column("aiidauser_id", Integer, _fk("db_dbuser.id", "CASCADE"), nullable=False, index=True),
    Column("dbcomputer_id", Integer, _fk("db_dbcomputer.id", "CASCADE"), nullable=False, index=True),
    Column("metadata", JSONB, nullable=False),
    Column("auth_params", JSONB, nullable=False),
    Column("enabled", Boolean, nullable=False),
    UniqueConstraint("aiidauser_id", "dbcomputer_id"),
)

DbGroup = Table(
    "db_dbgroup", METADATA,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID(as_uuid=False), nullable=False, unique=True),
    Column("label", String(255), nullable=False, index=True),
    Column("type_string", String(255), nullable=False, index=True),
    Column("time", TZ, nullable=False),
    Column("description", Text, nullable=False),
    Column("extras", JSONB, nullable=False),
    Column("user_id", Integer, _fk("db_dbuser.id", "CASCADE"), nullable=False, index=True),
    UniqueConstraint("label", "type_string"),
    _pattern_index("db_dbgroup", "label"),
    _pattern_index("db_dbgroup", "type_string"),
)

DbNode = Table(
    "db_dbnode", METADATA,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID(as_uuid=False), nullable=False, unique=True),
    Column("node_type", String(255), nullable=False, index=True),
    Column("process_type", String(255), nullable=True, index=True),
    Column("label", String(255), nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("ctime", TZ, nullable=False, index=True),
    Column("mtime", TZ, nullable=False, index=True),
    Column("attributes", JSONB, nullable=True),
    Column("extras", JSONB, nullable=True),
    Column("repository_metadata", JSONB, nullable=False),
    Column("dbcomputer_id", Integer, _fk("db_dbcomputer.id", "RESTRICT"), nullable=True, index=True),
    Column("user_id", Integer, _fk("db_dbuser.id", "RESTRICT"), nullable=False, index=True),
    _pattern_index("db_dbnode", "label"),
    _pattern_index("db_dbnode", "node_type"),
    _pattern_index("db_dbnode", "process_type"),
)

DbComment = Table(
    "db_dbcomment", METADATA,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID(as_uuid=False), nullable=False, unique=True),
    Column("dbnode_id", Integer, _fk("db_dbnode.id", "CASCADE"), nullable=False, index=True),
    Column("ctime", TZ, nullable=False),
    Column("mtime", TZ, nullable=False),
    Column("user_id", Integer, _fk("db_dbuser.id", "CASCADE"), nullable=False, index=True),
    Column("content", Text, nullable=False),
)

DbGroupNode = Table(
    "db_dbgroup_dbnodes", METADATA,
    Column("id", Integer, primary_key=True),
    Column("dbnode_id", Integer, _fk("db_dbnode.id"), nullable=False, index=True),
    Column("dbgroup_id", Integer, _fk("db_dbgroup.id"), nullable=False, index=True),
    UniqueConstraint("dbgroup_id", "dbnode_id"),
)

DbLink = Table(
    "db_dblink", METADATA,
    Column("id", Integer, primary_key=True),
    Column("input_id", Integer, _fk("db_dbnode.id"), nullable=False, index=True),
    Column("output_id", Integer, _fk("db_dbnode.id", "CASCADE"), nullable=False, index=True),
    Column("label", String(255), nullable=False, index=True),
    Column("type", String(255), nullable=False, index=True),
    _pattern_index("db_dblink", "label"),
    _pattern_index("db_dblink", "type"),
)

DbLog = Table(
    "db_dblog", METADATA,
    Column("id", Integer, primary_key=True),
    Column("uuid", UUID(as_uuid=False), nullable=False, unique=True),
    Column("time", TZ, nullable=False),
    Column("loggername", String(255), nullable=False, index=True),
    Column("levelname", String(50), nullable=False, index=True),
    Column("dbnode_id", Integer, _fk("db_dbnode.id", "CASCADE"), nullable=False, index=True),
    Column("message", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    _pattern_index("db_dblog", "loggername"),
    _pattern_index("db_dblog", "levelname"),
)

DbSetting = Table(
    "db_dbsetting", METADATA,
    Column("id", Integer, primary_key=True),
    Column("key", String(1024), nullable=False, unique=True),
    Column("val", JSONB, nullable=True),
    Column("description", Text, nullable=False),
    Column("time", TZ, nullable=False),
    _pattern_index("db_dbsetting", "key"),
)

# Tables in creation (foreign-key dependency) order.
TABLE_NAMES = tuple(table.name for table in METADATA.sorted_tables)
