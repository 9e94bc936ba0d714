"""Interoperability with aiida-core 2.9.4: the same storage is usable by aiida's PsqlDosBackend and by fastdos.

aiida-core runs in its own venv (``.venv-aiida``, made by ``tests/aiida/setup_env.sh``; ``make test`` builds
it) through ``tests/aiida/ops.py`` in a subprocess, so its pins never touch fastdos' environment. Both sides
work on the real database and container of the ``profile``/``empty_db`` fixtures.

Unix-socket servers (the embedded cluster: the hostname is a directory): aiida 2.9.4 pastes
``database_hostname`` into a SQLAlchemy URL, where a path is misparsed as part of the database name (and
libpq then silently tries the *default* socket). The route that works for both tools is the libpq one:
``database_hostname`` empty (aiida turns None into an empty URL host) and ``PGHOST=<socket dir>`` in the
environment; :func:`aiida_storage_config` does that translation.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.errors import CorruptStorage
from fastdos.migrator import REPOSITORY_UUID_KEY
from fastdos.profile import Profile
from tests.aiida.snapshot import (
    diff_snapshots,
    import_groups,
    missing_objects,
    referenced_keys,
    snapshot,
    without_import_groups,
)
from tests.catalog import describe_catalog, diff_catalogs
from tests.conftest import PgServer, make_profile
from tests.helpers import insert_node, insert_user

ROOT = Path(__file__).resolve().parent.parent
AIIDA_PYTHON = ROOT / ".venv-aiida" / "bin" / "python"
OPS = ROOT / "tests" / "aiida" / "ops.py"
# aiida's import plus one storage operation takes 2-3 s; a generous bound still catches a hung connection.
OPS_TIMEOUT = 300

pytestmark = [
    pytest.mark.aiida,
    pytest.mark.skipif(
        not AIIDA_PYTHON.exists(),
        reason=f"aiida-core reference venv missing ({AIIDA_PYTHON}); create it with tests/aiida/setup_env.sh "
        "(make test does this)",
    ),
]


def aiida_storage_config(profile: Profile) -> tuple[dict[str, Any], dict[str, str]]:
    """aiida's ``core.psql_dos`` storage config for ``profile`` and the extra environment it needs.

    A socket-directory host becomes ``database_hostname=None`` + ``PGHOST`` (see the module docstring).
    """
    config: dict[str, Any] = dict(profile.storage_config)
    env: dict[str, str] = {}
    host = config.get("database_hostname")
    if host and str(host).startswith("/"):
        config["database_hostname"] = None
        env["PGHOST"] = str(host)
    return config, env


@dataclass(frozen=True)
class ScriptRun:
    """One run of a script in the aiida venv: exit code, its last ``RESULT:`` JSON (None if none), output."""

    returncode: int
    result: Any
    stdout: str
    stderr: str


def run_aiida_script(
    script: Path, payload: dict[str, Any], profile: Profile, home: Path, *, timeout: float
) -> ScriptRun:
    """Run ``script`` in ``.venv-aiida`` on ``profile``'s storage with ``payload`` (plus ``storage``) on stdin.

    The environment carries no inherited libpq variables: the storage config alone (plus ``PGHOST`` for a
    socket directory) says where to go; ``home`` becomes ``AIIDA_PATH`` so nothing lands in ``~/.aiida``.
    """
    config, extra_env = aiida_storage_config(profile)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(extra_env, AIIDA_PATH=str(home), PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [str(AIIDA_PYTHON), str(script), "-"],
        input=json.dumps({**payload, "storage": config}),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    results = [line[len("RESULT:") :] for line in proc.stdout.splitlines() if line.startswith("RESULT:")]
    return ScriptRun(proc.returncode, json.loads(results[-1]) if results else None, proc.stdout, proc.stderr)


def run_aiida(op: str, profile: Profile, tmp_path: Path, *, expect_error: bool = False, **extra: Any) -> Any:
    """Run ``tests/aiida/ops.py`` operation ``op`` on ``profile``'s storage and return its JSON result.

    With ``expect_error`` the operation must fail with an aiida exception, whose ``{"type", "message"}``
    is returned.
    """
    run = run_aiida_script(
        OPS, {"op": op, "name": profile.name, **extra}, profile, tmp_path / "aiida-home", timeout=OPS_TIMEOUT
    )
    if run.returncode not in (0, 3) or run.result is None:
        pytest.fail(f"aiida op {op!r} failed (exit {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-6000:]}")
    result = run.result
    if expect_error:
        assert run.returncode == 3, f"aiida accepted what it should reject: {result}"
        return result["error"]
    if run.returncode != 0:
        pytest.fail(f"aiida op {op!r} raised {result['error']}")
    return result


def entity_counts(info: dict[str, Any]) -> dict[str, int]:
    return {name: entry["count"] for name, entry in info["entities"].items()}


# --- (a) a fastdos-initialised storage used by aiida, then read back by fastdos --------------------------


def test_aiida_writes_into_fastdos_storage(profile: Profile, conn: psycopg.Connection, tmp_path: Path) -> None:
    assert run_aiida("version_profile", profile, tmp_path) == {"version": "main_0002"}
    opened = run_aiida("open", profile, tmp_path)  # PsqlDosBackend(profile): validation passes
    assert opened["counts"]["nodes"] == 0

    written = run_aiida("populate", profile, tmp_path)
    uuids = written["uuids"]
    assert written["counts"] == {
        "users": 1, "computers": 1, "nodes": 5, "groups": 1, "comments": 1, "logs": 1, "authinfos": 0, "links": 4,
    }  # fmt: skip

    with Backend(profile) as backend:
        info = backend.get_info(detailed=True)
        # fastdos' get_info reports what aiida's reports for the same storage.
        assert entity_counts(info) == entity_counts(written["info"])
        for entity in ("Users", "Computers", "Groups"):
            assert info["entities"][entity] == written["info"]["entities"][entity]
        assert sorted(info["entities"]["Nodes"]["node_types"]) == sorted(
            written["info"]["entities"]["Nodes"]["node_types"]
        )
        assert backend.get_global_variable(REPOSITORY_UUID_KEY) == written["repository_uuid"]
        repository = backend.get_repository()
        assert repository.uuid == written["repository_uuid"]
        assert repository.get_object_content(written["file_key"]) == written["file_content"].encode()

    def node(u: str) -> tuple[Any, ...]:
        row = conn.execute(
            "SELECT node_type, process_type, attributes, extras, repository_metadata FROM db_dbnode WHERE uuid = %s",
            (u,),
        ).fetchone()
        assert row is not None, u
        return tuple(row)

    node_type, process_type, attributes, extras, _ = node(uuids["calc"])
    assert node_type == "process.calculation.calcjob.CalcJobNode."
    assert process_type == "aiida.calculations:core.arithmetic.add"
    assert attributes == written["calc_attributes"]
    assert extras["tag"] == "interop"
    assert node(uuids["dict"])[2] == written["dict_value"]
    assert node(uuids["int"])[2] == {"value": 42}
    folder_meta = node(uuids["folder"])[4]
    assert folder_meta["o"]["sub"]["o"]["file.txt"]["k"] == written["file_key"]

    links = conn.execute(
        "SELECT i.uuid::text, o.uuid::text, l.type, l.label FROM db_dblink l"
        " JOIN db_dbnode i ON i.id = l.input_id JOIN db_dbnode o ON o.id = l.output_id"
    ).fetchall()
    assert sorted(links) == sorted(
        [
            (uuids["int"], uuids["calc"], "input_calc", "x"),
            (uuids["dict"], uuids["calc"], "input_calc", "parameters"),
            (uuids["calc"], uuids["folder"], "create", "retrieved"),
            (uuids["calc"], uuids["result"], "create", "sum"),
        ]
    )
    members = conn.execute(
        "SELECT n.uuid::text FROM db_dbgroup_dbnodes m JOIN db_dbgroup g ON g.id = m.dbgroup_id"
        " JOIN db_dbnode n ON n.id = m.dbnode_id WHERE g.uuid = %s",
        (uuids["group"],),
    ).fetchall()
    assert {r[0] for r in members} == {uuids["int"], uuids["dict"], uuids["calc"], uuids["result"]}
    comment = conn.execute("SELECT content FROM db_dbcomment WHERE uuid = %s", (uuids["comment"],)).fetchone()
    assert comment == ("a comment from aiida",)
    log = conn.execute("SELECT levelname, message, metadata FROM db_dblog WHERE uuid = %s", (uuids["log"],)).fetchone()
    assert log == ("REPORT", "a log from aiida", {"extra": 1})
    computer = conn.execute("SELECT label FROM db_dbcomputer WHERE uuid = %s", (uuids["computer"],)).fetchone()
    assert computer == ("interop-localhost",)


# --- (b) an aiida-initialised storage used by fastdos; identical catalogs ------------------------------


@pytest.fixture
def aiida_profile(pg_server: PgServer, empty_db: str, tmp_path: Path) -> Profile:
    """A storage initialised by aiida-core's ``PsqlDosBackend.initialise`` on an empty database."""
    prof = make_profile(pg_server, empty_db, tmp_path / "aiida-repo", name="aiida-made")
    result = run_aiida("initialise", prof, tmp_path)
    assert result == {"created": True, "version": "main_0002"}
    return prof


