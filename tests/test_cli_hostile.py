"""Every ``fastdos`` command with the careless or hostile arguments a user types: one line that says what is
wrong, a non-zero exit, never a traceback, and the storage as it was.

A command added to :data:`fastdos.cli.COMMANDS` without cases here fails :func:`test_every_command_has_cases`.
"""

from __future__ import annotations

from pathlib import Path

import click
import psycopg
import pytest
from click.testing import CliRunner, Result

from fastdos.cli import main
from fastdos.profile import Profile, save_profile


@pytest.fixture
def saved(profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    save_profile(profile)
    (tmp_path / "a-file").write_text("not a folder")
    return profile


def node_count(profile: Profile) -> int:
    with psycopg.connect(profile.conninfo()) as conn:
        row = conn.execute("SELECT count(*) FROM db_dbnode").fetchone()
        assert row is not None
        return int(row[0])


# {tmp} is the test's folder, holding the file `a-file`. Every case must fail.
CASES: dict[str, list[list[str]]] = {
    "init": [
        ["--dsn", "host=127.0.0.1 port=1 user=x dbname=x", "--repository", "{tmp}/a-file/sub"],
        ["--dsn", "not a dsn ==", "--repository", "{tmp}/r"],
        ["--profile", "../escape"],
        ["--repository", "{tmp}/r"],
    ],
    "version": [["--profile", "nope"], ["--aiida", "nope"]],
    "migrate": [["--profile", "nope", "--force"]],
    "info": [["--profile", "nope"], ["--profile", "test", "--bogus"]],
    "generate": [["--profile", "test", "--nodes", "0"], ["--profile", "test", "--nodes", "x"]],
    "import": [
        ["--profile", "test", "{tmp}/a-file"],
        ["--profile", "test", "{tmp}/missing.aiida"],
        ["--profile", "test", "{tmp}"],
    ],
    "delete": [
        ["--profile", "test", "abc"],
        ["--profile", "test", "0", "--force"],
        ["--profile", "test", "-5", "--force"],
        ["--profile", "test", "99999999999999999999", "--force"],
        ["--profile", "test"],
    ],
    "export": [
        ["--profile", "nope", "--all", "{tmp}/x.aiida"],
        ["--profile", "test", "{tmp}/x.aiida"],
        ["--profile", "test", "--all", "{tmp}/a-file/x.aiida"],
        ["--profile", "test", "-N", "999999", "{tmp}/y.aiida"],
        ["--profile", "test", "-G", "no-such-group", "{tmp}/z.aiida"],
        ["--profile", "test", "--all", "--compression", "10", "{tmp}/w.aiida"],
    ],
    "aiida": [
        ["enable", "no-such-aiida-profile"],
        ["disable", "no-such-aiida-profile"],
        ["enable", ""],
    ],
    "integrity": [["--profile", "test", "--examples", "-1"], ["--profile", "nope"]],
    "maintain": [["--profile", "test", "--no-repack"], ["--profile", "nope", "--force"]],
    "backup": [
        ["--profile", "test", "{tmp}/a-file/sub"],
        ["--profile", "test", "{tmp}/a-file"],
        ["--profile", "test", "{tmp}/d", "--keep", "-1"],
    ],
    "restore": [
        ["--profile", "test", "{tmp}/a-file"],
        ["--profile", "test", "{tmp}/missing"],
        ["--profile", "test", "{tmp}"],
        ["--profile", "test", "{tmp}", "--dsn", "host=x", "--repository", "{tmp}/r"],
    ],
    "index": [
        ["add", "--profile", "test", "attributes.x'; DROP TABLE db_dbnode; --"],
        ["add", "--profile", "test", "nonsense"],
        ["add", "--profile", "test", ""],
        ["drop", "--profile", "test", "db_dbnode_pkey"],
        ["drop", "--profile", "test", "no_such_index"],
        ["list", "--profile", "nope"],
        ["install-process", "--profile", "nope"],
        ["nope"],
    ],
    "closure": [
        ["refresh", "--profile", "test", "--row-budget", "0"],
        ["refresh", "--profile", "test"],
        ["status", "--profile", "nope"],
        ["install", "--profile", "nope"],
    ],
    "server": [
        ["start", "--data-dir", "{tmp}/a-file"],
        ["start", "--data-dir", "{tmp}/a-file/sub"],
        ["stop", "--data-dir", "{tmp}/a-file"],
        ["stop", "--port", "0"],
        ["status", "--port", "99999"],
        ["start", "--port", "x"],
        ["replica", "create", "--profile", "test", "--data-dir", "{tmp}/r"],  # not an embedded profile
        ["replica", "create", "--profile", "nope", "--data-dir", "{tmp}/r"],
        ["replica", "create", "--profile", "test"],
        ["replica", "create", "--profile", "test", "--data-dir", "{tmp}/r", "--port", "0"],
        ["replica", "create", "--profile", "test", "--data-dir", "{tmp}/a-file"],
        ["replica", "status", "--profile", "test"],  # no replicas
        ["replica", "status", "--profile", "test", "--name", "nope"],
        ["replica", "start", "--profile", "test", "--name", "nope"],
        ["replica", "start", "--profile", "test"],
        ["replica", "stop", "--profile", "nope", "--name", "x"],
        ["replica", "remove", "--profile", "test", "--name", "x", "--force"],
        ["replica", "nope"],
    ],
    "alembic": [
        ["current", "--profile", "nope"],
        ["history", "--profile", "nope"],
        ["upgrade", "--profile", "test", "no_such_revision"],
        ["downgrade", "--profile", "test", "no_such_revision"],
        ["revision", "--profile", "nope", "-m", "x"],
    ],
}


def test_every_command_has_cases() -> None:
    """Every command, and every subcommand of a group, is the target of at least one case."""
    assert set(CASES) == set(main.commands)
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            targeted = {case[0] for case in CASES[name]}
            assert set(command.commands) <= targeted, (name, sorted(set(command.commands) - targeted))


def test_every_replica_subcommand_has_cases() -> None:
    """``server replica`` is a group inside a group: each of its subcommands is targeted too."""
    server = main.commands["server"]
    assert isinstance(server, click.Group)
    group = server.commands["replica"]
    assert isinstance(group, click.Group)
    targeted = {case[1] for case in CASES["server"] if case[0] == "replica"}
    assert set(group.commands) <= targeted, sorted(set(group.commands) - targeted)


def run(args: list[str]) -> Result:
    # catch_exceptions=False: an exception escaping the command fails the test with its traceback.
    return CliRunner().invoke(main, args, catch_exceptions=False)


@pytest.mark.parametrize("command", sorted(CASES))
def test_hostile_arguments(command: str, saved: Profile, tmp_path: Path) -> None:
    before = node_count(saved)
    for case in CASES[command]:
        args = [command, *(arg.replace("{tmp}", str(tmp_path)) for arg in case)]
        result = run(args)
        assert result.exit_code != 0, (args, result.output)
        assert "Traceback" not in result.output, (args, result.output)
        errors = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(errors) == 1, (args, result.output)
        assert len(errors[0]) > len("Error: ") + 5, (args, result.output)
        assert "unexpected" not in errors[0], (args, errors[0])  # each refusal is one the CLI knows
    assert node_count(saved) == before
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_backup_under_a_file_names_it(saved: Profile, tmp_path: Path) -> None:
    result = run(["backup", "--profile", "test", str(tmp_path / "a-file" / "sub")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: Not a directory: {tmp_path / 'a-file' / 'sub'}"
