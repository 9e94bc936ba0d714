"""Schema parity: a fastdos-initialised database has exactly aiida-core's catalog at main_0002.

The reference is ``tests/data/aiida_main_0002.pg_dump.sql``, a ``pg_dump --schema-only`` of a database that
aiida-core 2.9.4 initialised (docs/schema.md). Columns, types, nullability, defaults, constraints
with their ON DELETE / DEFERRABLE rules, index definitions and sequences must all be equal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos.profile import Profile
from tests.catalog import describe_catalog, diff_catalogs, load_reference_catalog
from tests.conftest import PgServer, create_database, drop_database

DUMP = Path(__file__).parent / "data" / "aiida_main_0002.pg_dump.sql"


@pytest.fixture(scope="module")
def reference_catalog(pg_server: PgServer) -> Iterator[dict[str, Any]]:
    name = "fastdos_parity_reference"
    drop_database(pg_server, name)
    create_database(pg_server, name)
    try:
        with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
            load_reference_catalog(conn, DUMP)
            yield describe_catalog(conn)
    finally:
        drop_database(pg_server, name)


def test_fresh_database_matches_reference(reference_catalog: dict[str, Any], profile: Profile) -> None:
    with psycopg.connect(profile.conninfo(), autocommit=True) as conn:
        actual = describe_catalog(conn)
    differences = diff_catalogs(reference_catalog, actual)
    assert differences == [], "\n".join(differences)


def test_alembic_stamp(profile: Profile) -> None:
    with psycopg.connect(profile.conninfo(), autocommit=True) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("main_0002",)]


def test_parity_detects_a_difference(reference_catalog: dict[str, Any], profile: Profile) -> None:
    """The comparison is not vacuous: an index with another definition is reported."""
    with psycopg.connect(profile.conninfo(), autocommit=True) as conn:
        conn.execute("DROP INDEX ix_pat_db_dbnode_label")
        conn.execute("CREATE INDEX ix_pat_db_dbnode_label ON db_dbnode (label)")
        differences = diff_catalogs(reference_catalog, describe_catalog(conn))
    assert any("ix_pat_db_dbnode_label" in line for line in differences)
