"""Archive import (fastdos.importer) on the committed sample: aiida-core's semantics, one transaction, bad input.

Malformed archives are built from ``tests/data/archives/sample.aiida`` in each test: the zip is rewritten with
``zipfile`` and its SQLite database changed with ``sqlite3`` (:func:`rewrite`, :func:`with_sql`).
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos.archive import (
    ArchiveError,
    ArchiveReader,
    ImportValidationError,
    IncompatibleArchiveVersion,
)
from fastdos.backend import Backend
from fastdos.errors import IncompatibleStorageSchema, ValidationError
from fastdos.importer import import_archive
from fastdos.profile import Profile

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "data" / "archives" / "sample.aiida"
TABLES = ("db_dbuser", "db_dbcomputer", "db_dbauthinfo", "db_dbnode", "db_dblink", "db_dbgroup",
          "db_dbgroup_dbnodes", "db_dbcomment", "db_dblog")  # fmt: skip
SAMPLE_COUNTS = {"db_dbuser": 2, "db_dbcomputer": 1, "db_dbauthinfo": 0, "db_dbnode": 375, "db_dblink": 550,
                 "db_dbgroup": 3, "db_dbgroup_dbnodes": 175 + 375, "db_dbcomment": 25, "db_dblog": 25}  # fmt: skip


# --- helpers: counts, archive rewriting -----------------------------------------------------------------


def counts(conn: psycopg.Connection) -> dict[str, int]:
    result = {}
    for table in TABLES:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        result[table] = int(row[0])
    return result


def object_count(profile: Profile) -> tuple[int, int]:
    """(loose, packed) objects of the profile's container."""
    from disk_objectstore import Container

    with Container(str(profile.container_path)) as container:
        found = container.count_objects()
        return int(found.loose), int(found.packed)


def rewrite(
    dst: Path, *, drop: tuple[str, ...] = (), replace: Mapping[str, bytes] | None = None, src: Path = SAMPLE
) -> Path:
    """A copy of the archive ``src`` without the members ``drop`` and with ``replace``d member contents."""
    replace = dict(replace or {})
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            if info.filename in drop:
                continue
            data = replace.pop(info.filename, None)
            new.writestr(info.filename, old.read(info) if data is None else data)
        for name, data in replace.items():
            new.writestr(name, data)
    return dst


def with_sql(tmp_path: Path, *statements: str, name: str = "changed.aiida") -> Path:
    """A copy of the sample whose db.sqlite3 had ``statements`` applied."""
    work = tmp_path / "sqlite-work"
    work.mkdir(exist_ok=True)
    with zipfile.ZipFile(SAMPLE) as archive:
        database = Path(archive.extract("db.sqlite3", work))
    con = sqlite3.connect(database)
    for statement in statements:
        con.execute(statement)
    con.commit()
    con.close()
    return rewrite(tmp_path / name, replace={"db.sqlite3": database.read_bytes()})


def sample_keys() -> list[str]:
    with zipfile.ZipFile(SAMPLE) as archive:
        return sorted(n[len("repo/") :] for n in archive.namelist() if n.startswith("repo/"))


@pytest.fixture
def untouched(conn: psycopg.Connection, profile: Profile) -> Iterator[None]:
    """Asserts after the test that the database is empty and no object was referenced."""
    before = counts(conn)
    yield
    assert counts(conn) == before


# --- the sample ---------------------------------------------------------------------------------------


