"""Tests of the catalog helper (tests/catalog.py) against a real PostgreSQL server.

The reference dump is loaded into throwaway databases; mutations run inside transactions that are always
rolled back (PostgreSQL DDL is transactional), so one loaded copy serves every mutation test.

An unreachable server is a hard failure, never a skip: a schema check that silently does not run is worse
than none.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.catalog import describe_catalog, diff_catalogs, legacy_index_name, load_reference_catalog
from tests.conftest import PgServer

NewDatabase = Callable[[], "psycopg.Connection[Any]"]


def _reference_dump() -> Path:
    """Locate the reference dump: env override, then the copy inside the repo (tests/data)."""
    candidates = [
        os.environ.get("FASTDOS_REFERENCE_DUMP"),
        Path(__file__).parent / "data" / "aiida_main_0002.pg_dump.sql",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail(f"reference dump not found; tried {candidates}", pytrace=False)


DB_TABLES = {
    "db_dbauthinfo",
    "db_dbcomment",
    "db_dbcomputer",
    "db_dbgroup",
    "db_dbgroup_dbnodes",
    "db_dblink",
    "db_dblog",
    "db_dbnode",
    "db_dbsetting",
    "db_dbuser",
}

# docs/schema.md#foreign-keys: (table, FK name) -> (column, referenced table, ON DELETE).
EXPECTED_FKS = {
    ("db_dbauthinfo", "fk_db_dbauthinfo_aiidauser_id_db_dbuser"): ("aiidauser_id", "db_dbuser", "CASCADE"),
    ("db_dbauthinfo", "fk_db_dbauthinfo_dbcomputer_id_db_dbcomputer"): (
        "dbcomputer_id",
        "db_dbcomputer",
        "CASCADE",
    ),
    ("db_dbcomment", "fk_db_dbcomment_dbnode_id_db_dbnode"): ("dbnode_id", "db_dbnode", "CASCADE"),
    ("db_dbcomment", "fk_db_dbcomment_user_id_db_dbuser"): ("user_id", "db_dbuser", "CASCADE"),
    ("db_dbgroup", "fk_db_dbgroup_user_id_db_dbuser"): ("user_id", "db_dbuser", "CASCADE"),
    ("db_dbgroup_dbnodes", "fk_db_dbgroup_dbnodes_dbgroup_id_db_dbgroup"): (
        "dbgroup_id",
        "db_dbgroup",
        "NO ACTION",
    ),
    ("db_dbgroup_dbnodes", "fk_db_dbgroup_dbnodes_dbnode_id_db_dbnode"): (
        "dbnode_id",
        "db_dbnode",
        "NO ACTION",
    ),
    ("db_dblink", "fk_db_dblink_input_id_db_dbnode"): ("input_id", "db_dbnode", "NO ACTION"),
    ("db_dblink", "fk_db_dblink_output_id_db_dbnode"): ("output_id", "db_dbnode", "CASCADE"),
    ("db_dblog", "fk_db_dblog_dbnode_id_db_dbnode"): ("dbnode_id", "db_dbnode", "CASCADE"),
    ("db_dbnode", "fk_db_dbnode_dbcomputer_id_db_dbcomputer"): ("dbcomputer_id", "db_dbcomputer", "RESTRICT"),
    ("db_dbnode", "fk_db_dbnode_user_id_db_dbuser"): ("user_id", "db_dbuser", "RESTRICT"),
}


# ----------------------------------------------------------------------------------------------------------
# fixtures: throwaway databases
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_conn(pg_server: PgServer) -> Iterator[psycopg.Connection[Any]]:
    """Autocommit connection to the maintenance database of the suite's server (external or embedded)."""
    with pg_server.admin() as conn:
        yield conn


@pytest.fixture(scope="module")
def new_database(pg_server: PgServer, admin_conn: psycopg.Connection[Any]) -> Iterator[NewDatabase]:
    """Factory of empty databases named ``fastdos_cat_<hex>``, all dropped at module teardown."""
    created: list[str] = []
    opened: list[psycopg.Connection[Any]] = []

    def make() -> psycopg.Connection[Any]:
        name = f"fastdos_cat_{secrets.token_hex(6)}"
        admin_conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        conn = psycopg.connect(pg_server.conninfo(name), autocommit=True)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        conn.close()
    for name in created:
        admin_conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def reference(new_database: NewDatabase) -> dict[str, Any]:
    """Description of a database loaded from the reference dump (never mutated)."""
    conn = new_database()
    load_reference_catalog(conn, _reference_dump())
    return describe_catalog(conn)


