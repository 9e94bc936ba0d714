"""SQL injection strings everywhere a user can put a string; a sentinel password never shows anywhere."""

from __future__ import annotations

import contextlib
import logging
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql
from psycopg.conninfo import make_conninfo

from fastdos.backend import Backend
from fastdos.cli import main
from fastdos.errors import FastdosError, UnreachableStorage
from fastdos.migrator import Migrator, ensure_database
from fastdos.profile import Profile
from tests.conftest import PgServer, drop_database

INJECTIONS = [
    "'; DROP TABLE db_dbnode; --",
    'x" ; DROP TABLE db_dblink; --',
    "x') OR 1=1 --",
    "%(ids)s",
    "%s",
    "{table}",
    "$1",
    "\\",
    "a'||(SELECT pg_sleep(5))||'",
    "$$; DROP TABLE db_dbgroup; $$",
]

TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"


@pytest.mark.parametrize("bad", INJECTIONS)
def test_injection_in_every_value_key_and_label(backend: Backend, conn: psycopg.Connection, bad: str) -> None:
    tables = conn.execute(TABLES).fetchone()
    (user,) = backend.bulk_insert("user", [{"email": bad, "first_name": bad}], allow_defaults=True)
    (computer,) = backend.bulk_insert(
        "computer", [{"label": bad, "hostname": bad, "metadata": {bad: bad}}], allow_defaults=True
    )
    (group,) = backend.bulk_insert(
        "group", [{"label": bad, "type_string": bad, "user_id": user, "extras": {bad: [bad]}}], allow_defaults=True
    )
    nodes = backend.bulk_insert(
        "node",
        [
            {
                "user_id": user,
                "label": bad,
                "node_type": bad,
                "process_type": bad,
                "attributes": {bad: bad},
                "extras": {bad: {bad: bad}},
                "dbcomputer_id": computer,
            },
            {"user_id": user, "label": "plain"},
        ],
        allow_defaults=True,
    )
    backend.bulk_insert("link", [{"input_id": nodes[1], "output_id": nodes[0], "label": bad, "type": bad}])
    backend.add_nodes_to_group(group, nodes)
    backend.bulk_update("node", [{"id": nodes[1], "description": bad, "extras": {bad: bad}}])
    backend.set_global_variable(bad, bad, description=bad)
    assert backend.get_global_variable(bad) == bad
    # Stored as given.
    assert conn.execute(
        "SELECT label, node_type, process_type, attributes, extras FROM db_dbnode WHERE id = %s", (nodes[0],)
    ).fetchone() == (bad, bad, bad, {bad: bad}, {bad: {bad: bad}})
    assert conn.execute("SELECT label, type FROM db_dblink").fetchone() == (bad, bad)
    # Read back through filters, projections, order-by and group labels: matched literally.
    q = backend.query
    assert q().append("node", filters={"label": bad}, project="id").all(flat=True) == [nodes[0]]
    assert q().append("node", filters={"attributes": {"has_key": bad}}, project="id").all(flat=True) == [nodes[0]]
    assert q().append("node", filters={"extras": {"contains": {bad: bad}}}, project="id").all(flat=True) == [nodes[1]]
    assert (
        q().append("group", filters={"label": bad}, tag="g").append("node", with_group="g", project="id").count() == 2
    )
    assert q().append("user", filters={"email": bad}, project="first_name").all(flat=True) == [bad]
    assert q().append("computer", filters={"label": bad}, project=["hostname"]).all(flat=True) == [bad]
    for build in (
        lambda: q().append("node", project=f"attributes.{bad}").all(),
        lambda: q().append("node", tag="n", project="id").order_by({"n": f"attributes.{bad}"}).all(),
        lambda: q().append("node", tag="n", project="id").order_by({"n": bad}).all(),
        lambda: q().append("node", project=bad).all(),
        lambda: q().append("node", filters={bad: 1}).all(),
        lambda: q().append("node", tag=bad, project="id").all(),
        lambda: backend.delete_nodes([bad], dry_run=True),  # type: ignore[list-item]
    ):
        with contextlib.suppress(FastdosError, TypeError, ValueError):
            build()
    assert backend.delete_nodes([nodes[0]], dry_run=False) == {nodes[0]}
    assert conn.execute(TABLES).fetchone() == tables
    assert conn.execute("SELECT count(*) FROM db_dbnode").fetchone() == (1,)


