"""The ``fastdos`` command end to end: init, version, migrate, info, alembic, server — with verdi's exit codes."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from fastdos.cli import main
from tests.conftest import PgServer

SENTINEL = "sentinel-cli-password"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def init_profile(pg_server: PgServer, dbname: str, tmp_path: Path, name: str = "cli") -> Result:
    params = {**pg_server.params, "password": SENTINEL}
    dsn = psycopg.conninfo.make_conninfo("", **params, dbname=dbname)
    return invoke("init", "--profile", name, "--dsn", dsn, "--repository", str(tmp_path / "repo"))


def test_init_version_info(pg_server: PgServer, empty_db: str, tmp_path: Path, home: Path) -> None:
    result = init_profile(pg_server, empty_db, tmp_path)
    assert result.exit_code == 0, result.output
    assert "initialised: cli" in result.output
    assert init_profile(pg_server, empty_db, tmp_path).output.startswith("already initialised")
    result = invoke("version", "--profile", "cli")
    assert result.exit_code == 0, result.output
    assert "Latest storage schema version: 'main_0002'" in result.output
    assert "Storage schema version of 'cli': 'main_0002'" in result.output
    result = invoke("info", "--profile", "cli", "--json", "--detailed")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["entities"]["Nodes"]["count"] == 0
    assert data["repository"]["SHA-hash algorithm"] == "sha256"
    text = invoke("info", "--profile", "cli").output
    assert "Nodes:" in text and "count: 0" in text
    for output in (result.output, text):
        assert SENTINEL not in output
    assert SENTINEL in (home / "config.json").read_text(), "the profile keeps its password (file mode 0600)"


def test_version_exit_codes(pg_server: PgServer, empty_db: str, tmp_path: Path, home: Path) -> None:
    assert init_profile(pg_server, empty_db, tmp_path).exit_code == 0
    with psycopg.connect(pg_server.conninfo(empty_db), autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'main_0001'")
        result = invoke("version", "--profile", "cli")
        assert result.exit_code == 4, result.output
        assert "main_0001" in result.output
        refused = invoke("migrate", "--profile", "cli", input="no\n")
        assert refused.exit_code == 1 and "aborted" in refused.output
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("main_0001",)
        migrated = invoke("migrate", "--profile", "cli", input="MIGRATE NOW\n")
        assert migrated.exit_code == 0, migrated.output
        assert "migration completed" in migrated.output
        conn.execute("UPDATE db_dbsetting SET val = '\"xyz\"' WHERE key = 'repository|uuid'")
        result = invoke("version", "--profile", "cli")
        assert result.exit_code == 3, result.output
        assert "CorruptStorage" not in result.output and "repository UUID" in result.output


def test_unreachable_and_bad_input(tmp_path: Path, home: Path) -> None:
    dsn = f"host=127.0.0.1 port=1 user=x password={SENTINEL} dbname=x"
    result = invoke("init", "--profile", "bad", "--dsn", dsn, "--repository", str(tmp_path / "r"))
    assert result.exit_code == 3, result.output
    assert SENTINEL not in result.output
    result = invoke("init", "--profile", "bad", "--dsn", dsn)
    assert result.exit_code == 2 and "--dsn needs --repository" in result.output
    result = invoke("version", "--profile", "nope")
    assert result.exit_code == 1 and "'nope' not found" in result.output
    result = invoke("migrate", "--force", "--profile", "nope")
    assert result.exit_code == 1


def test_migrate_uninitialised(pg_server: PgServer, empty_db: str, tmp_path: Path, home: Path) -> None:
    from fastdos.profile import Profile, save_profile

    save_profile(Profile.from_dsn("raw", pg_server.conninfo(empty_db), tmp_path / "repo"))
    result = invoke("migrate", "--profile", "raw", "--force")
    assert result.exit_code == 1
    assert "storage is uninitialised, cannot migrate." in result.output


def test_alembic_commands(pg_server: PgServer, empty_db: str, tmp_path: Path, home: Path) -> None:
    assert init_profile(pg_server, empty_db, tmp_path).exit_code == 0
    runner = CliRunner()
    result = runner.invoke(main, ["alembic", "current", "--profile", "cli"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["alembic", "downgrade", "main_0001", "--profile", "cli"])
    assert result.exit_code == 0, result.output
    assert invoke("version", "--profile", "cli").exit_code == 4
    result = runner.invoke(main, ["alembic", "upgrade", "head", "--profile", "cli"])
    assert result.exit_code == 0, result.output
    assert invoke("version", "--profile", "cli").exit_code == 0


@pytest.fixture
def embedded_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = Path(f"/tmp/fastdos-cli-{os.getpid()}")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o755)
    monkeypatch.setenv("FASTDOS_HOME", str(home))
    yield home
    invoke("server", "stop")
    real = (home / "pgdata").resolve()
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(real, ignore_errors=True)


@pytest.mark.slow
def test_default_embedded_profile(embedded_home: Path) -> None:
    """No profile, no DSN: the default profile on fastdos' own cluster under $FASTDOS_HOME."""
    status = invoke("server", "status")
    assert status.exit_code == 3 and "not running" in status.output
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert (embedded_home / "repository" / "container" / "config.json").exists()
    assert (embedded_home / "pgdata").exists()
    assert invoke("server", "status").exit_code == 0
    result = invoke("info", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["profile"] == "default"
    assert invoke("server", "stop").exit_code == 0
    # Opening the storage starts the stopped cluster again.
    result = invoke("version")
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_quick_start_api(embedded_home: Path) -> None:
    """The README's quick start on a fresh FASTDOS_HOME: no database, no server yet."""
    from fastdos import Backend, load_profile

    profile = load_profile()
    assert Backend.initialise(profile) is True
    with Backend(profile) as storage:
        storage.set_global_variable("my|key", {"any": "json"})
        assert storage.get_info(detailed=True)["entities"]["Nodes"]["count"] == 0
        assert storage.get_global_variable("my|key") == {"any": "json"}
    assert Backend.initialise(profile) is False