def test_aiida_initialised_storage_opens_in_fastdos(aiida_profile: Profile, tmp_path: Path) -> None:
    assert Backend.version_profile(aiida_profile) == "main_0002"
    with Backend(aiida_profile) as backend:
        info = backend.get_info()
        assert set(entity_counts(info).values()) == {0}
        # settings written by fastdos are read by aiida and the other way round
        backend.set_global_variable("interop|from_fastdos", {"a": [1, 2]}, description="fastdos")
        assert run_aiida("setting", aiida_profile, tmp_path, key="interop|from_fastdos") == {"value": {"a": [1, 2]}}
        run_aiida("setting", aiida_profile, tmp_path, key="interop|from_aiida", value="v1", description="aiida")
        assert backend.get_global_variable("interop|from_aiida") == "v1"
        backend.set_global_variable("interop|from_aiida", "v2")
        assert run_aiida("setting", aiida_profile, tmp_path, key="interop|from_aiida") == {"value": "v2"}
        assert backend.get_global_variable(REPOSITORY_UUID_KEY) == backend.get_repository().uuid


def test_aiida_initialised_catalog_equals_fastdos(aiida_profile: Profile, conn: psycopg.Connection) -> None:
    with psycopg.connect(aiida_profile.conninfo(), autocommit=True) as aiida_conn:
        made_by_aiida = describe_catalog(aiida_conn)
    made_by_fastdos = describe_catalog(conn)
    differences = diff_catalogs(made_by_aiida, made_by_fastdos)
    assert differences == [], "catalog of the fastdos-initialised DB differs from aiida's:\n" + "\n".join(differences)


