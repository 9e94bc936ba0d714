"""The ``fastdos`` storage plugin inside aiida-core 2.9.4, through aiida-core's public API and ``verdi``.

Two profiles of one AiiDA folder, created by ``verdi profile setup`` on two fresh databases: ``ref`` on
aiida-core's ``core.psql_dos`` and ``fast`` on ``fastdos``. Every test runs the same operation on both
(``tests/aiida/plugin_ops.py`` in ``.venv-aiida``, or ``verdi``) and compares: the plugin must give what
aiida-core gives. The profiles live for the module and the tests run the same operations on both in the same
order, so their contents stay equal (each test tags its rows).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos.errors import StorageBackupError
from fastdos.pgclient import find_pg_tool
from tests.conftest import PgServer, create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
AIIDA_BIN = ROOT / ".venv-aiida" / "bin"
FASTDOS_PYTHON = ROOT / ".venv" / "bin" / "python"
OPS = ROOT / "tests" / "aiida" / "plugin_ops.py"
ARCHIVE = ROOT / "tests" / "data" / "archives" / "sample.aiida"
# verdi profile setup migrates a database (~10 s); a hung connection still fails the test.
TIMEOUT = 600
PROFILES = {"ref": "core.psql_dos", "fast": "fastdos"}

pytestmark = [
    pytest.mark.aiida,
    pytest.mark.skipif(
        not (AIIDA_BIN / "python").exists(),
        reason=f"aiida-core venv missing ({AIIDA_BIN}); create it with tests/aiida/setup_env.sh (make test does)",
    ),
]


@dataclass
class AiidaHome:
    """An AiiDA folder (``AIIDA_PATH``) with profiles, on the test server."""

    path: Path
    server: PgServer
    databases: list[str]
    # Folders put before PATH for verdi (e.g. PostgreSQL client programs as new as the server).
    extra_path: list[str] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.path / ".aiida" / "config.json"

    def env(self) -> dict[str, str]:
        # No inherited libpq variables: the profile alone says where the database is. A fixed hash seed makes
        # aiida's messages that print sets identical in two processes.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AIIDA"))}
        host = self.server.params.get("host", "")
        if host.startswith("/"):  # a socket folder: aiida wants it through libpq (test_aiida_interop.py)
            env["PGHOST"] = host
        env.update(
            AIIDA_PATH=str(self.path),
            PYTHONWARNINGS="ignore",
            PYTHONHASHSEED="0",
            PATH=os.pathsep.join([str(AIIDA_BIN), *self.extra_path, os.environ.get("PATH", "")]),
        )
        return env

    def verdi(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(AIIDA_BIN / "verdi"), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if check and proc.returncode != 0:
            pytest.fail(
                f"verdi {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def op(self, op: str, profile: str, *, expect_error: bool = False, **args: Any) -> Any:
        proc = subprocess.run(
            [str(AIIDA_BIN / "python"), str(OPS), "-"],
            input=json.dumps({"op": op, "profile": profile, **args}),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        results = [line[len("RESULT:") :] for line in proc.stdout.splitlines() if line.startswith("RESULT:")]
        if proc.returncode not in (0, 3) or not results:
            pytest.fail(f"{op} on {profile} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
        result = json.loads(results[-1])
        assert (proc.returncode == 3) == expect_error, result
        return result

    def both(self, op: str, **args: Any) -> tuple[Any, Any]:
        """``op`` on the reference profile and on the fastdos one."""
        return self.op(op, "ref", **args), self.op(op, "fast", **args)

    def setup_profile(self, name: str, backend: str) -> None:
        dbname = f"fastdos_aiida_{name}_{uuid.uuid4().hex[:8]}"
        create_database(self.server, dbname)
        self.databases.append(dbname)
        params = self.server.params
        host = params.get("host", "")
        self.verdi(
            "profile", "setup", backend, "-n", "--profile-name", name, "--email", f"{name}@example.org",
            "--first-name", "F", "--last-name", "L", "--institution", "I", "--broker", "none",
            "--database-hostname", "" if host.startswith("/") else host, "--database-port", params.get("port", "5432"),
            "--database-username", params.get("user", "postgres"), "--database-password", params.get("password", ""),
            "--database-name", dbname, "--repository-uri", (self.path / f"repo-{name}").as_uri(),
            "--no-set-as-default",
        )  # fmt: skip


@pytest.fixture(scope="module")
def home(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AiidaHome]:
    aiida_home = AiidaHome(tmp_path_factory.mktemp("aiida-plugin"), pg_server, [])
    try:
        for name, backend in PROFILES.items():
            aiida_home.setup_profile(name, backend)
        yield aiida_home
    finally:
        for dbname in aiida_home.databases:
            drop_database(pg_server, dbname)


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


# --- profile setup, ORM -------------------------------------------------------------------------------------


def test_verdi_profile_setup_makes_a_fastdos_profile(home: AiidaHome) -> None:
    config = json.loads(home.config.read_text())
    assert config["profiles"]["fast"]["storage"]["backend"] == "fastdos"
    # aiida's option model: the same storage config keys as core.psql_dos
    assert set(config["profiles"]["fast"]["storage"]["config"]) == set(config["profiles"]["ref"]["storage"]["config"])
    ref, fast = home.both("info")
    assert ref["class"] == "aiida.storage.psql_dos.backend.PsqlDosBackend"
    assert fast["class"] == "fastdos.aiida.backend.FastdosStorage"
    assert fast["entry_point"] == "fastdos"
    assert fast["str"].startswith("fastdos Storage for 'fast'")
    assert fast["info"]["entities"]["Users"] == {"count": 1, "emails": ["fast@example.org"]}
    assert without(fast["info"]["entities"], "Users") == without(ref["info"]["entities"], "Users")
    assert fast["info"]["repository"] == ref["info"]["repository"]
    shown = home.verdi("-p", "fast", "profile", "show", "fast").stdout
    assert "fastdos" in shown


def test_orm_store_and_load(home: AiidaHome) -> None:
    ref, fast = home.both("store_load", tag="orm")
    assert fast["int"] == 7
    assert fast["dict"] == {"a": [1, 2, {"b": None}], "c": "x"}
    assert fast["extras"]["seen"] is True
    assert fast["incoming"] == ["parameters", "x"] and fast["outgoing"] == ["retrieved"]
    assert fast["file"] == "payload orm"
    assert fast["group_members"] == fast["expected_members"]
    assert without(fast, "group_members", "expected_members") == without(ref, "group_members", "expected_members")


# --- same connection, same transaction ----------------------------------------------------------------------


def test_transaction_visibility_both_directions_and_rollback(home: AiidaHome) -> None:
    ref, fast = home.both("visibility", tag="vis")
    assert fast == {
        "orm_sees_bulk_insert": True,
        "orm_count_in_tx": 3,
        "other_connection_in_tx": 0,  # fastdos wrote in aiida's open transaction, not on a connection of its own
        "other_connection_after_commit": 3,
        "rollback_seen_before": 2,
        "rollback_gone_orm": True,
        "rollback_gone_other": True,
        "orm_stored_other_before_commit": 0,
        "bulk_insert_link_to_orm_node": True,  # fastdos' COPY saw the ORM's flushed, uncommitted node
        "bulk_update_of_orm_node": "vis-orm-updated",
        "deleted_in_tx": True,
        "delete_rolled_back": True,
        "deleted_committed": True,
        "outside_tx_committed": 1,
        "in_transaction_after": False,
        "orm_node_survives": True,
    }
    assert fast == ref


# --- bulk_insert / bulk_update / delete_nodes_and_connections ----------------------------------------------


def test_bulk_operations_equal_core_psql_dos(home: AiidaHome) -> None:
    ref, fast = home.both("bulk", tag="bulk", n=60)
    assert fast["ids_in_order"] is True
    assert fast["count"] == 60 - 5 + 1
    snap = fast["snapshot"]
    assert len(snap["nodes"]) == 56 and len(snap["links"]) == 60 - 1 - 5
    assert len(snap["groups"]) == 1 and len(snap["groups"][0][5]) == 10
    assert snap["comments"] == [["bulk-n002", "edited", True]]
    assert snap["computers"][0][5] == '{"shebang": "#!/bin/sh"}'
    assert fast == ref


def test_bad_inputs_raise_what_aiida_raises(home: AiidaHome) -> None:
    ref, fast = home.both("bad_inputs", tag="bad")
    assert fast["missing_key"]["type"] == "aiida.common.exceptions.IntegrityError"
    assert fast["missing_key"]["message"].startswith("Incorrect fields given for EntityTypes.NODE")
    assert fast["no_metadata"] == {"type": "builtins.KeyError", "message": "'metadata'"}
    assert fast["duplicate_uuid"]["type"] == "sqlalchemy.exc.IntegrityError"
    assert '"uq_db_dbnode_uuid"' in fast["duplicate_uuid"]["message"]
    assert fast["update_no_id"]["type"] == "aiida.common.exceptions.IntegrityError"
    assert fast["delete_outside_tx"]["type"] == "builtins.AssertionError"
    assert fast["empty"] == {"value": []}
    # an unknown id: SQLAlchemy's StaleDataError, and nothing of the call is kept
    assert fast["update_missing_id"]["type"] == "sqlalchemy.orm.exc.StaleDataError"
    assert fast["label_after_update"] == {"value": "bad-dup"}
    assert fast == ref


# --- verdi ---------------------------------------------------------------------------------------------------


def test_verdi_storage_info_maintain(home: AiidaHome) -> None:
    ref_info = home.verdi("-p", "ref", "storage", "info").stdout
    fast_info = home.verdi("-p", "fast", "storage", "info").stdout
    assert fast_info == ref_info
    assert "Nodes:" in fast_info or "Nodes" in fast_info

    ref_keys, fast_keys = home.both("orphans", tag="orphan", n=4)
    assert fast_keys == ref_keys
    ref_set, fast_set = home.both("keyset")
    assert fast_set == ref_set
    assert set(fast_keys["keys"]) <= set(fast_set["keys"])

    ref_dry = home.verdi("-p", "ref", "storage", "maintain", "--dry-run")
    fast_dry = home.verdi("-p", "fast", "storage", "maintain", "--dry-run")
    assert fast_dry.returncode == ref_dry.returncode == 0
    assert home.op("keyset", "fast") == fast_set  # a dry run deletes nothing
    for name in PROFILES:
        home.verdi("-p", name, "storage", "maintain", "--force")
    assert home.both("keyset") == ({"keys": []}, {"keys": []})
    for name in PROFILES:
        home.verdi("-p", name, "storage", "maintain", "--full", "--force")
    assert home.verdi("-p", "fast", "storage", "info").stdout == home.verdi("-p", "ref", "storage", "info").stdout


def test_verdi_storage_maintain_full_respects_aiidas_profile_lock(home: AiidaHome) -> None:
    """A process using the profile (aiida's access records) makes a full maintenance fail, as for core.psql_dos."""
    holder = subprocess.Popen(
        [str(AIIDA_BIN / "python"), "-c",
         "import sys, time; from aiida import load_profile; from aiida.manage import get_manager;"
         "load_profile(sys.argv[1]); get_manager().get_profile_storage(); print('ready', flush=True); time.sleep(120)",
         "fast"],
        env=home.env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        refused = home.verdi("-p", "fast", "storage", "maintain", "--full", "--force", check=False)
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode != 0
    assert "cannot lock profile `fast` because it is being accessed" in refused.stdout + refused.stderr
    home.verdi("-p", "fast", "storage", "maintain", "--full", "--force")  # the holder is gone: it runs


def test_verdi_storage_backup(home: AiidaHome, tmp_path: Path) -> None:
    if shutil.which("rsync") is None:
        pytest.skip("aiida-core's backup needs rsync on PATH")
    # aiida-core runs PATH's pg_dump, which must be as new as the server (the embedded one is PostgreSQL 18,
    # the machine's client may be older): put the one fastdos' own backup would choose first on PATH.
    with psycopg.connect(home.server.conninfo(), autocommit=True) as conn:
        server_major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000  # type: ignore[index]
    try:
        home.extra_path = [str(find_pg_tool("pg_dump", server_major).parent)]
    except StorageBackupError:
        pytest.skip(f"aiida-core's backup needs a pg_dump of PostgreSQL {server_major} or newer")
    layouts = {}
    for name in PROFILES:
        dest = tmp_path / name
        home.verdi("-p", name, "storage", "backup", str(dest))
        home.verdi("-p", name, "storage", "backup", str(dest))  # incremental: a second backup beside the first
        last = dest / "last-backup"
        assert last.is_symlink()
        layouts[name] = (
            sorted(p.name.split("_")[0] for p in dest.iterdir()),
            sorted(str(p.relative_to(last.resolve())) for p in last.resolve().rglob("*") if p.is_file()),
        )
        assert "CREATE TABLE public.db_dbnode" in (last / "db.psql").read_text()
    assert layouts["fast"] == layouts["ref"]
    # A destination holding another profile's backups is refused, as aiida-core refuses it.
    refused = home.verdi("-p", "fast", "storage", "backup", str(tmp_path / "ref"), check=False)
    assert refused.returncode != 0 and "different profile" in refused.stdout + refused.stderr


def test_verdi_archive_import_and_node_delete(home: AiidaHome) -> None:
    for name in PROFILES:
        home.verdi("-p", name, "archive", "import", str(ARCHIVE))
    ref, fast = home.both("counts")
    assert fast == ref and fast["nodes"] > 0
    assert home.both("keyset") == ({"keys": []}, {"keys": []})
    ref_info, fast_info = home.both("info")
    for entity in ("Nodes", "Groups", "Comments", "Logs", "Links", "Computers"):
        # the ctime range differs: each profile's ORM nodes were stored at their own moment
        assert without(fast_info["info"]["entities"][entity], "last_created") == without(
            ref_info["info"]["entities"][entity], "last_created"
        )
    # importing again adds nothing (aiida's deduplication by uuid runs against fastdos' rows)
    home.verdi("-p", "fast", "archive", "import", str(ARCHIVE))
    again = home.op("counts", "fast")
    assert (again["nodes"], again["links"]) == (fast["nodes"], fast["links"])
    assert again["groups"] == fast["groups"] + 1  # aiida's new import group of the second import
    home.verdi("-p", "ref", "archive", "import", str(ARCHIVE))
    fast = again

    chains = home.both("chain", tag="chain", n=31)
    for name, chain in zip(PROFILES, chains, strict=True):
        assert home.op("counts", name, tag="chain") == {"nodes": 31, "links": 30, "groups": fast["groups"]}
        home.verdi("-p", name, "node", "delete", "--force", str(chain["pks"][0]))
        assert home.op("counts", name, tag="chain") == {"nodes": 0, "links": 0, "groups": fast["groups"]}
    ref, fast = home.both("counts")
    assert fast == ref


# --- fastdos aiida enable / disable --------------------------------------------------------------------------


def switch(
    home: AiidaHome, action: str, profile: str, *, python: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``fastdos aiida ACTION PROFILE`` (the click group of fastdos/aiida/cli.py)."""
    code = "import sys; from fastdos.aiida.cli import aiida; aiida(sys.argv[1:])"
    return subprocess.run(
        [str(python or AIIDA_BIN / "python"), "-c", code, action, profile],
        env=home.env(), capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip


def test_enable_and_disable_switch_a_profile(home: AiidaHome) -> None:
    home.setup_profile("sw", "core.psql_dos")
    home.op("store_load", "sw", tag="sw")
    before = home.op("info", "sw")
    assert before["class"] == "aiida.storage.psql_dos.backend.PsqlDosBackend"
    original = home.config.read_bytes()
    mode = home.config.stat().st_mode & 0o777

    enabled = switch(home, "enable", "sw")
    assert enabled.returncode == 0, enabled.stderr
    assert "'core.psql_dos' -> 'fastdos'" in enabled.stdout
    config = json.loads(home.config.read_text())
    assert config["profiles"]["sw"]["storage"]["backend"] == "fastdos"
    assert config["profiles"]["ref"] == json.loads(original)["profiles"]["ref"]  # nothing else changed
    assert home.config.with_name("config.json.fastdos-backup").read_bytes() == original
    assert home.config.stat().st_mode & 0o777 == mode
    after = home.op("info", "sw")
    assert after["class"] == "fastdos.aiida.backend.FastdosStorage"
    assert after["info"] == before["info"]  # same database, same contents
    assert home.op("store_load", "sw", tag="sw2")["file"] == "payload sw2"

    again = switch(home, "enable", "sw")
    assert again.returncode == 0 and "already uses storage 'fastdos'" in again.stdout

    disabled = switch(home, "disable", "sw")
    assert disabled.returncode == 0, disabled.stderr
    assert json.loads(home.config.read_text())["profiles"]["sw"]["storage"]["backend"] == "core.psql_dos"
    assert home.op("info", "sw")["class"] == "aiida.storage.psql_dos.backend.PsqlDosBackend"


def test_enable_bad_inputs_leave_the_config_untouched(home: AiidaHome) -> None:
    config = json.loads(home.config.read_text())
    config["profiles"]["lite"] = {**config["profiles"]["ref"], "storage": {"backend": "core.sqlite_dos", "config": {}}}
    broken = json.loads(json.dumps(config["profiles"]["ref"]))
    broken["storage"]["config"]["database_name"] = "fastdos_no_such_database"
    config["profiles"]["broken"] = broken
    home.config.write_text(json.dumps(config, indent=4))
    original = home.config.read_bytes()

    cases = {
        ("enable", "nosuch"): "profile 'nosuch' not found",
        ("enable", "lite"): "uses storage 'core.sqlite_dos'",
        ("disable", "lite"): "uses storage 'core.sqlite_dos'",
        ("enable", "broken"): "does not validate for 'fastdos': Could not connect to database",
    }
    for (action, profile), message in cases.items():
        proc = switch(home, action, profile)
        assert proc.returncode == 1, (action, profile, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], proc.stderr
        assert home.config.read_bytes() == original

    # config cannot be written: the backup's place is taken by a folder
    blocker = home.config.with_name("config.json.fastdos-backup")
    if blocker.exists():
        blocker.unlink()
    blocker.mkdir()
    try:
        proc = switch(home, "enable", "ref")
        assert proc.returncode == 1 and proc.stderr.startswith("Error: cannot write"), proc.stderr
        assert home.config.read_bytes() == original
    finally:
        blocker.rmdir()

    # no aiida-core: fastdos' own venv
    if FASTDOS_PYTHON.exists():
        proc = switch(home, "enable", "ref", python=FASTDOS_PYTHON)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [
            "Error: aiida-core is not installed (aiida); install it with `pip install fastdos[aiida]`"
        ]
        assert home.config.read_bytes() == original
    del config["profiles"]["lite"], config["profiles"]["broken"]
    home.config.write_text(json.dumps(config, indent=4))
