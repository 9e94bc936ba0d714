"""fastdos' archive export: round trip through fastdos' importer, the snapshot, the command, every bad input.

The comparison with aiida-core's own ``create_archive`` is in tests/test_export_aiida.py; here fastdos alone:
an export read back by ``import_archive`` into an empty storage reproduces the content (entity by entity, the
id-free snapshots of tests/aiida/snapshot.py); a failed export leaves no file at the destination nor beside it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from fastdos import rules
from fastdos.backend import Backend
from fastdos.context import BorrowedContext
from fastdos.errors import ValidationError
from fastdos.exporter import ExportError, ExportValidationError, export_archive
from fastdos.exporter.command import TOGGLES, export_command
from fastdos.importer import import_archive
from fastdos.profile import Profile, save_profile
from tests.aiida.export_content import archive_content
from tests.aiida.snapshot import diff_snapshots, missing_objects, snapshot, without_import_groups
from tests.conftest import PgServer, create_database, drop_database, link_new_container, make_profile

SAMPLE_ARCHIVE = Path(__file__).resolve().parent / "data" / "archives" / "sample.aiida"


@pytest.fixture
def sample(backend: Backend, conn: psycopg.Connection) -> dict[str, int]:
    """The sample archive imported into the test storage; a few ids of it."""
    import_archive(backend, SAMPLE_ARCHIVE)

    def one(query: str) -> int:
        row = conn.execute(query).fetchone()
        assert row is not None and row[0] is not None, query
        return int(row[0])

    return {
        "workflow": one("SELECT min(id) FROM db_dbnode WHERE node_type LIKE 'process.workflow.workchain.%'"),
        "calc": one("SELECT max(id) FROM db_dbnode WHERE node_type LIKE 'process.calculation.calcjob.%'"),
        "group": one("SELECT id FROM db_dbgroup WHERE label = 'sample/inputs'"),
        "computer": one("SELECT min(id) FROM db_dbcomputer"),
        "file_node": one("SELECT min(id) FROM db_dbnode WHERE repository_metadata::text LIKE '%\"k\"%'"),
        "max_node": one("SELECT max(id) FROM db_dbnode"),
    }


@pytest.fixture
def empty_storage(pg_server: PgServer, template_db: str, tmp_path: Path) -> Iterator[Profile]:
    """A second, empty initialised storage."""
    name = f"fastdos_x_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name, template=template_db)
    try:
        yield link_new_container(make_profile(pg_server, name, tmp_path / "repo-target", name="target"))
    finally:
        drop_database(pg_server, name)


def leftovers(folder: Path) -> list[str]:
    """Files an export could have left in ``folder`` (the destination and its temporary siblings)."""
    return sorted(p.name for p in folder.iterdir() if "export" in p.name or p.name.startswith("."))


def test_round_trip_reproduces_the_storage(
    backend: Backend, sample: dict[str, int], conn: psycopg.Connection, empty_storage: Profile, tmp_path: Path
) -> None:
    path = tmp_path / "export.aiida"
    report = export_archive(backend, path, all=True)
    assert path.is_file() and report.size == path.stat().st_size > 0
    assert report.counts["nodes"] == 375 and report.files == 100 and report.counts["links"] > 375
    with Backend(empty_storage) as target:
        imported = import_archive(target, path)
    assert imported.stages["nodes"].new == 375
    source = without_import_groups(snapshot(conn))
    with psycopg.connect(empty_storage.conninfo(), autocommit=True) as other:
        copy = without_import_groups(snapshot(other))
    diff = diff_snapshots(source, copy)
    assert diff == [], "\n".join(diff)
    assert missing_objects(copy, empty_storage.container_path) == []
    # the sample archive (written by aiida-core) and the re-export hold the same entities, by uuid
    original, again = archive_content(SAMPLE_ARCHIVE), archive_content(path)
    for table in ("nodes", "groups", "comments", "logs", "computers"):
        assert {row["uuid"] for row in original[table].values()} <= {row["uuid"] for row in again[table].values()}
    assert original["objects"] == again["objects"]


def test_selection_dry_run_and_counts(backend: Backend, sample: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "export.aiida"
    planned = export_archive(backend, path, nodes=[sample["workflow"]], dry_run=True)
    assert not path.exists() and leftovers(tmp_path) == []
    assert planned.dry_run and planned.size == 0 and 1 < planned.counts["nodes"] < 375
    written = export_archive(backend, path, nodes=[sample["workflow"]])
    assert written.counts == planned.counts and written.files == planned.files
    content = archive_content(path)
    assert len(content["nodes"]) == planned.counts["nodes"] and len(content["links"]) == planned.counts["links"]
    assert written.lines()[0].startswith("Exported to") and planned.lines()[0].startswith("Would export")
    # the toggles change the set as aiida's rules say: without call_*_backward nothing climbs to the caller
    calc_only = export_archive(
        backend, tmp_path / "c.aiida", nodes=[sample["calc"]], call_calc_backward=False, dry_run=True
    )
    with_caller = export_archive(backend, tmp_path / "c.aiida", nodes=[sample["calc"]], dry_run=True)
    assert calc_only.counts["nodes"] < with_caller.counts["nodes"]


def test_users_are_exported_when_given(
    backend: Backend, sample: dict[str, int], conn: psycopg.Connection, tmp_path: Path
) -> None:
    """aiida-core 2.9.4 skips User entities given to create_archive (they have no uuid); fastdos exports them."""
    row = conn.execute(
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('lone@x.org', '', '', '')"
        " RETURNING id"
    ).fetchone()
    assert row is not None
    report = export_archive(backend, tmp_path / "u.aiida", users=["lone@x.org"])
    content = archive_content(tmp_path / "u.aiida")
    assert [u["email"] for u in content["users"].values()] == ["lone@x.org"] and report.counts["nodes"] == 0
    assert content["metadata"]["creation_parameters"]["entities_starting_set"] == {"user": ["lone@x.org"]}


def test_unknown_entities_are_named(backend: Backend, sample: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "export.aiida"
    absent = sample["max_node"] + 1000
    cases: list[tuple[dict[str, Any], str]] = [
        ({"nodes": [sample["workflow"], absent, absent + 1]}, f"no node with the identifier(s) {absent}, {absent + 1}"),
        ({"groups": ["no-such-group", sample["group"]]}, "no group with the identifier(s) 'no-such-group'"),
        ({"computers": [999_999]}, "no computer with the identifier(s) 999999"),
        ({"users": ["nobody@x.org"]}, "no user with the identifier(s) 'nobody@x.org'"),
        ({"nodes": [0]}, "no node with pk 0"),
        ({}, "nothing to export"),
        ({"nodes": []}, "nothing to export"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
            export_archive(backend, path, **kwargs)
        assert leftovers(tmp_path) == [], kwargs
    with pytest.raises(TypeError, match="must be given by pk or identifier"):
        export_archive(backend, path, nodes=[1.5])
    with pytest.raises(ValidationError, match="unrecognized keywords: no_such_rule"):
        export_archive(backend, path, nodes=[sample["workflow"]], no_such_rule=True)
    with pytest.raises(ValueError, match="input rule create_forward is not toggleable"):
        export_archive(backend, path, nodes=[sample["workflow"]], create_forward=False)
    with pytest.raises(ExportError, match="compression must be an integer between 0 and 9"):
        export_archive(backend, path, all=True, compression=10)
    assert leftovers(tmp_path) == []


def test_destination_checks(backend: Backend, sample: dict[str, int], tmp_path: Path) -> None:
    path = tmp_path / "export.aiida"
    path.write_bytes(b"precious")
    with pytest.raises(ExportError, match="already exists"):
        export_archive(backend, path, nodes=[sample["calc"]])
    assert path.read_bytes() == b"precious"
    export_archive(backend, path, nodes=[sample["calc"]], overwrite=True)
    assert zipfile.is_zipfile(path)
    (tmp_path / "folder.aiida").mkdir()
    with pytest.raises(ExportError, match="exists as a directory"):
        export_archive(backend, tmp_path / "folder.aiida", nodes=[sample["calc"]], overwrite=True)
    with pytest.raises(ExportError, match="does not exist"):
        export_archive(backend, tmp_path / "missing" / "export.aiida", nodes=[sample["calc"]])
    assert not (tmp_path / "missing").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``folder`` (skips the test where mounting is not allowed)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        # A busy file system means a failed export kept a file open on it: detach it, then fail the test.
        busy = subprocess.run(["umount", str(folder)], capture_output=True, text=True, check=False)
        if busy.returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False)
            raise AssertionError(f"the export left a file open on {folder}: {busy.stderr.strip()}")


def test_read_only_folder(backend: Backend, sample: dict[str, int], tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    if os.geteuid() == 0:
        context: Any = tmpfs(folder, "ro,size=1m")
    else:
        folder.mkdir()
        folder.chmod(0o555)
        context = contextlib.nullcontext(folder)
    with context:
        with pytest.raises(ExportError, match=f"cannot write in the folder {folder}"):
            export_archive(backend, folder / "export.aiida", all=True)
        assert list(folder.iterdir()) == []


def test_disk_full_leaves_nothing(backend: Backend, sample: dict[str, int], tmp_path: Path) -> None:
    """A 64 KiB file system: the SQLite file or the zip hits ENOSPC; a clear message, the folder stays empty."""
    with tmpfs(tmp_path / "tiny", "size=64k") as folder:
        with pytest.raises(ExportError, match="no space left on the device of .* while writing the archive"):
            export_archive(backend, folder / "export.aiida", all=True)
        assert list(folder.iterdir()) == []


def test_file_size_limit_in_subprocess(profile: Profile, sample: dict[str, int], tmp_path: Path) -> None:
    """RLIMIT_FSIZE (no mount needed): the write fails with EFBIG; one line, no file left, exit status 1."""
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))\n"
        "from fastdos.backend import Backend\n"
        "from fastdos.profile import Profile\n"
        "from fastdos.exporter import ExportError, export_archive\n"
        "profile = Profile.from_dsn('t', sys.argv[1], sys.argv[2])\n"
        "with Backend(profile) as backend:\n"
        "    try:\n"
        "        export_archive(backend, sys.argv[3], all=True)\n"
        "    except ExportError as exc:\n"
        "        print(exc)\n"
        "        sys.exit(1)\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, profile.conninfo(), str(profile.repository_path), str(out / "e.aiida")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "file size limit" in done.stdout and str(out) in done.stdout, done.stdout
    assert list(out.iterdir()) == []


def test_missing_repository_object_is_named(
    backend: Backend, sample: dict[str, int], conn: psycopg.Connection, tmp_path: Path
) -> None:
    row = conn.execute("SELECT uuid::text, repository_metadata FROM db_dbnode WHERE id = %s", (sample["file_node"],))
    found = row.fetchone()
    assert found is not None
    node_uuid, tree = found
    key = next(iter(_keys(tree)))
    backend.get_repository().delete_objects([key])
    with pytest.raises(ExportError, match=f"node {sample['file_node']} \\({node_uuid}\\) references object {key}"):
        export_archive(backend, tmp_path / "export.aiida", all=True)
    assert leftovers(tmp_path) == []


def _keys(tree: dict[str, Any]) -> Iterator[str]:
    if "k" in tree:
        yield tree["k"]
    for child in (tree.get("o") or {}).values():
        yield from _keys(child)


def test_unsealed_process_is_refused_as_aiida_does(
    backend: Backend, sample: dict[str, int], conn: psycopg.Connection, tmp_path: Path
) -> None:
    conn.execute("UPDATE db_dbnode SET attributes = attributes - 'sealed' WHERE id = %s", (sample["calc"],))
    with pytest.raises(
        ExportValidationError,
        match=(
            "All ProcessNodes must be sealed before they can be exported. "
            f"Node\\(s\\) with PK\\(s\\): {sample['calc']} is/are not sealed."
        ),
    ):
        export_archive(backend, tmp_path / "export.aiida", all=True)
    assert leftovers(tmp_path) == []


def test_progress_stages_and_abort(backend: Backend, sample: dict[str, int], tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    export_archive(backend, tmp_path / "export.aiida", all=True, progress=lambda *a: calls.append(a))
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == [
        "selection",
        "users",
        "computers",
        "groups",
        "nodes",
        "comments",
        "logs",
        "group_nodes",
        "links",
        "files",
        "archive",
    ]
    for stage in stages:
        final = [c for c in calls if c[0] == stage][-1]
        assert final[1] == final[2], final

    def stop(stage: str, done: int, total: int) -> None:
        if stage == "links":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_archive(backend, tmp_path / "aborted.aiida", all=True, progress=stop)
    assert not (tmp_path / "aborted.aiida").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_one_snapshot_for_every_read(
    backend: Backend, sample: dict[str, int], profile: Profile, tmp_path: Path
) -> None:
    """A change committed by someone else after the selection is not in the archive (nor half of it)."""
    with psycopg.connect(profile.conninfo(), autocommit=True) as other:

        def meddle(stage: str, done: int, total: int) -> None:
            if stage == "selection" and done == 1:
                other.execute("UPDATE db_dbnode SET label = 'changed' WHERE id = %s", (sample["workflow"],))
                other.execute("DELETE FROM db_dbcomment")

        report = export_archive(backend, tmp_path / "export.aiida", all=True, progress=meddle)
    content = archive_content(tmp_path / "export.aiida")
    assert content["nodes"][sample["workflow"]]["label"] != "changed"
    assert len(content["comments"]) == report.counts["comments"] > 0


def test_borrowed_connection_sees_its_own_transaction(
    profile: Profile, sample: dict[str, int], backend: Backend, tmp_path: Path
) -> None:
    with psycopg.connect(profile.conninfo(), autocommit=False) as conn:
        conn.execute("UPDATE db_dbnode SET label = 'uncommitted' WHERE id = %s", (sample["calc"],))
        ctx = BorrowedContext(conn, profile, backend.get_repository())
        export_archive(ctx, tmp_path / "export.aiida", nodes=[sample["calc"]])
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS  # still the caller's
        conn.rollback()
    assert archive_content(tmp_path / "export.aiida")["nodes"][sample["calc"]]["label"] == "uncommitted"


# --- the command -----------------------------------------------------------------------------------------


@pytest.fixture
def saved(profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Profile:
    monkeypatch.setenv("FASTDOS_HOME", str(tmp_path / "home"))
    save_profile(profile)
    return profile


def test_command(saved: Profile, sample: dict[str, int], tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "cli.aiida"
    args = ["-p", "test", str(path), "-N", str(sample["workflow"]), str(sample["calc"]), "-G", "sample/inputs"]
    result = runner.invoke(export_command, [*args, "--no-call-calc-backward", "--compression", "1"])
    assert result.exit_code == 0, result.output
    assert f"Exported to {path}" in result.stdout and result.stderr == ""
    metadata = archive_content(path)["metadata"]
    assert metadata["compression"] == 1
    assert metadata["creation_parameters"]["graph_traversal_rules"]["call_calc_backward"] is False
    assert len(metadata["creation_parameters"]["entities_starting_set"]["node"]) == 2

    again = runner.invoke(export_command, args)
    assert again.exit_code == 1 and again.stderr.strip().endswith("already exists (use overwrite)")
    assert "Traceback" not in again.output and len(again.stderr.strip().splitlines()) == 1

    for bad, message in [
        (["-p", "test", str(tmp_path / "x.aiida"), "-N", "999999"], "no node with the identifier(s) 999999"),
        (["-p", "test", str(tmp_path / "x.aiida"), "-G", "nope"], "no group with the identifier(s) 'nope'"),
        (["-p", "test", str(tmp_path / "x.aiida"), "-X", "nope"], "no computer with the identifier(s) 'nope'"),
        (["-p", "test", str(tmp_path / "x.aiida")], "nothing to export"),
        (["-p", "test", str(tmp_path / "no" / "x.aiida"), "--all"], "does not exist"),
        (["-p", "nosuchprofile", str(tmp_path / "x.aiida"), "--all"], "nosuchprofile"),
    ]:
        failed = runner.invoke(export_command, bad)
        assert failed.exit_code == 1, failed.output
        assert message in failed.stderr and len(failed.stderr.strip().splitlines()) == 1, failed.stderr
        assert "Traceback" not in failed.output
        assert not (tmp_path / "x.aiida").exists()
    dry = runner.invoke(export_command, ["-p", "test", str(tmp_path / "d.aiida"), "--all", "--dry-run"])
    assert dry.exit_code == 0 and "Would export" in dry.stdout and not (tmp_path / "d.aiida").exists()
    usage = runner.invoke(export_command, ["-p", "test", str(tmp_path / "x.aiida"), "--all", "--compression", "12"])
    assert usage.exit_code == 2


def test_command_toggles_are_aiidas_and_its_import_is_light() -> None:
    assert [(name, default) for name, _, default in TOGGLES] == [
        (rule.name, rule.default) for rule in rules.EXPORT.rules if rule.toggleable
    ]
    heavy = ("psycopg", "disk_objectstore", "sqlalchemy", "fastdos.backend", "fastdos.db", "fastdos.errors")
    code = f"import sys, fastdos.exporter.command; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