def test_aiida_initialised_settings_rows_match_fastdos(aiida_profile: Profile, conn: psycopg.Connection) -> None:
    """Both initialisers write the same settings keys and alembic version."""
    with psycopg.connect(aiida_profile.conninfo(), autocommit=True) as aiida_conn:
        aiida_rows = aiida_conn.execute("SELECT key, description FROM db_dbsetting ORDER BY key").fetchall()
        aiida_version = aiida_conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert conn.execute("SELECT key, description FROM db_dbsetting ORDER BY key").fetchall() == aiida_rows
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == aiida_version == [("main_0002",)]


# --- (c) clearing by one side leaves the storage usable by the other ------------------------------------


def test_fastdos_clear_leaves_storage_usable_by_aiida(profile: Profile, tmp_path: Path) -> None:
    written = run_aiida("populate", profile, tmp_path)
    with Backend(profile) as backend:
        backend._clear()
        new_uuid = backend.get_repository().uuid
        assert backend.get_global_variable("repository|uuid") == new_uuid != written["repository_uuid"]
    opened = run_aiida("open", profile, tmp_path)
    assert set(opened["counts"].values()) == {0}
    # aiida can write again (same emails, labels and uuids-free content as before: no stale rows clash).
    again = run_aiida("populate", profile, tmp_path)
    assert again["counts"]["nodes"] == 5
    assert again["repository_uuid"] == new_uuid


def test_aiida_clear_leaves_storage_usable_by_fastdos(
    profile: Profile, conn: psycopg.Connection, tmp_path: Path
) -> None:
    user = insert_user(conn, "fastdos@example.org")
    insert_node(conn, user)
    with Backend(profile) as backend:
        key = backend.get_repository().put_object_from_filelike(io.BytesIO(b"fastdos object"))
        old_uuid = backend.get_repository().uuid
    cleared = run_aiida("clear", profile, tmp_path)
    assert set(cleared["counts"].values()) == {0}
    assert cleared["repository_uuid"] != old_uuid
    with Backend(profile) as backend:  # validates: repository|uuid matches the new container
        assert set(entity_counts(backend.get_info()).values()) == {0}
        assert backend.get_repository().uuid == cleared["repository_uuid"]
        assert not backend.get_repository().has_object(key)
        user = insert_user(conn, "fastdos@example.org")  # the old row is really gone: no unique clash
        insert_node(conn, user)
        assert entity_counts(backend.get_info())["Nodes"] == 1


# --- bad input: both tools reject the same broken storages ----------------------------------------------


def test_both_reject_repository_uuid_mismatch(profile: Profile, conn: psycopg.Connection, tmp_path: Path) -> None:
    from psycopg.types.json import Jsonb

    conn.execute("UPDATE db_dbsetting SET val = %s WHERE key = %s", (Jsonb(uuid.uuid4().hex), REPOSITORY_UUID_KEY))
    error = run_aiida("open", profile, tmp_path, expect_error=True)
    assert error["type"] == "CorruptStorage"
    with pytest.raises(CorruptStorage):
        Backend(profile)