@pytest.fixture(scope="module")
def copy_conn(new_database: NewDatabase) -> psycopg.Connection[Any]:
    """A second load of the reference dump; tests mutate it only inside rolled-back transactions."""
    conn = new_database()
    load_reference_catalog(conn, _reference_dump())
    return conn


def _mutated(conn: psycopg.Connection[Any], *statements: sql.Composed) -> dict[str, Any]:
    """Describe ``conn`` with ``statements`` applied, then roll them back."""
    with conn.transaction(force_rollback=True):
        for statement in statements:
            conn.execute(statement)
        return describe_catalog(conn)


# ----------------------------------------------------------------------------------------------------------
# the reference catalog as described
# ----------------------------------------------------------------------------------------------------------


def test_tables(reference: dict[str, Any]) -> None:
    assert set(reference["tables"]) == DB_TABLES | {"alembic_version"}
    assert all(t["persistence"] == "permanent" and t["options"] == [] for t in reference["tables"].values())
    assert reference["views"] == []
    assert reference["triggers"] == []
    assert reference["functions"] == []


def test_columns(reference: dict[str, Any]) -> None:
    node = reference["tables"]["db_dbnode"]["columns"]
    # Physical order matters (docs/schema.md#tables), and so does nullability of the two jsonb columns.
    assert [c["name"] for c in node] == [
        "id", "uuid", "node_type", "process_type", "label", "description", "ctime", "mtime",
        "attributes", "extras", "repository_metadata", "dbcomputer_id", "user_id",
    ]  # fmt: skip
    by_name = {c["name"]: c for c in node}
    assert by_name["attributes"]["nullable"] is True
    assert by_name["repository_metadata"]["nullable"] is False
    assert by_name["ctime"]["type"] == "timestamp with time zone"
    assert by_name["node_type"]["type"] == "character varying(255)"
    assert by_name["uuid"]["type"] == "uuid"
    assert reference["tables"]["db_dbsetting"]["columns"][1]["type"] == "character varying(1024)"
    assert reference["tables"]["alembic_version"]["columns"] == [
        {
            "collation": None,
            "default": None,
            "generated": None,
            "identity": None,
            "name": "version_num",
            "nullable": False,
            "type": "character varying(32)",
        }
    ]
    # Only the id columns have a server default, and it is the serial nextval (unqualified: search_path is
    # pinned to the described schema while reading).
    for table in DB_TABLES:
        for column in reference["tables"][table]["columns"]:
            if column["name"] == "id":
                assert column["default"] == f"nextval('{table}_id_seq'::regclass)"
                assert column["type"] == "integer" and not column["nullable"]
                assert column["identity"] is None
            else:
                assert column["default"] is None, (table, column)


def test_indexes(reference: dict[str, Any]) -> None:
    indexes = reference["indexes"]
    primary = {n for n, i in indexes.items() if i["primary"]}
    non_pk = {n: i for n, i in indexes.items() if not i["primary"]}
    assert len(primary) == 11
    assert primary == {f"{t}_pkey" for t in DB_TABLES} | {"alembic_version_pkc"}
    assert len(non_pk) == 46
    backing_unique = {n for n, i in non_pk.items() if i["constraint"] is not None}
    plain = {n for n, i in non_pk.items() if i["constraint"] is None}
    assert len(backing_unique) == 11 and all(n.startswith("uq_") for n in backing_unique)
    assert all(non_pk[n]["unique"] and non_pk[n]["constraint"] == n for n in backing_unique)
    assert len(plain) == 35 and not any(non_pk[n]["unique"] for n in plain)
    assert len({n for n in plain if n.startswith("ix_pat_")}) == 12
    assert all(i["valid"] for i in indexes.values())
    # Exact pg_get_indexdef text (schema prefix stripped), one of each kind.
    assert indexes["ix_db_dbnode_db_dbnode_ctime"]["definition"] == (
        "CREATE INDEX ix_db_dbnode_db_dbnode_ctime ON db_dbnode USING btree (ctime)"
    )
    assert indexes["ix_pat_db_dbnode_label"]["definition"] == (
        "CREATE INDEX ix_pat_db_dbnode_label ON db_dbnode USING btree (label varchar_pattern_ops)"
    )
    assert indexes["uq_db_dbgroup_dbnodes_dbgroup_id_dbnode_id"]["definition"] == (
        "CREATE UNIQUE INDEX uq_db_dbgroup_dbnodes_dbgroup_id_dbnode_id "
        "ON db_dbgroup_dbnodes USING btree (dbgroup_id, dbnode_id)"
    )
    assert indexes["db_dbnode_pkey"]["definition"] == (
        "CREATE UNIQUE INDEX db_dbnode_pkey ON db_dbnode USING btree (id)"
    )


