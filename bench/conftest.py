"""Shared benchmark fixtures: the test suite's real PostgreSQL and per-test storages, plus bench helpers.

``bench_backend`` is an open :class:`~fastdos.backend.Backend` on a fresh storage (a clone of the migrated
template database with its own container); ``bench_conn`` is a direct autocommit connection to the same
database; ``bench_user`` a user id in it. ``module_storage`` builds the same for a whole module, for
benchmarks that seed data once. The server is ``FASTDOS_TEST_PG_DSN`` or the suite's embedded cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from tests.conftest import (  # noqa: F401  (fixtures re-exported to every bench module)
    PgServer,
    backend,
    conn,
    create_database,
    db_name,
    drop_database,
    empty_db,
    link_new_container,
    make_profile,
    pg_server,
    profile,
    template_db,
)
from tests.helpers import insert_user


@pytest.fixture
def bench_backend(backend: Backend) -> Backend:  # noqa: F811
    """An open backend on a fresh storage."""
    return backend


@pytest.fixture
def bench_conn(conn: psycopg.Connection) -> psycopg.Connection:  # noqa: F811
    """A direct autocommit connection to the database of ``bench_backend``."""
    return conn


@pytest.fixture
def bench_user(bench_conn: psycopg.Connection) -> int:
    """The id of a user in the bench storage."""
    return insert_user(bench_conn, "bench@fastdos.invalid")


def _storage(pg_server: PgServer, template_db: str, root: Path) -> Iterator[tuple[Backend, psycopg.Connection]]:  # noqa: F811
    name = f"fastdos_bench_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name, template=template_db)
    prof = link_new_container(make_profile(pg_server, name, root / "repo"))
    try:
        with Backend(prof) as storage, psycopg.connect(prof.conninfo(), autocommit=True) as direct:
            yield storage, direct
    finally:
        drop_database(pg_server, name)


@pytest.fixture(scope="module")
def module_storage(
    pg_server: PgServer,  # noqa: F811
    template_db: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Backend, psycopg.Connection]]:
    """``(backend, direct connection)`` on one fresh storage shared by a whole bench module."""
    yield from _storage(pg_server, template_db, tmp_path_factory.mktemp("bench"))