def test_both_see_an_empty_database_as_uninitialised(pg_server: PgServer, empty_db: str, tmp_path: Path) -> None:
    prof = make_profile(pg_server, empty_db, tmp_path / "repo")
    assert run_aiida("version_profile", prof, tmp_path) == {"version": None}
    assert Backend.version_profile(prof) is None
    error = run_aiida("open", prof, tmp_path, expect_error=True)
    assert error["type"] in {"IncompatibleStorageSchema", "UnreachableStorage"}, error


# --- the committed sample archive: aiida's reference import into a fastdos storage ----------------------

SAMPLE_ARCHIVE = ROOT / "tests" / "data" / "archives" / "sample.aiida"


def test_aiida_imports_sample_archive_into_fastdos_storage(
    profile: Profile, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """aiida-core's own import of ``sample.aiida`` lands in a fastdos storage that fastdos then reads."""
    result = run_aiida("import_archive", profile, tmp_path, path=str(SAMPLE_ARCHIVE))
    counts = result["counts"]
    # the sample's contents (make_sample_archive.py: 25 units) plus the import group and the profile's user
    assert counts == {
        "users": 3, "computers": 1, "nodes": 375, "groups": 3, "comments": 25, "logs": 25, "authinfos": 0, "links": 550,
    }  # fmt: skip
    assert result["import_group"]["size"] == 375
    assert result["user_emails"] == ["aiida-interop@example.org", "alice@example.org", "bob@example.org"]
    with Backend(profile) as backend:
        info = backend.get_info()
        assert entity_counts(info) == {
            "Users": 3, "Computers": 1, "Nodes": 375, "Groups": 3, "Comments": 25, "Logs": 25, "Links": 550,
        }  # fmt: skip
        repository = backend.get_repository()
        keys = list(repository.list_objects())
        assert len(keys) == result["repository_objects"] == 100
        for key in keys[:10]:
            assert repository.get_object_hash(key) == key
    group_types = conn.execute("SELECT type_string, count(*) FROM db_dbgroup GROUP BY 1 ORDER BY 1").fetchall()
    assert group_types == [("core", 2), ("core.import", 1)]


# --- reference material for the archive importer: aiida's import, snapshot comparison --------------------


@pytest.fixture
def second_profile(pg_server: PgServer, empty_db: str, tmp_path: Path) -> Profile:
    """A second fastdos-initialised storage on the same server."""
    prof = make_profile(pg_server, empty_db, tmp_path / "second-repo", name="second")
    Backend.initialise(prof)
    return prof


def test_reference_import_snapshots(
    profile: Profile, second_profile: Profile, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """Two aiida imports of the sample give equal snapshots (import group label aside); a re-import adds
    nothing; the repository holds every referenced object; the snapshot diff sees a changed attribute."""
    run_aiida("import_archive", profile, tmp_path, path=str(SAMPLE_ARCHIVE))
    run_aiida("import_archive", second_profile, tmp_path, path=str(SAMPLE_ARCHIVE))
    first = snapshot(conn)
    with psycopg.connect(second_profile.conninfo(), autocommit=True) as second_conn:
        second = snapshot(second_conn)
        # every import makes a new import group (new uuid, label = import time): compared by members only
        diff = diff_snapshots(without_import_groups(first), without_import_groups(second))
        assert diff == [], "\n".join(diff)
        assert [sorted(g["members"]) for g in import_groups(first)] == [sorted(first["nodes"])]
        assert [sorted(g["members"]) for g in import_groups(second)] == [sorted(first["nodes"])]
        assert len(referenced_keys(first)) == 100
        assert missing_objects(second, second_profile.container_path) == []

        again = run_aiida("import_archive", second_profile, tmp_path, path=str(SAMPLE_ARCHIVE))
        assert again["counts"]["nodes"] == 375 and again["counts"]["links"] == 550
        after = snapshot(second_conn)
        assert diff_snapshots(without_import_groups(second), without_import_groups(after)) == []
        # aiida makes a second import group even when every node already existed
        assert [len(g["members"]) for g in import_groups(after)] == [375, 375]

        some_node = next(iter(first["nodes"]))
        second_conn.execute("UPDATE db_dbnode SET extras = '{\"changed\": 1}' WHERE uuid = %s", (some_node,))
        assert diff_snapshots(without_import_groups(first), without_import_groups(snapshot(second_conn))) == [
            f"nodes[{some_node!r}].extras: expected {first['nodes'][some_node]['extras']!r}, got {{'changed': 1}}"
        ]
    with Backend(profile):
        pass  # still a valid fastdos storage after aiida's import