def test_constraints(reference: dict[str, Any]) -> None:
    fks = {
        (table, name): c
        for table, t in reference["tables"].items()
        for name, c in t["constraints"].items()
        if c["type"] == "FOREIGN KEY"
    }
    assert set(fks) == set(EXPECTED_FKS)
    for key, (column, ref_table, on_delete) in EXPECTED_FKS.items():
        fk = fks[key]
        assert fk["columns"] == [column]
        assert fk["referenced_table"] == ref_table and fk["referenced_columns"] == ["id"]
        assert fk["on_delete"] == on_delete, key
        assert fk["on_update"] == "NO ACTION"
        assert fk["deferrable"] is True and fk["initially_deferred"] is True and fk["validated"] is True
    assert fks[("db_dbnode", "fk_db_dbnode_user_id_db_dbuser")]["definition"] == (
        "FOREIGN KEY (user_id) REFERENCES db_dbuser(id) ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED"
    )
    types = [c["type"] for t in reference["tables"].values() for c in t["constraints"].values()]
    assert types.count("PRIMARY KEY") == 11
    assert types.count("UNIQUE") == 11
    assert types.count("FOREIGN KEY") == 12
    assert len(types) == 34  # no CHECK / EXCLUDE constraints at head
    pk = reference["tables"]["db_dbnode"]["constraints"]["db_dbnode_pkey"]
    assert pk["deferrable"] is False and pk["on_delete"] is None and pk["definition"] == "PRIMARY KEY (id)"


def test_sequences(reference: dict[str, Any]) -> None:
    assert set(reference["sequences"]) == {f"{t}_id_seq" for t in DB_TABLES}
    for table in DB_TABLES:
        assert reference["sequences"][f"{table}_id_seq"] == {
            "cache": 1,
            "cycle": False,
            "data_type": "integer",
            "increment": 1,
            "max": 2147483647,
            "min": 1,
            "owned_by": f"{table}.id",
            "start": 1,
        }


def test_describe_is_json_and_deterministic(
    reference: dict[str, Any], copy_conn: psycopg.Connection[Any]
) -> None:
    again = describe_catalog(copy_conn)
    assert json.dumps(again, sort_keys=False) == json.dumps(reference, sort_keys=False)
    assert json.loads(json.dumps(reference)) == reference


