"""What a new user meets on the command line (issue "Tried as a new user would"): read-only commands on a new
FASTDOS_HOME, restore into a new profile, dry runs that say so, round figures, progress without a terminal."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from fastdos.backend import Backend
from fastdos.cli import main
from fastdos.profile import Profile, load_profile, save_profile
from fastdos.server import EmbeddedServer
from tests.conftest import PgServer

FASTDOS = str(Path(sys.executable).with_name("fastdos"))
# More than three significant digits after the point (0.0068187713623046875, 8.463585056999989).
LONG_DECIMAL = re.compile(r"\d*\.0*[1-9]\d{3,}")


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args], input=input, catch_exceptions=False)


@pytest.fixture
def saved(profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    save_profile(profile)
    return profile


def node_count(profile: Profile) -> int:
    with psycopg.connect(profile.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM db_dbnode").fetchone()
        assert row is not None
        return int(row[0])


READ_ONLY = [
    ["version"],
    ["info"],
    ["integrity"],
    ["index", "list"],
    ["closure", "status"],
    ["maintain", "--dry-run"],
    ["generate", "--nodes", "10"],
    ["delete", "1", "--dry-run"],
    ["migrate", "--force"],
    ["alembic", "current"],
]


def test_commands_on_a_new_home_create_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `init` (and `restore`) create a cluster; the others say the profile is not initialised."""
    home = tmp_path / "new-home"
    monkeypatch.setenv("FASTDOS_HOME", str(home))
    for args in READ_ONLY:
        result = invoke(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "not initialised" in result.output and "`fastdos init" in result.output, (args, result.output)
        assert "Traceback" not in result.output
    status = invoke("server", "status")
    assert status.exit_code == 3 and "not running" in status.output
    assert invoke("server", "stop").output.startswith("not running")
    other = invoke("info", "--profile", "other")
    assert "profile 'other' not found" in other.output or "fastdos init --profile other" in other.output
    assert not home.exists(), sorted(p.name for p in home.rglob("*"))


def test_saved_embedded_profile_without_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    save_profile(Profile.embedded_profile("emb"))
    result = invoke("version", "--profile", "emb")
    assert result.exit_code == 1
    assert "has no database cluster yet" in result.output and "fastdos init --profile emb" in result.output
    assert not (tmp_path / "home" / "pgdata").exists()


def test_missing_database_names_init(pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    save_profile(Profile.from_dsn("gone", pg_server.conninfo("fastdos_no_such_database"), tmp_path / "repo"))
    result = invoke("info", "--profile", "gone")
    assert result.exit_code == 3
    (line,) = result.output.strip().splitlines()
    assert 'database "fastdos_no_such_database" does not exist' in line and "`fastdos init` creates" in line


def test_restore_into_a_new_profile(saved: Profile, pg_server: PgServer, empty_db: str, tmp_path: Path) -> None:
    assert invoke("generate", "--profile", "test", "--nodes", "40").exit_code == 0
    assert invoke("backup", "--profile", "test", str(tmp_path / "backups")).exit_code == 0
    dsn = pg_server.conninfo(empty_db)
    bad = invoke("restore", str(tmp_path / "backups"), "--profile", "fresh", "--dsn", dsn)
    assert bad.exit_code == 2 and "--dsn needs --repository" in bad.output
    exists = invoke("restore", str(tmp_path / "backups"), "--profile", "test", "--dsn", dsn, "--repository", "x")
    assert exists.exit_code == 2 and "profile 'test' exists" in exists.output
    args = ["restore", str(tmp_path / "backups"), "--profile", "fresh", "--dsn", dsn]
    result = invoke(*args, "--repository", str(tmp_path / "fresh-repo"))
    assert result.exit_code == 0, result.output
    assert "created profile 'fresh'" in result.output
    fresh = load_profile("fresh")
    assert node_count(fresh) == node_count(saved) == 40
    with Backend(fresh) as storage:
        assert storage.get_info()["entities"]["Nodes"]["count"] == 40


def test_failed_restore_saves_no_profile(saved: Profile, pg_server: PgServer, db_name: str, tmp_path: Path) -> None:
    """The target database is not empty: refused, and the new profile name stays free."""
    assert invoke("backup", "--profile", "test", str(tmp_path / "backups")).exit_code == 0
    dsn = pg_server.conninfo(db_name)
    result = invoke(
        "restore", str(tmp_path / "backups"), "--profile", "x", "--dsn", dsn, "--repository", str(tmp_path / "r")
    )
    assert result.exit_code == 1 and "not empty" in result.output
    assert "x" not in json.loads((tmp_path / "home" / "config.json").read_text())["profiles"]


def test_index_list_empty_and_json_help(saved: Profile) -> None:
    result = invoke("index", "list", "--profile", "test")
    assert result.exit_code == 0 and result.output.strip() == (
        "no expression indexes (`fastdos index add PATH` creates one)"
    )
    assert invoke("index", "list", "--profile", "test", "--json").output.strip() == "[]"
    assert "JSON" in invoke("index", "list", "--help").output


def test_delete_missing_pk_warns_once(saved: Profile) -> None:
    """Through the installed command (real stderr and logging): the message appears once."""
    proc = subprocess.run(
        [FASTDOS, "delete", "--profile", "test", "999999999", "--dry-run"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    both = proc.stdout + proc.stderr
    assert both.count("999999999") == 1, both
    assert "Dry run" in proc.stdout


def test_maintain_dry_run_says_so(saved: Profile) -> None:
    with Backend(saved) as storage:
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"orphan" * 1000))
    result = invoke("maintain", "--profile", "test", "--dry-run")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Dry run: nothing was changed.") and "would do" in first
    assert "Deleting 1 unreferenced objects" in result.output
    assert not LONG_DECIMAL.search(result.output), result.output
    with Backend(saved) as storage:
        assert len(storage.get_unreferenced_keyset()) == 1, "a dry run deletes nothing"


def test_round_figures_and_progress_lines(saved: Profile) -> None:
    """Not a terminal (CliRunner): one line per stage with count, seconds and rate; figures rounded."""
    result = invoke("generate", "--profile", "test", "--nodes", "400")
    assert result.exit_code == 0, result.output
    assert not LONG_DECIMAL.search(result.output), result.output
    lines = result.output.splitlines()
    nodes = next(line for line in lines if line.startswith("nodes: 400 in "))
    assert re.fullmatch(r"nodes: 400 in [\d.]+ s( \([\d,.]+/s\))?", nodes), nodes
    assert any(line.startswith("links: 300 in ") for line in lines)
    seconds = next(line for line in lines if line.strip().startswith("seconds:"))
    assert len(seconds.split(":")[1].strip().replace(".", "").lstrip("0")) <= 3, seconds


def test_figure() -> None:
    from fastdos.cli.base import figure, rounded

    assert figure(8.463585056999989) == "8.46"
    assert figure(0.0068187713623046875) == "0.00682"
    assert figure(0.000025) == "0.000025"
    assert figure(123456.7) == "123,457"
    assert figure(0.0) == "0"
    assert rounded("Packing all loose files (3 files occupying 0.0068187713623046875 MB) ...") == (
        "Packing all loose files (3 files occupying 0.00682 MB) ..."
    )
    assert rounded("version 1.2.3 and 10.5") == "version 1.2.3 and 10.5"


@pytest.fixture
def embedded_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = Path(f"/tmp/fastdos-restore-{os.getpid()}")  # short: the socket path is limited to 107 bytes
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o755)
    monkeypatch.setenv("FASTDOS_HOME", str(home))
    yield home
    server = EmbeddedServer(home / "pgdata")
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_restore_into_a_new_embedded_profile(profile: Profile, embedded_home: Path, tmp_path: Path) -> None:
    """The newcomer path: a backup restored on a fresh FASTDOS_HOME, no `init` first; the cluster is made."""
    with Backend(profile) as storage:
        storage.set_global_variable("restored|marker", 42)
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"content"))
        storage.backup(tmp_path / "backups")
    result = invoke("restore", str(tmp_path / "backups"), "--profile", "mine")
    assert result.exit_code == 0, result.output
    assert "created profile 'mine'" in result.output
    mine = load_profile("mine")
    assert mine.embedded is not None and mine.repository_path == embedded_home / "profiles" / "mine" / "repository"
    with Backend(mine) as storage:
        assert storage.get_global_variable("restored|marker") == 42
    info = invoke("info", "--profile", "mine", "--json")
    assert info.exit_code == 0, info.output


def test_maintenance_progress_lines(saved: Profile) -> None:
    """disk-objectstore's callbacks (init/update/close) become one line per stage without a terminal."""
    with Backend(saved) as storage:
        for i in range(3):
            storage.get_repository().put_object_from_filelike(io.BytesIO(b"orphan %d" % i))
    result = invoke("maintain", "--profile", "test", "--full", "--force")
    assert result.exit_code == 0, result.output
    stage = re.compile(r"[^:]+: [\d,]+ in [\d.]+ s( \(.*/s\))?")
    stages = [line for line in result.output.splitlines() if stage.fullmatch(line)]
    assert any(line.startswith("Deleted unreferenced objects: 3 in ") for line in stages), result.output
    assert not LONG_DECIMAL.search(result.output), result.output