def test_import_sample(backend: Backend, conn: psycopg.Connection, profile: Profile) -> None:
    events: list[tuple[str, int, int]] = []
    report = import_archive(backend, SAMPLE, progress=lambda s, d, t: events.append((s, d, t)))
    assert counts(conn) == SAMPLE_COUNTS
    assert {name: (s.new, s.existing) for name, s in report.stages.items()} == {
        "users": (2, 0), "computers": (1, 0), "nodes": (375, 0), "logs": (25, 0), "comments": (25, 0),
        "links": (550, 0), "groups": (2, 0), "import group": (1, 0), "constraints": (0, 0), "repository": (100, 0),
    }  # fmt: skip
    assert report.load_mode == "foreign keys"  # 550 links, 175 + 375 memberships: their keys re-validated
    # every stage starts at 0 and ends at its total, never goes back
    for stage in report.stages:
        seen = [(d, t) for s, d, t in events if s == stage]
        assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1]
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert [s for s, d, _ in events if d == 0] == list(report.stages)
    lines = report.lines()
    assert lines[0].startswith("Imported sample.aiida in ") and any("rows/s" in line for line in lines)
    # the import group: core.import, labelled with local time, holding every node
    assert report.import_group is not None
    group_id, label = report.import_group
    row = conn.execute("SELECT type_string, label, description FROM db_dbgroup WHERE id = %s", (group_id,)).fetchone()
    assert row == ("core.import", label, "Group generated by archive import")
    assert len(label) == len("20260101-120000") and label[8] == "-"
    assert conn.execute("SELECT count(*) FROM db_dbgroup_dbnodes WHERE dbgroup_id = %s", (group_id,)).fetchone() == (
        375,
    )
    # private extras and checkpoints are gone; the node rows keep uuid, ctime and mtime of the archive
    assert conn.execute("SELECT count(*) FROM db_dbnode WHERE extras::text LIKE '%%_aiida_%%'").fetchone() == (0,)
    with ArchiveReader(SAMPLE) as reader:
        first = next(reader.rows("nodes"))
    row = conn.execute("SELECT ctime, mtime, extras FROM db_dbnode WHERE uuid = %s", (first[1],)).fetchone()
    assert row is not None
    assert row[0].isoformat(sep=" ").startswith(first[6]) and row[1].isoformat(sep=" ").startswith(first[7])
    assert row[2] == {k: v for k, v in json.loads(first[9]).items() if not k.startswith("_aiida_")}
    # repository: every object, in packs (the backend's own shared access upgrades to exclusive)
    assert report.objects_mode == "packed"
    assert object_count(profile) == (0, 100)
    repository = backend.get_repository()
    for key in sample_keys()[:20]:
        import hashlib

        assert hashlib.sha256(repository.get_object_content(key)).hexdigest() == key
    assert backend.get_unreferenced_keyset() == set()


def test_reimport_adds_nothing_but_an_import_group(backend: Backend, conn: psycopg.Connection) -> None:
    import_archive(backend, SAMPLE)
    nodes_before = conn.execute("SELECT uuid, mtime, extras FROM db_dbnode ORDER BY uuid").fetchall()
    report = import_archive(backend, SAMPLE)
    assert {name: s.new for name, s in report.stages.items()} == {
        "users": 0, "computers": 0, "nodes": 0, "logs": 0, "comments": 0, "links": 0, "groups": 0,
        "import group": 1, "repository": 0,
    }  # fmt: skip
    assert report.stages["nodes"].existing == 375 and report.stages["links"].existing == 550
    after = counts(conn)
    assert after == {**SAMPLE_COUNTS, "db_dbgroup": 4, "db_dbgroup_dbnodes": 175 + 2 * 375}
    # the default ('k','n','l') leaves existing nodes untouched (no mtime bump)
    assert conn.execute("SELECT uuid, mtime, extras FROM db_dbnode ORDER BY uuid").fetchall() == nodes_before
    labels = [r[0] for r in conn.execute("SELECT label FROM db_dbgroup WHERE type_string = 'core.import' ORDER BY id")]
    assert (len(labels) == 2 and labels[1] in (labels[0], f"{labels[0]} (Imported #0)")) or labels[0] != labels[1]


def test_deleted_links_are_added_again(backend: Backend, conn: psycopg.Connection) -> None:
    import_archive(backend, SAMPLE)
    conn.execute("DELETE FROM db_dblink WHERE type = 'return'")
    report = import_archive(backend, SAMPLE, import_group=False)
    assert report.stages["links"].new == 50 and report.stages["links"].existing == 500
    assert counts(conn)["db_dblink"] == 550