def test_two_loads_compare_equal(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    copy = describe_catalog(copy_conn)
    assert copy == reference
    assert diff_catalogs(reference, copy) == []
    assert diff_catalogs(reference, copy, legacy_names=True) == []


def test_exclude(copy_conn: psycopg.Connection[Any]) -> None:
    catalog = describe_catalog(copy_conn, exclude={"alembic_version", "db_dbsetting"})
    assert set(catalog["tables"]) == DB_TABLES - {"db_dbsetting"}
    assert "alembic_version_pkc" not in catalog["indexes"]
    assert "ix_pat_db_dbsetting_key" not in catalog["indexes"]
    assert "db_dbsetting_id_seq" not in catalog["sequences"]


def test_other_schema(copy_conn: psycopg.Connection[Any]) -> None:
    """A schema whose name needs quoting: the prefix is still stripped and nothing leaks from public."""
    schema = sql.Identifier("Other Schema")
    with copy_conn.transaction(force_rollback=True):
        copy_conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        assert describe_catalog(copy_conn, "Other Schema") == {
            "functions": [], "indexes": {}, "sequences": {}, "tables": {}, "triggers": [], "views": [],
        }  # fmt: skip
        copy_conn.execute(
            sql.SQL("CREATE TABLE {}.{} ({} serial PRIMARY KEY, {} integer REFERENCES {}.{})").format(
                schema,
                sql.Identifier("t"),
                sql.Identifier("id"),
                sql.Identifier("ref"),
                schema,
                sql.Identifier("t"),
            )
        )
        copy_conn.execute(
            sql.SQL("CREATE INDEX {} ON {}.{} ({})").format(
                sql.Identifier("ix_t_ref"), schema, sql.Identifier("t"), sql.Identifier("ref")
            )
        )
        catalog = describe_catalog(copy_conn, "Other Schema")
    assert list(catalog["tables"]) == ["t"]
    assert catalog["indexes"]["ix_t_ref"]["definition"] == "CREATE INDEX ix_t_ref ON t USING btree (ref)"
    assert catalog["tables"]["t"]["columns"][0]["default"] == "nextval('t_id_seq'::regclass)"
    assert (
        catalog["tables"]["t"]["constraints"]["t_ref_fkey"]["definition"]
        == "FOREIGN KEY (ref) REFERENCES t(id)"
    )
    assert catalog["sequences"]["t_id_seq"]["owned_by"] == "t.id"


# ----------------------------------------------------------------------------------------------------------
# session state
# ----------------------------------------------------------------------------------------------------------


def test_session_state_restored(new_database: NewDatabase) -> None:
    conn = new_database()
    conn.execute("SET search_path = pg_catalog, public")
    conn.execute("SET client_min_messages = notice")
    load_reference_catalog(conn, _reference_dump())
    assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog, public",)
    assert conn.execute("SHOW client_min_messages").fetchone() == ("notice",)
    # describe_catalog pins search_path only while reading.
    describe_catalog(conn)
    assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog, public",)


def test_describe_inside_open_transaction(new_database: NewDatabase) -> None:
    conn = new_database()
    load_reference_catalog(conn, _reference_dump())
    with psycopg.connect(conn.info.dsn) as tx_conn:  # autocommit off
        tx_conn.execute("SELECT 1")
        catalog = describe_catalog(tx_conn)
        assert tx_conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert len(catalog["tables"]) == 11


def test_meta_commands_rejected(new_database: NewDatabase, tmp_path: Path) -> None:
    conn = new_database()
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (i integer);\n\\connect other\n", encoding="utf-8")
    with pytest.raises(ValueError, match="meta command"):
        load_reference_catalog(conn, bad)
    # Rejected before anything ran.
    assert describe_catalog(conn)["tables"] == {}
    ok = tmp_path / "ok.sql"
    ok.write_text("\\restrict abc\nCREATE TABLE t (i integer);\n\\unrestrict abc\n", encoding="utf-8")
    load_reference_catalog(conn, ok)
    assert list(describe_catalog(conn)["tables"]) == ["t"]


# ----------------------------------------------------------------------------------------------------------
# diffs
# ----------------------------------------------------------------------------------------------------------


def test_legacy_index_name() -> None:
    assert legacy_index_name("ix_db_dbnode_db_dbnode_ctime", "db_dbnode") == "ix_db_dbnode_ctime"
    assert (
        legacy_index_name("ix_db_dbgroup_dbnodes_db_dbgroup_dbnodes_dbnode_id", "db_dbgroup_dbnodes")
        == "ix_db_dbgroup_dbnodes_dbnode_id"
    )
    assert legacy_index_name("ix_pat_db_dbnode_label", "db_dbnode") == "ix_pat_db_dbnode_label"
    assert legacy_index_name("ix_db_dbnode_ctime", "db_dbnode") == "ix_db_dbnode_ctime"


def test_dropped_index(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn, sql.SQL("DROP INDEX {}").format(sql.Identifier("ix_db_dbnode_db_dbnode_ctime"))
    )
    assert diff_catalogs(reference, actual) == ["index ix_db_dbnode_db_dbnode_ctime: missing"]
    assert diff_catalogs(reference, actual, legacy_names=True) == ["index ix_db_dbnode_ctime: missing"]


def test_nullability(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
            sql.Identifier("db_dbnode"), sql.Identifier("attributes")
        ),
    )
    assert diff_catalogs(reference, actual) == ["db_dbnode.attributes: nullable expected True got False"]


