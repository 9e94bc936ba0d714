"""The table catalog (fastdos.catalog) against a fresh database, fastdos.schema's MetaData and an archive.

Each comparison is a function returning the differences as readable lines, so a mismatch names the table and
column; the mutation tests show that a missing column, another type or another nullability is reported.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from fastdos import catalog, rows, schema
from fastdos.archive import QUERIES, READS, ArchiveReader
from fastdos.migrator import create_engine
from fastdos.profile import Profile
from fastdos.query import entities
from tests.conftest import PgServer

SAMPLE = Path(__file__).parent / "data" / "archives" / "sample.aiida"

# (name, SQL type in format_type spelling, nullable, server default)
ColumnFacts = tuple[str, str, bool, str | None]
Description = dict[str, list[ColumnFacts]]


def catalog_description(tables: Mapping[str, catalog.Table]) -> Description:
    """What the catalog says: every column; only ``id`` has a server default (its sequence)."""
    return {
        t.name: [
            (c.name, c.type, c.nullable, f"nextval('{t.sequence}'::regclass)" if c.name == t.primary_key else None)
            for c in t.columns
        ]
        for t in tables.values()
    }


def database_description(conn: psycopg.Connection[Any]) -> Description:
    """What ``information_schema.columns`` says of the public tables (alembic's version table left out)."""
    out: Description = {}
    for table, name, data_type, length, nullable, default in conn.execute(
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'alembic_version'"
        " ORDER BY table_name, ordinal_position"
    ):
        sql_type = f"{data_type}({length})" if length is not None else str(data_type)
        out.setdefault(str(table), []).append((str(name), sql_type, nullable == "YES", default))
    return out


def diff(expected: Description, actual: Description, what: str) -> list[str]:
    """Readable differences: tables or columns missing on either side, then column facts that differ."""
    lines = [f"table {t} is in the catalog but not in {what}" for t in sorted(set(expected) - set(actual))]
    lines += [f"table {t} is in {what} but not in the catalog" for t in sorted(set(actual) - set(expected))]
    for table in sorted(set(expected) & set(actual)):
        want = {c[0]: c for c in expected[table]}
        got = {c[0]: c for c in actual[table]}
        lines += [f"{table}.{c}: in the catalog, not in {what}" for c in want if c not in got]
        lines += [f"{table}.{c}: in {what}, not in the catalog" for c in got if c not in want]
        for name in [c for c in want if c in got]:
            for label, a, b in zip(("type", "nullable", "server default"), want[name][1:], got[name][1:], strict=True):
                if a != b:
                    lines.append(f"{table}.{name}: {label} {a!r} in the catalog, {b!r} in {what}")
        common_want = [c for c in want if c in got]
        common_got = [c for c in got if c in want]
        if common_want != common_got:
            lines.append(f"{table}: column order {common_want} in the catalog, {common_got} in {what}")
    return lines


def without_column(table: str, column: str) -> dict[str, catalog.Table]:
    """The catalog with one column removed (a mutated copy; the module's tables are untouched)."""
    t = catalog.TABLES[table]
    changed = dataclasses.replace(t, columns=tuple(c for c in t.columns if c.name != column))
    return {**catalog.TABLES, table: changed}


@pytest.fixture
def fresh(pg_server: PgServer, db_name: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to a freshly initialised database (a clone of the migrated template)."""
    with psycopg.connect(pg_server.conninfo(db_name)) as conn:
        yield conn
        conn.rollback()


# --- the catalog against a fresh database ---------------------------------------------------------------


def test_catalog_equals_information_schema(fresh: psycopg.Connection[Any]) -> None:
    assert diff(catalog_description(catalog.TABLES), database_description(fresh), "the database") == []


def test_primary_keys_and_sequences(fresh: psycopg.Connection[Any]) -> None:
    keys = dict(
        fresh.execute(
            "SELECT tc.table_name, string_agg(k.column_name, ',' ORDER BY k.ordinal_position)"
            " FROM information_schema.table_constraints AS tc"
            " JOIN information_schema.key_column_usage AS k USING (constraint_schema, constraint_name)"
            " WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY'"
            " AND tc.table_name <> 'alembic_version' GROUP BY tc.table_name"
        ).fetchall()
    )
    assert keys == {t.name: t.primary_key for t in catalog.TABLES.values()}
    for t in catalog.TABLES.values():
        sequence = fresh.execute("SELECT pg_get_serial_sequence(%s, %s)", (t.name, t.primary_key)).fetchone()
        assert sequence == (f"public.{t.sequence}",), t.name


def test_a_missing_column_is_reported(fresh: psycopg.Connection[Any]) -> None:
    lines = diff(catalog_description(without_column("db_dbnode", "extras")), database_description(fresh), "the db")
    assert lines == ["db_dbnode.extras: in the db, not in the catalog"]


def test_database_changes_are_reported(fresh: psycopg.Connection[Any]) -> None:
    """Changes of the database (inside a transaction that the fixture rolls back) show up one by one."""
    fresh.execute("ALTER TABLE db_dblog DROP COLUMN message")
    fresh.execute("ALTER TABLE db_dbnode ALTER COLUMN label DROP NOT NULL")
    fresh.execute("ALTER TABLE db_dbuser ALTER COLUMN email TYPE character varying(100)")
    fresh.execute("ALTER TABLE db_dbgroup ALTER COLUMN description SET DEFAULT ''")
    fresh.execute("ALTER TABLE db_dbcomment ADD COLUMN flag boolean")
    assert diff(catalog_description(catalog.TABLES), database_description(fresh), "the db") == [
        "db_dbcomment.flag: in the db, not in the catalog",
        "db_dbgroup.description: server default None in the catalog, \"''::text\" in the db",
        "db_dblog.message: in the catalog, not in the db",
        "db_dbnode.label: nullable False in the catalog, True in the db",
        "db_dbuser.email: type 'character varying(254)' in the catalog, 'character varying(100)' in the db",
    ]


# --- the catalog against fastdos.schema (alembic's MetaData) ----------------------------------------------


def sa_type(column: sqlalchemy.Column[Any]) -> str:
    """A SQLAlchemy column type in PostgreSQL's format_type spelling."""
    kind = column.type
    if isinstance(kind, sqlalchemy.DateTime):
        return "timestamp with time zone" if kind.timezone else "timestamp without time zone"
    if isinstance(kind, sqlalchemy.String) and not isinstance(kind, sqlalchemy.Text) and kind.length is not None:
        return f"character varying({kind.length})"
    return str(kind.compile(dialect=postgresql.dialect())).lower()


def metadata_description(metadata: sqlalchemy.MetaData) -> Description:
    """The columns of a MetaData; the primary key's 'server default' is its table's sequence (serial)."""
    return {
        t.name: [
            (
                c.name,
                sa_type(c),
                bool(c.nullable),
                f"nextval('{t.name}_{c.name}_seq'::regclass)" if c.primary_key else None,
            )
            for c in t.columns
        ]
        for t in metadata.sorted_tables
    }


def test_catalog_equals_schema_metadata() -> None:
    assert diff(catalog_description(catalog.TABLES), metadata_description(schema.METADATA), "schema.py") == []


def test_a_schema_metadata_mismatch_is_reported() -> None:
    metadata = sqlalchemy.MetaData()
    for t in schema.METADATA.sorted_tables:
        columns = [
            sqlalchemy.Column(
                c.name,
                sqlalchemy.Text if (t.name, c.name) == ("db_dblink", "label") else c.type,
                primary_key=c.primary_key,
                nullable=c.nullable,
            )
            for c in t.columns
            if (t.name, c.name) != ("db_dbgroup", "extras")
        ]
        sqlalchemy.Table(t.name, metadata, *columns)
    assert diff(catalog_description(catalog.TABLES), metadata_description(metadata), "schema.py") == [
        "db_dbgroup.extras: in the catalog, not in schema.py",
        "db_dblink.label: type 'character varying(255)' in the catalog, 'text' in schema.py",
    ]


def test_schema_metadata_equals_a_fresh_database(profile: Profile) -> None:
    """alembic's own comparison (columns, types, indexes, constraints) finds nothing; a dropped index it finds."""
    engine = create_engine(profile)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, schema.METADATA) == []
        connection.execute(sqlalchemy.text("DROP INDEX ix_pat_db_dbnode_label"))
        differences = compare_metadata(context, schema.METADATA)
        assert [(d[0], d[1].name) for d in differences] == [("add_index", "ix_pat_db_dbnode_label")]
        connection.rollback()


# --- the catalog against the archive format and the modules that derive from it ---------------------------


def test_archive_tables_have_the_catalog_columns(tmp_path: Path) -> None:
    """The archive's SQLite tables have the psql_dos columns in catalog order (what the reader selects)."""
    with zipfile.ZipFile(SAMPLE) as archive:
        archive.extract("db.sqlite3", tmp_path)
    with sqlite3.connect(tmp_path / "db.sqlite3") as lite:
        for t in catalog.TABLES.values():
            found = [str(r[1]) for r in lite.execute("SELECT * FROM pragma_table_info(?)", (t.name,))]
            assert found == [c.name for c in t.columns], t.name
    with ArchiveReader(SAMPLE) as reader:
        node = next(reader.rows("nodes"))
        assert node._fields == tuple(c.name for c in catalog.table("db_dbnode").columns)
        assert node.id == node[0] and node.user_id == node[-1]
    assert set(READS.values()) | {"db_dbsetting"} == set(catalog.TABLES)
    assert all(name in QUERIES for name in READS)


def test_derived_descriptions() -> None:
    """rows and query.entities carry the catalog's columns (id left out of rows, kept by queries)."""
    for entity_type, entity in rows.ENTITIES.items():
        table = catalog.ENTITY_TABLES[entity_type]
        assert entity.table == table.name and entity.columns == table.data_columns
    for query_entity in [*entities.ENTITIES.values(), entities.LINK]:
        table = catalog.table(query_entity.table)
        assert query_entity.columns == {c.name: c.base_type for c in table.columns}
        assert all(real in query_entity.columns for real in query_entity.aliases.values())


def test_client_side_defaults_are_consistent() -> None:
    """A NOT NULL column never defaults to None; JSON defaults are fresh dicts; row keys are unique."""
    for t in catalog.TABLES.values():
        for c in t.data_columns:
            if not c.nullable:
                assert c.default is catalog.REQUIRED or c.default is not None, f"{t.name}.{c.name}"
            if c.is_json and c.default is not catalog.REQUIRED:
                assert c.default == catalog.EMPTY_JSON, f"{t.name}.{c.name}"
        assert len({c.row_key for c in t.columns}) == len(t.columns), t.name
    node = catalog.table("db_dbnode")
    first, second = (catalog.default_value(node.column("attributes"), now=None) for _ in range(2))  # type: ignore[arg-type]
    assert first == second == {} and first is not second