def test_label_clashes_are_renamed(backend: Backend, conn: psycopg.Connection) -> None:
    user = conn.execute("INSERT INTO db_dbuser (email, first_name, last_name, institution) "
                        "VALUES ('x@y.z', '', '', '') RETURNING id").fetchone()  # fmt: skip
    assert user is not None
    conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id) VALUES "
        "(gen_random_uuid(), 'sample/inputs', 'other', now(), '', '{}', %(u)s),"
        "(gen_random_uuid(), 'sample/inputs (Imported #0)', 'core', now(), '', '{}', %(u)s)",
        {"u": user[0]},
    )
    conn.execute(
        "INSERT INTO db_dbcomputer (uuid, label, hostname, description, scheduler_type, transport_type, metadata)"
        " VALUES (gen_random_uuid(), 'localhost-sample', '', '', '', '', '{}')"
    )
    report = import_archive(backend, SAMPLE)
    labels = {r[0] for r in conn.execute("SELECT label FROM db_dbgroup WHERE type_string = 'core'")}
    assert labels == {"sample/inputs (Imported #0)", "sample/inputs (Imported #1)", "sample/workflows"}
    computers = {r[0] for r in conn.execute("SELECT label FROM db_dbcomputer")}
    assert computers == {"localhost-sample", "localhost-sample (Imported #0)"}
    assert "relabelled" in report.stages["groups"].extra and "relabelled" in report.stages["computers"].extra
    # the archive's nodes point at the imported (renamed) computer
    row = conn.execute("SELECT DISTINCT c.label FROM db_dbnode n JOIN db_dbcomputer c ON c.id = n.dbcomputer_id")
    assert row.fetchall() == [("localhost-sample (Imported #0)",)]


def _aiida_merge(old: dict[str, Any], new: dict[str, Any], mode: str) -> dict[str, Any]:
    """aiida-core's generic _merge_node_extras rule, as the reference."""
    result = {}
    if mode[0] == "k":
        result.update({k: v for k, v in old.items() if k not in new})
    if mode[1] == "c":
        result.update({k: v for k, v in new.items() if k not in old})
    if mode[2] == "u":
        result.update({k: v for k, v in new.items() if k in old})
    elif mode[2] == "l":
        result.update({k: v for k, v in old.items() if k in new})
    return result


@pytest.mark.parametrize("mode", ["knl", "kcl", "kcu", "ncu", "kcd", "nnd", "ncl", "knu"])
def test_merge_extras_modes(backend: Backend, conn: psycopg.Connection, mode: str) -> None:
    import_archive(backend, SAMPLE, import_group=False)
    with ArchiveReader(SAMPLE) as reader:
        archive_extras = {str(r[1]): json.loads(r[9]) for r in reader.rows("nodes") if r[9] and r[9] != "{}"}
    node = next(u for u, e in archive_extras.items() if "role" in e)  # x of a unit: {"_aiida_hash", unit, role}
    old = {"role": "mine", "only-here": 1}
    conn.execute("UPDATE db_dbnode SET extras = %s WHERE uuid = %s", (json.dumps(old), node))
    mtime = conn.execute("SELECT mtime FROM db_dbnode WHERE uuid = %s", (node,)).fetchone()
    import_archive(backend, SAMPLE, import_group=False, merge_extras=(mode[0], mode[1], mode[2]))
    row = conn.execute("SELECT extras, mtime FROM db_dbnode WHERE uuid = %s", (node,)).fetchone()
    assert row is not None
    expected = old if mode == "knl" else _aiida_merge(old, archive_extras[node], mode)
    assert row[0] == expected
    assert (row[1] == mtime[0]) if mode == "knl" else (mtime is not None and row[1] > mtime[0])


def test_bad_merge_options(backend: Backend, untouched: None) -> None:
    with pytest.raises(ValueError, match="merge_extras"):
        import_archive(backend, SAMPLE, merge_extras=("k", "x", "l"))
    with pytest.raises(ValueError, match="merge_comments"):
        import_archive(backend, SAMPLE, merge_comments="first")  # type: ignore[arg-type]


def test_merge_comments(backend: Backend, conn: psycopg.Connection) -> None:
    import_archive(backend, SAMPLE, import_group=False)
    conn.execute("UPDATE db_dbcomment SET content = 'edited', mtime = mtime - interval '1 day'")
    import_archive(backend, SAMPLE, import_group=False)
    assert conn.execute("SELECT DISTINCT content FROM db_dbcomment").fetchall() == [("edited",)]
    import_archive(backend, SAMPLE, import_group=False, merge_comments="newest")
    assert conn.execute("SELECT count(*) FROM db_dbcomment WHERE content = 'edited'").fetchone() == (0,)
    conn.execute("UPDATE db_dbcomment SET content = 'edited'")
    import_archive(backend, SAMPLE, import_group=False, merge_comments="newest")  # ours are newer now: kept
    assert conn.execute("SELECT count(*) FROM db_dbcomment WHERE content = 'edited'").fetchone() == (25,)
    import_archive(backend, SAMPLE, import_group=False, merge_comments="overwrite")
    assert conn.execute("SELECT count(*) FROM db_dbcomment WHERE content = 'edited'").fetchone() == (0,)


