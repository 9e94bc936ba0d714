"""The data commands of the CLI end to end on a real storage: generate, delete, integrity, maintain,
backup/restore, index, closure."""

from __future__ import annotations

import io
import json
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from fastdos.backend import Backend
from fastdos.cli import main
from fastdos.profile import Profile, save_profile
from tests.conftest import PgServer, make_profile


@pytest.fixture
def saved(profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    save_profile(profile)
    return profile


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args], input=input, catch_exceptions=False)


def node_count(profile: Profile) -> int:
    with psycopg.connect(profile.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM db_dbnode").fetchone()
        assert row is not None
        return int(row[0])


def test_generate_then_delete(saved: Profile) -> None:
    result = invoke("generate", "--profile", "test", "--nodes", "200")
    assert result.exit_code == 0, result.output
    total = node_count(saved)
    assert total == 200
    with psycopg.connect(saved.conninfo()) as conn:
        first = conn.execute("SELECT min(id) FROM db_dbnode").fetchone()
    assert first is not None
    pk = str(first[0])
    dry = invoke("delete", "--profile", "test", pk, "999999", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Skipping 1 pk(s) that do not exist: [999999]" in dry.output and "Dry run" in dry.output
    assert node_count(saved) == total
    refused = invoke("delete", "--profile", "test", pk, input="n\n")
    assert refused.exit_code == 1 and node_count(saved) == total
    done = invoke("delete", "--profile", "test", pk, "--force")
    assert done.exit_code == 0, done.output
    deleted = int(done.output.split("Deleted ")[1].split()[0])
    assert deleted >= 1 and node_count(saved) == total - deleted


def test_delete_bad_input(saved: Profile) -> None:
    result = CliRunner().invoke(main, ["delete", "--profile", "test", "abc"])
    assert result.exit_code == 2
    result = invoke("delete", "--profile", "test", "0", "--force")
    assert result.exit_code == 1 and "0" in result.output


def test_integrity(saved: Profile) -> None:
    assert invoke("generate", "--profile", "test", "--nodes", "50").exit_code == 0
    result = invoke("integrity", "--profile", "test", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True
    with psycopg.connect(saved.conninfo(), autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM db_dbnode ORDER BY id LIMIT 2")]
        conn.execute(
            "INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (%s, %s, 'x', 'not_a_type')", ids
        )
    result = invoke("integrity", "--profile", "test")
    assert result.exit_code == 1
    assert "not_a_type" in result.output


def test_maintain(saved: Profile) -> None:
    with Backend(saved) as storage:
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"orphan"))
    dry = invoke("maintain", "--profile", "test", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Deleting 1 unreferenced objects" in dry.output
    assert invoke("maintain", "--profile", "test", "--no-repack").exit_code == 2
    live = invoke("maintain", "--profile", "test", "--force")
    assert live.exit_code == 0, live.output
    full = invoke("maintain", "--profile", "test", "--full", "--force")
    assert full.exit_code == 0, full.output
    assert "VACUUM" in full.output
    with Backend(saved) as storage:
        assert storage.get_unreferenced_keyset() == set()


def test_backup_and_restore(saved: Profile, pg_server: PgServer, empty_db: str, tmp_path: Path) -> None:
    assert invoke("generate", "--profile", "test", "--nodes", "60").exit_code == 0
    result = invoke("backup", "--profile", "test", str(tmp_path / "backups"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "backups" / "last-backup").exists()
    target = make_profile(pg_server, empty_db, tmp_path / "restored-repo", name="restored")
    save_profile(target)
    result = invoke("restore", "--profile", "restored", str(tmp_path / "backups"))
    assert result.exit_code == 0, result.output
    assert node_count(target) == node_count(saved) == 60
    again = invoke("restore", "--profile", "restored", str(tmp_path / "backups"))
    assert again.exit_code != 0, "restoring into a non-empty profile is refused"


def test_index_commands(saved: Profile) -> None:
    result = invoke("index", "add", "--profile", "test", "attributes.value")
    assert result.exit_code == 0, result.output
    name = result.output.split()[-1]
    listed = invoke("index", "list", "--profile", "test", "--json")
    assert name in [info["name"] for info in json.loads(listed.output)]
    assert invoke("index", "drop", "--profile", "test", name).exit_code == 0
    assert name not in invoke("index", "list", "--profile", "test").output
    bad = invoke("index", "add", "--profile", "test", "attributes.x'; DROP TABLE db_dbnode; --")
    assert bad.exit_code == 1
    assert node_count(saved) == 0


def test_closure_commands(saved: Profile) -> None:
    assert invoke("generate", "--profile", "test", "--nodes", "40").exit_code == 0
    installed = invoke("closure", "install", "--profile", "test")
    assert installed.exit_code == 0, installed.output
    status = invoke("closure", "status", "--profile", "test")
    assert "current: True" in status.output
    assert invoke("generate", "--profile", "test", "--nodes", "40").exit_code == 0
    assert "current: False" in invoke("closure", "status", "--profile", "test").output
    assert invoke("closure", "refresh", "--profile", "test").exit_code == 0
    assert "current: True" in invoke("closure", "status", "--profile", "test").output


SAMPLE = Path(__file__).parent / "data" / "archives" / "sample.aiida"


def test_import_command(saved: Profile, tmp_path: Path) -> None:
    dry = invoke("import", "--profile", "test", str(SAMPLE), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert node_count(saved) == 0
    result = invoke("import", "--profile", "test", str(SAMPLE), "--group", "mine")
    assert result.exit_code == 0, result.output
    assert node_count(saved) == 375
    with psycopg.connect(saved.conninfo()) as conn:
        labels = {r[0] for r in conn.execute("SELECT label FROM db_dbgroup")}
    assert "mine" in labels
    not_zip = tmp_path / "bad.aiida"
    not_zip.write_bytes(b"this is not a zip file")
    bad = invoke("import", "--profile", "test", str(not_zip))
    assert bad.exit_code != 0 and "zip" in bad.output.lower()
    assert node_count(saved) == 375