def test_fk_on_delete(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    fk = sql.Identifier("fk_db_dblink_input_id_db_dbnode")
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier("db_dblink"), fk),
        sql.SQL(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}({}) "
            "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
        ).format(
            sql.Identifier("db_dblink"),
            fk,
            sql.Identifier("input_id"),
            sql.Identifier("db_dbnode"),
            sql.Identifier("id"),
        ),
    )
    diffs = diff_catalogs(reference, actual)
    assert (
        "constraint db_dblink.fk_db_dblink_input_id_db_dbnode: on_delete expected 'NO ACTION' got 'CASCADE'"
        in (diffs)
    )
    assert len(diffs) == 2  # on_delete and the definition text
    assert all(d.startswith("constraint db_dblink.fk_db_dblink_input_id_db_dbnode: ") for d in diffs)
    # A legacy-name comparison does not forgive a changed rule.
    assert diff_catalogs(reference, actual, legacy_names=True) == diffs


def test_fk_not_deferrable(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER TABLE {} ALTER CONSTRAINT {} NOT DEFERRABLE").format(
            sql.Identifier("db_dblog"), sql.Identifier("fk_db_dblog_dbnode_id_db_dbnode")
        ),
    )
    diffs = diff_catalogs(reference, actual)
    assert "constraint db_dblog.fk_db_dblog_dbnode_id_db_dbnode: deferrable expected True got False" in diffs
    assert (
        "constraint db_dblog.fk_db_dblog_dbnode_id_db_dbnode: initially_deferred expected True got False"
        in (diffs)
    )


def test_server_default(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}").format(
            sql.Identifier("db_dbnode"), sql.Identifier("extras"), sql.Literal("{}")
        ),
    )
    assert diff_catalogs(reference, actual) == ["db_dbnode.extras: default expected None got \"'{}'::jsonb\""]


def test_column_type_and_order(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE bigint").format(
            sql.Identifier("db_dbuser"), sql.Identifier("id")
        ),
    )
    assert diff_catalogs(reference, actual) == ["db_dbuser.id: type expected 'integer' got 'bigint'"]
    # Same columns, other physical order: reported unless column order is explicitly ignored.
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(
            sql.Identifier("db_dbuser"), sql.Identifier("first_name")
        ),
        sql.SQL("ALTER TABLE {} ADD COLUMN {} character varying(254) NOT NULL").format(
            sql.Identifier("db_dbuser"), sql.Identifier("first_name")
        ),
    )
    diffs = diff_catalogs(reference, actual)
    assert len(diffs) == 1 and diffs[0].startswith("db_dbuser: column order expected")
    assert diff_catalogs(reference, actual, ignore_column_order=True) == []


def test_legacy_index_rename(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier("ix_db_dbnode_db_dbnode_ctime"), sql.Identifier("ix_db_dbnode_ctime")
        ),
        sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            sql.Identifier("db_dbgroup"),
            sql.Identifier("fk_db_dbgroup_user_id_db_dbuser"),
            sql.Identifier("db_dbgroup_user_id_db_dbuser"),
        ),
    )
    assert diff_catalogs(reference, actual) == [
        "constraint db_dbgroup.db_dbgroup_user_id_db_dbuser: unexpected",
        "constraint db_dbgroup.fk_db_dbgroup_user_id_db_dbuser: missing",
        "index ix_db_dbnode_ctime: unexpected",
        "index ix_db_dbnode_db_dbnode_ctime: missing",
    ]
    assert diff_catalogs(reference, actual, legacy_names=True) == []
    # Symmetric: a legacy database as the expectation accepts a fresh one.
    assert diff_catalogs(actual, reference, legacy_names=True) == []