def test_named_group_and_no_import_group(backend: Backend, conn: psycopg.Connection) -> None:
    report = import_archive(backend, SAMPLE, import_group=False)
    assert report.import_group is None and counts(conn)["db_dbgroup"] == 2
    report = import_archive(backend, SAMPLE, group_label="my imports")
    assert report.import_group is not None and report.import_group[1] == "my imports"
    row = conn.execute("SELECT type_string FROM db_dbgroup WHERE label = 'my imports'").fetchone()
    assert row == ("core",)
    again = import_archive(backend, SAMPLE, group_label="my imports")  # existing group: reused, no duplicates
    assert again.import_group == report.import_group and again.stages["import group"].existing == 1
    assert conn.execute(
        "SELECT count(*) FROM db_dbgroup_dbnodes m JOIN db_dbgroup g ON g.id = m.dbgroup_id"
        " WHERE g.label = 'my imports'"
    ).fetchone() == (375,)
    conn.execute(
        "INSERT INTO db_dbgroup (uuid, label, type_string, time, description, extras, user_id)"
        " SELECT gen_random_uuid(), 'my imports', 'other', now(), '', '{}', min(id) FROM db_dbuser"
    )
    with pytest.raises(ValidationError, match="2 groups have the label 'my imports'"):
        import_archive(backend, SAMPLE, group_label="my imports")


def test_import_group_belongs_to_the_default_user(profile: Profile, conn: psycopg.Connection) -> None:
    profile.default_user_email = "owner@example.org"
    with Backend(profile) as backend:
        report = import_archive(backend, SAMPLE)
    assert report.import_group is not None
    row = conn.execute(
        "SELECT u.email FROM db_dbgroup g JOIN db_dbuser u ON u.id = g.user_id WHERE g.id = %s",
        (report.import_group[0],),
    ).fetchone()
    assert row == ("owner@example.org",)


def test_dry_run_changes_nothing(backend: Backend, conn: psycopg.Connection, profile: Profile) -> None:
    report = import_archive(backend, SAMPLE, dry_run=True)
    assert report.dry_run and report.stages["nodes"].new == 375 and report.stages["repository"].new == 100
    assert set(counts(conn).values()) == {0}
    assert object_count(profile) == (0, 0)
    assert any("dry run" in line for line in report.lines())


def test_loose_objects_when_the_profile_is_in_use(backend: Backend, profile: Profile) -> None:
    with Backend(profile):  # a second holder of shared access: no exclusive lock, so loose objects
        report = import_archive(backend, SAMPLE)
    assert report.objects_mode == "loose"
    assert object_count(profile) == (100, 0)
    assert backend.get_unreferenced_keyset() == set()


def test_objects_already_present_are_not_written(backend: Backend, profile: Profile) -> None:
    repository = backend.get_repository()
    with zipfile.ZipFile(SAMPLE) as archive:
        for key in sample_keys()[:30]:
            with archive.open(f"repo/{key}") as handle:
                assert repository.put_object_from_filelike(handle) == key  # type: ignore[arg-type]
    report = import_archive(backend, SAMPLE)
    assert (report.stages["repository"].new, report.stages["repository"].existing) == (70, 30)
    assert object_count(profile) == (30, 70)


def test_cleaning_of_new_nodes(backend: Backend, conn: psycopg.Connection, tmp_path: Path) -> None:
    archive = with_sql(
        tmp_path,
        "UPDATE db_dbnode SET attributes = json_set(attributes, '$.checkpoints', 'x'),"
        " extras = json_set(extras, '$._aiida_cached_from', 'y', '$.kept', 1) WHERE node_type LIKE 'process.%'",
        "UPDATE db_dbnode SET node_type = 'data.core.code.Code.', extras = '{\"hidden\": true, \"k\": 2}',"
        " attributes = json_set(attributes, '$.checkpoints', 'stays') WHERE id = 1",
    )
    import_archive(backend, archive)
    assert conn.execute(
        "SELECT count(*) FROM db_dbnode WHERE attributes ? 'checkpoints' OR extras::text LIKE '%%_aiida_%%'"
        " AND node_type LIKE 'process.%%'"
    ).fetchone() == (1,)  # only the code node keeps its checkpoints attribute (not a process)
    assert conn.execute("SELECT count(*) FROM db_dbnode WHERE extras ? 'kept'").fetchone() == (100,)  # 4 per unit
    assert conn.execute("SELECT extras FROM db_dbnode WHERE node_type = 'data.core.code.Code.'").fetchone() == (
        {"k": 2},
    )