@pytest.mark.parametrize("bad", ["x'; DROP DATABASE postgres; --", 'x" OR "1"="1', "x$$%s{}\\"])
def test_injection_in_profile_and_database_names(pg_server: PgServer, tmp_path: Path, bad: str) -> None:
    dbname = f"{bad}{uuid.uuid4().hex[:6]}"
    profile = Profile.from_dsn(bad, pg_server.dsn(dbname), tmp_path / "repo")
    try:
        assert ensure_database(profile)
        Backend.initialise(profile)
        with Backend(profile) as backend:
            (user,) = backend.bulk_insert("user", [{"email": bad}], allow_defaults=True)
            backend.bulk_insert("node", [{"user_id": user, "label": bad}], allow_defaults=True)
            backend.maintain(full=True)
            assert backend.get_info()["entities"]["Nodes"]["count"] == 1
        with Migrator(profile) as migrator:
            migrator.validate_storage()
        with pg_server.admin() as admin:
            assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (dbname,)).fetchone() == (1,)
            assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = 'postgres'").fetchone() == (1,)
    finally:
        drop_database(pg_server, dbname)


SENTINEL = "s3ntinel-PASSWORD-x9"


def test_password_never_shows(
    pg_server: PgServer,
    empty_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    dsn = make_conninfo("", **{**pg_server.params, "password": SENTINEL}, dbname=empty_db)
    runner = CliRunner()
    outputs: list[str] = []

    def cli(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        outputs.append(result.output)
        return result.output

    cli("init", "--profile", "sec", "--dsn", dsn, "--repository", str(tmp_path / "repo"))
    cli("-vv", "info", "--profile", "sec")
    cli("info", "--profile", "sec", "--json", "--detailed")
    cli("version", "--profile", "sec")
    profile = Profile.from_dsn("sec", dsn, tmp_path / "repo")
    outputs += [str(profile), repr(profile)]
    with Backend(profile) as backend:
        outputs += [str(backend), repr(backend), str(backend.get_info(detailed=True))]
        (user,) = backend.bulk_insert("user", [{"email": "e"}], allow_defaults=True)
        backend.bulk_insert("node", [{"user_id": user}], allow_defaults=True)
        backend.maintain(full=True)
        report = backend.backup(tmp_path / "backup")
        outputs += report.lines()
    # Errors: an unreachable server, and a bad backup destination.
    bad = Profile.from_dsn("sec", make_conninfo(dsn, host="127.0.0.1", port="1"), tmp_path / "repo")
    with pytest.raises(UnreachableStorage) as info:
        Backend(bad)
    outputs += [str(info.value), repr(info.value), str(info.value.__cause__ or "")]
    outputs.append(cli("info", "--json", "--profile", "missing-profile"))
    outputs += [record.getMessage() for record in caplog.records]
    for output in outputs:
        assert SENTINEL not in output, output
    written = [p for p in (tmp_path / "backup").rglob("*") if p.is_file() and p.stat().st_size < 50 * 1024**2]
    assert written
    for path in written:
        assert SENTINEL.encode() not in path.read_bytes(), f"{path} holds the password"
    assert SENTINEL in (tmp_path / "home" / "config.json").read_text()  # stored only in the 0600 profile file
    assert (tmp_path / "home" / "config.json").stat().st_mode & 0o077 == 0


def test_drop_helper_is_safe(pg_server: PgServer) -> None:
    """The helper above drops by identifier: a name with quotes drops that database and nothing else."""
    name = "x'; DROP DATABASE postgres; --"
    with pg_server.admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    drop_database(pg_server, name)
    with pg_server.admin() as admin:
        assert admin.execute(
            "SELECT count(*) FROM pg_database WHERE datname IN (%s, 'postgres')", (name,)
        ).fetchone() == (1,)