def test_legacy_rename_with_changed_definition(
    reference: dict[str, Any], copy_conn: psycopg.Connection[Any]
) -> None:
    # Legacy name, but on another column / with another operator class: still a difference.
    actual = _mutated(
        copy_conn,
        sql.SQL("DROP INDEX {}").format(sql.Identifier("ix_db_dbnode_db_dbnode_ctime")),
        sql.SQL("CREATE INDEX {} ON {} ({})").format(
            sql.Identifier("ix_db_dbnode_ctime"), sql.Identifier("db_dbnode"), sql.Identifier("mtime")
        ),
        sql.SQL("DROP INDEX {}").format(sql.Identifier("ix_db_dblink_db_dblink_label")),
        sql.SQL("CREATE INDEX {} ON {} ({} varchar_pattern_ops)").format(
            sql.Identifier("ix_db_dblink_label"), sql.Identifier("db_dblink"), sql.Identifier("label")
        ),
    )
    assert diff_catalogs(reference, actual, legacy_names=True) == [
        "index ix_db_dblink_label: definition expected 'CREATE INDEX ON db_dblink USING btree (label)' "
        "got 'CREATE INDEX ON db_dblink USING btree (label varchar_pattern_ops)'",
        "index ix_db_dbnode_ctime: definition expected 'CREATE INDEX ON db_dbnode USING btree (ctime)' "
        "got 'CREATE INDEX ON db_dbnode USING btree (mtime)'",
    ]


def test_legacy_names_do_not_hide_other_renames(
    reference: dict[str, Any], copy_conn: psycopg.Connection[Any]
) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier("ix_pat_db_dbnode_label"), sql.Identifier("db_dbnode_label_like")
        ),
        sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            sql.Identifier("db_dbnode"),
            sql.Identifier("fk_db_dbnode_user_id_db_dbuser"),
            sql.Identifier("db_dbnode_user_id_db_dbuser"),
        ),
    )
    assert diff_catalogs(reference, actual, legacy_names=True) == [
        "constraint db_dbnode.db_dbnode_user_id_db_dbuser: unexpected",
        "constraint db_dbnode.fk_db_dbnode_user_id_db_dbuser: missing",
        "index db_dbnode_label_like: unexpected",
        "index ix_pat_db_dbnode_label: missing",
    ]


def test_extra_objects(reference: dict[str, Any], copy_conn: psycopg.Connection[Any]) -> None:
    actual = _mutated(
        copy_conn,
        sql.SQL("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$").format(
            sql.Identifier("update_tc")
        ),
        sql.SQL(
            "CREATE TRIGGER {} AFTER INSERT OR DELETE OR UPDATE ON {} FOR EACH ROW EXECUTE PROCEDURE {}()"
        ).format(sql.Identifier("autoupdate_tc"), sql.Identifier("db_dblink"), sql.Identifier("update_tc")),
        sql.SQL("CREATE VIEW {} AS SELECT 1 AS one").format(sql.Identifier("v_one")),
        sql.SQL("CREATE INDEX {} ON {} USING gin ({})").format(
            sql.Identifier("ix_gin_attributes"), sql.Identifier("db_dbnode"), sql.Identifier("attributes")
        ),
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} <> '')").format(
            sql.Identifier("db_dbuser"), sql.Identifier("ck_db_dbuser_email"), sql.Identifier("email")
        ),
        sql.SQL("CREATE TABLE {} ({} serial PRIMARY KEY)").format(
            sql.Identifier("db_dbpath"), sql.Identifier("id")
        ),
    )
    assert diff_catalogs(reference, actual) == [
        "table db_dbpath: unexpected",
        "constraint db_dbuser.ck_db_dbuser_email: unexpected",
        "index db_dbpath_pkey: unexpected",
        "index ix_gin_attributes: unexpected",
        "sequence db_dbpath_id_seq: unexpected",
        "view v_one: unexpected",
        "trigger db_dblink.autoupdate_tc: unexpected",
        "function update_tc(): unexpected",
    ]
    # The reverse direction reports the same objects as missing.
    assert all(d.endswith(": missing") for d in diff_catalogs(actual, reference))