def test_authinfos(backend: Backend, conn: psycopg.Connection, tmp_path: Path) -> None:
    archive = with_sql(
        tmp_path,
        "INSERT INTO db_dbauthinfo (id, aiidauser_id, dbcomputer_id, metadata, auth_params, enabled)"
        ' VALUES (1, 1, 1, \'{"safe_interval": 1}\', \'{"key": "v"}\', 1)',
    )
    import_archive(backend, archive)
    assert counts(conn)["db_dbauthinfo"] == 0
    report = import_archive(backend, archive, include_authinfos=True)
    assert report.stages["authinfos"].new == 1
    row = conn.execute("SELECT metadata, auth_params, enabled FROM db_dbauthinfo").fetchone()
    assert row == ({"safe_interval": 1}, {"key": "v"}, True)
    assert import_archive(backend, archive, include_authinfos=True).stages["authinfos"].existing == 1


# --- bad input: the storage stays as it was --------------------------------------------------------------


def test_not_a_zip(backend: Backend, tmp_path: Path, untouched: None) -> None:
    path = tmp_path / "text.aiida"
    path.write_text("not an archive\n")
    with pytest.raises(ArchiveError, match="not a readable zip"):
        import_archive(backend, path)
    with pytest.raises(ArchiveError, match="does not exist"):
        import_archive(backend, tmp_path / "absent.aiida")


def test_truncated_zip(backend: Backend, tmp_path: Path, untouched: None) -> None:
    data = SAMPLE.read_bytes()
    for size in (len(data) // 2, len(data) - 100):
        path = tmp_path / f"cut{size}.aiida"
        path.write_bytes(data[:size])
        with pytest.raises(ArchiveError, match="zip"):
            import_archive(backend, path)


def test_damaged_member(backend: Backend, tmp_path: Path, untouched: None) -> None:
    """Central directory intact, compressed db.sqlite3 bytes damaged: a CRC/inflate error, named."""
    data = bytearray(SAMPLE.read_bytes())
    with zipfile.ZipFile(SAMPLE) as archive:
        info = archive.getinfo("db.sqlite3")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 2000
    data[start : start + 64] = bytes(64)
    path = tmp_path / "damaged.aiida"
    path.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="db.sqlite3 cannot be read"):
        import_archive(backend, path)


def test_zip_without_metadata(backend: Backend, tmp_path: Path, untouched: None) -> None:
    with pytest.raises(ArchiveError, match="no metadata.json"):
        import_archive(backend, rewrite(tmp_path / "x.aiida", drop=("metadata.json",)))
    with pytest.raises(ArchiveError, match="no db.sqlite3"):
        import_archive(backend, rewrite(tmp_path / "y.aiida", drop=("db.sqlite3",)))
    with pytest.raises(ArchiveError, match="not valid JSON"):
        import_archive(backend, rewrite(tmp_path / "z.aiida", replace={"metadata.json": b"{"}))


def test_other_archive_version(backend: Backend, tmp_path: Path, untouched: None) -> None:
    with zipfile.ZipFile(SAMPLE) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    for version in ("main_0000a", "0.9"):
        path = rewrite(tmp_path / "old.aiida", replace={"metadata.json": json.dumps({**metadata,
                       "export_version": version}).encode()})  # fmt: skip
        with pytest.raises(IncompatibleArchiveVersion, match=f"version '{version}'.*verdi archive migrate") as info:
            import_archive(backend, path)
        assert isinstance(info.value, IncompatibleStorageSchema)


