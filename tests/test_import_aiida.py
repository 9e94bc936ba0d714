"""fastdos' archive import against aiida-core's (2.9.4, ``.venv-aiida``), entity by entity.

aiida imports the archive into one fastdos-initialised storage, fastdos into another on the same server; the
id-free snapshots of ``tests/aiida/snapshot.py`` (uuids, attributes, extras, links, groups and memberships,
comments, logs, users, computers) must be equal, and both repositories must hold every referenced object
with content matching its key. The same holds after a re-import into the now non-empty storages, and for a
target that already has clashing labels.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from fastdos.backend import Backend
from fastdos.importer import import_archive
from fastdos.profile import Profile
from tests.aiida.ops import DEFAULT_EMAIL
from tests.aiida.snapshot import (
    diff_snapshots,
    import_groups,
    missing_objects,
    referenced_keys,
    snapshot,
    without_import_groups,
)
from tests.conftest import PgServer, make_profile
from tests.test_aiida_interop import AIIDA_PYTHON, SAMPLE_ARCHIVE, run_aiida

pytestmark = [
    pytest.mark.aiida,
    pytest.mark.skipif(not AIIDA_PYTHON.exists(), reason=f"aiida-core reference venv missing ({AIIDA_PYTHON})"),
]


@pytest.fixture
def fastdos_profile(pg_server: PgServer, empty_db: str, tmp_path: Path) -> Profile:
    """A second fastdos-initialised storage whose default user is the one aiida's side creates."""
    prof = make_profile(pg_server, empty_db, tmp_path / "fastdos-repo", name="fastdos-import")
    prof.default_user_email = DEFAULT_EMAIL
    Backend.initialise(prof)
    return prof


def compare(aiida_conn: psycopg.Connection, fastdos_conn: psycopg.Connection, fastdos_profile: Profile) -> dict:
    reference, ours = snapshot(aiida_conn), snapshot(fastdos_conn)
    diff = diff_snapshots(without_import_groups(reference), without_import_groups(ours))
    assert diff == [], "\n".join(diff)
    assert [sorted(g["members"]) for g in import_groups(reference)] == [
        sorted(g["members"]) for g in import_groups(ours)
    ]
    assert [(g["description"], g["user"]) for g in import_groups(reference)] == [
        (g["description"], g["user"]) for g in import_groups(ours)
    ]
    assert referenced_keys(ours) == referenced_keys(reference)
    assert missing_objects(ours, fastdos_profile.container_path) == []
    return ours


def test_sample_import_equals_aiida(
    profile: Profile, conn: psycopg.Connection, fastdos_profile: Profile, tmp_path: Path
) -> None:
    run_aiida("import_archive", profile, tmp_path, path=str(SAMPLE_ARCHIVE))
    with Backend(fastdos_profile) as backend:
        report = import_archive(backend, SAMPLE_ARCHIVE)
    assert report.stages["nodes"].new == 375
    with psycopg.connect(fastdos_profile.conninfo(), autocommit=True) as ours:
        first = compare(conn, ours, fastdos_profile)
        assert len(referenced_keys(first)) == 100

        # re-import into the non-empty storages: both add only a second import group of every node
        run_aiida("import_archive", profile, tmp_path, path=str(SAMPLE_ARCHIVE))
        with Backend(fastdos_profile) as backend:
            again = import_archive(backend, SAMPLE_ARCHIVE)
        assert again.stages["nodes"].existing == 375 and again.stages["links"].new == 0
        second = compare(conn, ours, fastdos_profile)
        assert [len(g["members"]) for g in import_groups(second)] == [375, 375]


def test_import_into_storage_with_clashing_labels_equals_aiida(
    profile: Profile, conn: psycopg.Connection, fastdos_profile: Profile, tmp_path: Path
) -> None:
    """Both targets hold a computer and groups whose labels clash with the archive's (same uuids on both
    sides), and a node of their own: both importers rename the same way and leave the rest alone."""
    seed = [
        "INSERT INTO db_dbuser (email, first_name, last_name, institution) VALUES ('seed@x.org', 'S', 'E', 'D')",
        "INSERT INTO db_dbcomputer (uuid, label, hostname, description, scheduler_type, transport_type, metadata)"
        " VALUES ('11111111-1111-4111-8111-111111111111', 'localhost-sample', 'h', '', 'core.direct',"
        " 'core.local', '{}')",
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id) SELECT"
        " '22222222-2222-4222-8222-222222222222', 'sample/inputs', 'core', '2020-01-01T00:00:00+00:00', '',"
        " '{}', id FROM db_dbuser WHERE email = 'seed@x.org'",
        "INSERT INTO db_dbnode (uuid, node_type, process_type, label, description, ctime, mtime, attributes,"
        " extras, repository_metadata, dbcomputer_id, user_id) SELECT '33333333-3333-4333-8333-333333333333',"
        " 'data.core.int.Int.', NULL, 'seed', '', '2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00',"
        " '{\"value\": 1}', '{}', '{}', NULL, id FROM db_dbuser WHERE email = 'seed@x.org'",
    ]
    with psycopg.connect(fastdos_profile.conninfo(), autocommit=True) as ours:
        for statement in seed:
            conn.execute(statement)
            ours.execute(statement)
        run_aiida("import_archive", profile, tmp_path, path=str(SAMPLE_ARCHIVE))
        with Backend(fastdos_profile) as backend:
            import_archive(backend, SAMPLE_ARCHIVE)
        result = compare(conn, ours, fastdos_profile)
    labels = sorted(g["label"] for g in result["groups"].values() if g["type_string"] == "core")
    assert labels == ["sample/inputs", "sample/inputs (Imported #0)", "sample/workflows"]
    assert sorted(c["label"] for c in result["computers"].values()) == [
        "localhost-sample",
        "localhost-sample (Imported #0)",
    ]