def test_corrupt_sqlite(backend: Backend, tmp_path: Path, untouched: None) -> None:
    with pytest.raises(ArchiveError, match="corrupt"):
        import_archive(backend, rewrite(tmp_path / "x.aiida", replace={"db.sqlite3": b"garbage" * 1000}))
    with zipfile.ZipFile(SAMPLE) as archive:
        database = bytearray(archive.read("db.sqlite3"))
    database[len(database) // 2 :] = bytes(len(database) - len(database) // 2)  # half the pages zeroed
    with pytest.raises(ArchiveError, match="corrupt"):
        import_archive(backend, rewrite(tmp_path / "y.aiida", replace={"db.sqlite3": bytes(database)}))
    with pytest.raises(ArchiveError, match="lacks the tables"):
        import_archive(backend, with_sql(tmp_path, "DROP TABLE db_dblog", name="z.aiida"))


BAD_LINKS: dict[str, tuple[str, str]] = {
    "self-link": ("INSERT INTO db_dblink (id, input_id, output_id, label, type) SELECT 9999, id, id, 'me',"
                  " 'input_calc' FROM db_dbnode WHERE node_type LIKE 'process.calculation.%' LIMIT 1",
                  "from a node to itself"),
    "input kind": ("UPDATE db_dblink SET type = 'input_calc' WHERE id = (SELECT min(id) FROM db_dblink"
                   " WHERE type = 'create')", "input node is not a data"),
    "output kind": ("UPDATE db_dblink SET type = 'input_work' WHERE id = (SELECT min(id) FROM db_dblink"
                    " WHERE type = 'input_calc')", "output node is not a process.workflow"),
    "two creators": ("INSERT INTO db_dblink (id, input_id, output_id, label, type) SELECT 9999, input_id, output_id,"
                     " 'again', 'create' FROM db_dblink WHERE type = 'create' LIMIT 1", "two incoming links"),
    "input label twice": ("INSERT INTO db_dblink (id, input_id, output_id, label, type) SELECT 9999, l.input_id,"
                          " (SELECT min(id) FROM db_dbnode WHERE node_type LIKE 'data.%' AND id NOT IN"
                          " (SELECT output_id FROM db_dblink WHERE type = 'return')), l.label, 'return'"
                          " FROM db_dblink l WHERE l.type = 'return' LIMIT 1", "two outgoing links"),
    "unknown type": ("UPDATE db_dblink SET type = 'mystery' WHERE id = 1", "unknown link types \\['mystery'\\]"),
    "unknown node": ("UPDATE db_dblink SET output_id = 123456 WHERE id = 7", "not in the archive: link 7 "),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_LINKS))
def test_links_breaking_the_rules(backend: Backend, tmp_path: Path, untouched: None, case: str) -> None:
    statement, message = BAD_LINKS[case]
    with pytest.raises(ImportValidationError, match=message):
        import_archive(backend, with_sql(tmp_path, statement))


def test_link_clashing_with_the_target(backend: Backend, conn: psycopg.Connection, tmp_path: Path) -> None:
    """A create link with another label to an output that the target already has a creator for."""
    import_archive(backend, SAMPLE)
    before = counts(conn)
    archive = with_sql(tmp_path, "UPDATE db_dblink SET label = 'renamed' WHERE id = (SELECT min(id) FROM db_dblink"
                                 " WHERE type = 'create')")  # fmt: skip
    with pytest.raises(ImportValidationError, match="two incoming links of this type"):
        import_archive(backend, archive)
    assert counts(conn) == before


def test_object_content_not_matching_its_key(
    backend: Backend, profile: Profile, tmp_path: Path, untouched: None
) -> None:
    key = sample_keys()[5]
    archive = rewrite(tmp_path / "x.aiida", replace={f"repo/{key}": b"not the content\n"})
    with pytest.raises(ImportValidationError, match=f"repo/{key} does not match its key"):
        import_archive(backend, archive)
    # objects written before the error are only unreferenced: nothing in the database points at them
    assert backend.get_unreferenced_keyset() == set(backend.get_repository().list_objects())


def test_object_missing_from_the_archive(backend: Backend, tmp_path: Path, untouched: None) -> None:
    key = sample_keys()[0]
    with pytest.raises(ImportValidationError, match=key):
        import_archive(backend, rewrite(tmp_path / "x.aiida", drop=(f"repo/{key}",)))


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("DELETE FROM db_dbuser WHERE email = 'bob@example.org'", "refers to user id 2, which is not in the archive"),
        ("DELETE FROM db_dbcomputer", "refers to computer id 1, which is not in the archive"),
        ("UPDATE db_dblog SET dbnode_id = 99999 WHERE id = 3", "Log 3 -> node 99999"),
        ("UPDATE db_dbcomment SET dbnode_id = 99999 WHERE id = 4", "Comment 4 -> node 99999"),
        ("UPDATE db_dbgroup_dbnodes SET dbnode_id = 99999 WHERE id = 5", "-> node 99999"),
        ("UPDATE db_dbnode SET uuid = 'not-a-uuid' WHERE id = 5", "is not a UUID"),
    ],
)
def test_references_missing_from_the_archive(
    backend: Backend, tmp_path: Path, untouched: None, statement: str, message: str
) -> None:
    with pytest.raises(ImportValidationError, match=message):
        import_archive(backend, with_sql(tmp_path, statement))


@pytest.mark.parametrize("stage", ["nodes", "links", "groups", "import group", "repository"])
def test_interrupted_import_leaves_nothing(
    backend: Backend, conn: psycopg.Connection, profile: Profile, stage: str
) -> None:
    before = counts(conn)

    def progress(name: str, done: int, total: int) -> None:
        if name == stage and done > 0:
            raise KeyboardInterrupt(f"stopped during {name}")

    with pytest.raises(KeyboardInterrupt, match=stage):
        import_archive(backend, SAMPLE, progress=progress)
    assert counts(conn) == before
    assert backend.get_unreferenced_keyset() == set(backend.get_repository().list_objects())
    # and the storage is usable: the same import now works
    assert import_archive(backend, SAMPLE).stages["nodes"].new == 375


def test_invalid_json_in_archive(backend: Backend, tmp_path: Path, untouched: None) -> None:
    archive = with_sql(tmp_path, "UPDATE db_dbnode SET attributes = '{\"a\": NaN}' WHERE id = 3")
    with pytest.raises(Exception, match="(?i)json"):
        import_archive(backend, archive)


def test_import_inside_a_caller_transaction_rolls_back_with_it(
    backend: Backend, conn: psycopg.Connection, untouched: None
) -> None:
    class Stop(Exception):
        pass

    with pytest.raises(Stop), backend.transaction():
        import_archive(backend, SAMPLE, import_group=False)
        raise Stop


def test_two_imports_inside_one_caller_transaction(backend: Backend, conn: psycopg.Connection) -> None:
    # the first import leaves no working table behind for the second (inside a caller's transaction the COMMIT
    # that would drop them comes later); the second finds the first one's rows
    with backend.transaction():
        first = import_archive(backend, SAMPLE, import_group=False)
        second = import_archive(backend, SAMPLE, import_group=False)
    assert (first.stages["nodes"].new, second.stages["nodes"].existing) == (375, 375)
    assert second.stages["links"].new == 0 and second.stages["repository"].existing == 100
    assert counts(conn) == {**SAMPLE_COUNTS, "db_dbgroup": 2, "db_dbgroup_dbnodes": 175}


# --- load mode (archives larger than the target, under the exclusive lock) -------------------------------


def schema_objects(conn: psycopg.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        " UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2"
    ).fetchall()
    return [(str(a), str(b)) for a, b in rows]


@pytest.mark.parametrize(
    ("threshold", "dropped"),
    [("LOAD_MODE_MIN_NODES", "indexes and foreign keys"), ("FOREIGN_KEY_MODE_MIN_ROWS", "foreign keys")],
)
def test_load_mode_import_and_rollback(
    backend: Backend,
    conn: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    threshold: str,
    dropped: str,
) -> None:
    from fastdos import importer

    monkeypatch.setattr(importer, threshold, 1)
    schema = schema_objects(conn)
    bad = with_sql(tmp_path, BAD_LINKS["two creators"][0])
    with pytest.raises(ImportValidationError):
        import_archive(backend, bad)
    assert schema_objects(conn) == schema and set(counts(conn).values()) == {0}
    report = import_archive(backend, SAMPLE)
    assert report.load_mode == dropped and "constraints" in report.stages
    assert counts(conn) == SAMPLE_COUNTS and schema_objects(conn) == schema
    again = import_archive(backend, SAMPLE)  # the target is now as large as the archive: no load mode
    assert not again.load_mode and again.stages["nodes"].existing == 375


def test_no_load_mode_without_the_exclusive_lock(
    backend: Backend, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastdos import importer

    monkeypatch.setattr(importer, "LOAD_MODE_MIN_NODES", 1)
    with Backend(profile):
        report = import_archive(backend, SAMPLE)
    assert not report.load_mode and report.objects_mode == "loose"
