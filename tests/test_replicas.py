"""Read replicas on real clusters: a primary and a hot standby from the embedded binaries, on loopback sockets.

Both clusters belong to this module (whatever ``FASTDOS_TEST_PG_DSN`` says: a standby needs a primary whose
pg_hba.conf and replication role fastdos may change, which the shared service is not). The standby is made
the way users make theirs: ``fastdos.replica_server.create_replica`` (``fastdos server replica create``).
Which server answered is shown by the server itself: ``pg_is_in_recovery()`` is true only on the standby.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fastdos import replicas
from fastdos.backend import Backend
from fastdos.cli import main
from fastdos.errors import ConfigurationError
from fastdos.profile import Profile, load_profile, save_profile
from fastdos.replica_config import ReplicaConfig, ReplicaSet
from fastdos.replica_server import create_replica, replica_server
from fastdos.rows import EntityTypes
from fastdos.server import EmbeddedServer
from tests.conftest import TEST_SERVER_SETTINGS

# A standby on the same machine replays a commit within milliseconds; waits poll up to this long.
CATCH_UP_S = 30.0


@dataclass
class Pair:
    profile: Profile  # embedded primary, one standby registered as "standby"
    primary: EmbeddedServer
    standby: EmbeddedServer
    home: Path

    def primary_conn(self) -> psycopg.Connection:
        return psycopg.connect(self.profile.conninfo(), autocommit=True)

    def standby_conn(self) -> psycopg.Connection:
        return psycopg.connect(
            self.profile.replicas.servers[0].conninfo(self.profile.storage_config["database_name"]), autocommit=True
        )


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="fastdos-repl-"))
    root.chmod(0o755)  # as root the servers run as another user, who must enter it (the data dirs stay 0700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTDOS_HOME", str(root / "home"))
        profile = Profile.embedded_profile("rtest", home=root / "home")
        assert profile.embedded is not None
        primary = EmbeddedServer(profile.embedded.data_dir, port=profile.embedded.port, settings=TEST_SERVER_SETTINGS)
        primary.start()
        standby: EmbeddedServer | None = None
        try:
            Backend.initialise(profile)
            save_profile(profile)
            profile = create_replica(profile, root / "standby", name="standby")
            standby = replica_server(profile.replicas.servers[0])
            yield Pair(profile, primary, standby, root / "home")
        finally:
            if standby is not None:
                standby.stop("immediate")
            primary.stop("immediate")
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pair_ok(pair: Pair) -> Iterator[Pair]:
    """The pair with the standby running and replaying, before and after the test."""
    pair.standby.start()
    with pair.standby_conn() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    yield pair
    pair.standby.start()
    with pair.standby_conn() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")


def in_recovery(storage: Backend) -> bool:
    """Whether the server that answered a routed read is the standby."""
    with storage.read_context.connection() as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert row is not None
    return bool(row[0])


def wait_for(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` (a new backend reads the standby from its first or second read: its lag clock
    needs one sample of the primary at or below the standby's position, docs/replicas.md#replay-lag)."""
    deadline = time.monotonic() + CATCH_UP_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def node_rows(user_id: int, n: int, label: str) -> list[dict[str, object]]:
    return [
        {"node_type": "data.core.int.Int.", "label": label, "user_id": user_id, "attributes": {"value": i}}
        for i in range(n)
    ]


def standby_count(pair: Pair, label: str) -> int:
    with pair.standby_conn() as conn:
        row = conn.execute("SELECT count(*) FROM db_dbnode WHERE label = %s", (label,)).fetchone()
    assert row is not None
    return int(row[0])


def replica_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fastdos.replicas" and r.levelno == logging.WARNING]


# --- routing ---------------------------------------------------------------------------------------------


def test_reads_on_the_standby_writes_on_the_primary(pair_ok: Pair) -> None:
    with Backend(pair_ok.profile) as storage:
        wait_for(lambda: in_recovery(storage), "reads on the standby")
        with storage.context.connection() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        user = storage.ensure_default_user()
        (pk,) = storage.bulk_insert(EntityTypes.NODE, node_rows(user, 1, "routing"), allow_defaults=True)
        with pair_ok.primary_conn() as conn:  # the write went to the primary
            assert conn.execute("SELECT label FROM db_dbnode WHERE id = %s", (pk,)).fetchone() == ("routing",)
        wait_for(lambda: standby_count(pair_ok, "routing") == 1, "the standby to replay the insert")
        time.sleep(replicas.LAG_CHECK_INTERVAL_S)
        before = storage.read_context.router.routed  # type: ignore[attr-defined]
        assert storage.nodes.get(pk)["label"] == "routing"  # a collection's read
        assert storage.query().append("node", filters={"label": "routing"}).count() == 1  # a query
        assert storage.get_ancestors([pk]) == {}  # a traversal
        assert storage.delete_nodes([pk], dry_run=True) == {pk}  # a deletion's dry run
        assert storage.get_info()["entities"]["Nodes"]["count"] >= 1
        assert storage.check_integrity(repository=False).ok  # read-only checks
        assert storage.check_integrity().ok  # the repository check's temp table: on the primary
        export = storage.export_archive(pair_ok.home / "routing.aiida", nodes=[pk], dry_run=True)
        assert export.counts["nodes"] == 1
        assert storage.read_context.router.routed - before >= 7  # type: ignore[attr-defined]
        # A real deletion runs on the primary, though the facade hands it its read context for the reads.
        assert storage.delete_nodes([pk], dry_run=False) == {pk}
        with pair_ok.primary_conn() as conn:
            assert conn.execute("SELECT count(*) FROM db_dbnode WHERE id = %s", (pk,)).fetchone() == (0,)


def test_reads_inside_a_transaction_stay_on_the_primary(pair_ok: Pair) -> None:
    with Backend(pair_ok.profile) as storage:
        with storage.transaction():
            assert in_recovery(storage) is False
        wait_for(lambda: in_recovery(storage), "reads to return to the standby")


def test_read_your_writes_with_replay_paused(pair_ok: Pair, caplog: pytest.LogCaptureFixture) -> None:
    with Backend(pair_ok.profile) as storage, Backend(pair_ok.profile, reads="replica") as other:
        user = storage.ensure_default_user()
        wait_for(lambda: in_recovery(storage), "the standby to replay the default user")
        wait_for(lambda: in_recovery(other), "reads on the standby")
        with pair_ok.standby_conn() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        caplog.clear()
        pks = storage.bulk_insert(EntityTypes.NODE, node_rows(user, 3, "ryw"), allow_defaults=True)
        time.sleep(0.3)
        assert standby_count(pair_ok, "ryw") == 0  # the standby has not replayed the insert ...
        assert storage.nodes.count({"label": "ryw"}) == 3  # ... and our reads see it: they ran on the primary
        assert {row["id"] for row in storage.nodes.get_many(pks)} == set(pks)
        assert in_recovery(storage) is False
        # Another backend (no write of its own) reads the standby's older state, within the lag bound.
        assert in_recovery(other) is True
        assert other.nodes.count({"label": "ryw"}) == 0
        with pair_ok.standby_conn() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        wait_for(lambda: in_recovery(storage), "reads to return to the standby once it has replayed our write")
        assert storage.nodes.count({"label": "ryw"}) == 3
        # A write whose WAL position could not be read afterwards: reads stay on the primary until the next
        # write's position is known.
        router = storage.read_context.router  # type: ignore[attr-defined]
        router.write_lsn = replicas.UNKNOWN_LSN
        assert in_recovery(storage) is False
        storage.set_global_variable("ryw-probe", 1)
        assert router.write_lsn < replicas.UNKNOWN_LSN
        wait_for(lambda: in_recovery(storage), "reads to return to the standby after a known position")
    assert not replica_warnings(caplog)  # waiting for our own write is no warning


def test_lag_above_the_bound_goes_to_the_primary_with_one_warning(
    pair_ok: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    strict = replace(pair_ok.profile, replicas=replace(pair_ok.profile.replicas, max_lag_seconds=0.5))
    with Backend(strict) as storage:
        wait_for(lambda: in_recovery(storage), "reads on the standby")
        with pair_ok.standby_conn() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        with pair_ok.primary_conn() as conn:  # someone else writes; the standby receives it but does not replay
            conn.execute("INSERT INTO db_dbsetting (key, val, description, time) VALUES ('lagtest', '1', '', now())")
        time.sleep(1.2)
        caplog.clear()
        # Behind a write the lag clock saw only now: not read from at once, and lagging (one warning) once it
        # has stayed behind longer than the bound.
        deadline = time.monotonic() + 5
        while not replica_warnings(caplog) and time.monotonic() < deadline:
            assert in_recovery(storage) is False
            time.sleep(replicas.LAG_CHECK_INTERVAL_S / 4)
        for _ in range(5):
            assert in_recovery(storage) is False
            time.sleep(replicas.LAG_CHECK_INTERVAL_S / 2)
        warnings = replica_warnings(caplog)
        assert len(warnings) == 1, warnings
        assert "'standby'" in warnings[0] and "lagging" in warnings[0]
        states = {s.name: s for s in storage.replica_status()}
        assert states["standby"].state == "lagging" and not states["standby"].in_use
        info = storage.get_info(detailed=True)["replicas"]["standby"]
        assert info["state"] == "lagging" and info["in use"] is False and info["lag (s)"] > 0.5
        with pair_ok.standby_conn() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        wait_for(lambda: in_recovery(storage), "reads to return to the standby once it caught up")
    with pair_ok.primary_conn() as conn:
        conn.execute("DELETE FROM db_dbsetting WHERE key = 'lagtest'")


def test_idle_primary_then_a_checkpoint_is_no_lag(pair_ok: Pair, caplog: pytest.LogCaptureFixture) -> None:
    """WAL that carries no commit (a checkpoint record) after an idle spell: the age of the standby's last
    replayed commit is then far over the bound, but the standby is current; no warning, reads stay on it."""
    strict = replace(pair_ok.profile, replicas=replace(pair_ok.profile.replicas, max_lag_seconds=0.5))
    with Backend(strict) as storage:
        wait_for(lambda: in_recovery(storage), "reads on the standby")
        time.sleep(1.5)  # idle: no commit for longer than the bound
        caplog.clear()
        with pair_ok.primary_conn() as conn:
            conn.execute("CHECKPOINT")
        answers = []
        for _ in range(20):
            answers.append(in_recovery(storage))
            time.sleep(replicas.LAG_CHECK_INTERVAL_S / 4)
        assert answers[-1] is True and answers.count(True) >= 15, answers
        assert not replica_warnings(caplog)
        with pair_ok.standby_conn() as conn:
            age = conn.execute("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())").fetchone()
        assert age is not None and float(age[0]) > 0.5  # what a commit-age lag measure would have judged by


def test_killed_standby_falls_back_and_the_next_call_succeeds(
    pair_ok: Pair, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replicas, "DOWN_RETRY_S", 0.3)
    with Backend(pair_ok.profile) as storage:
        wait_for(lambda: in_recovery(storage), "reads on the standby")
        count = storage.nodes.count()
        pid = pair_ok.standby.status().pid
        assert pid is not None
        caplog.clear()
        # The postmaster and every process of the standby (its children are process-group leaders of their
        # own, so they are found by their working directory, the data directory).
        for victim in [pid, *pair_ok.standby._orphans()]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not pair_ok.standby.is_running() and not pair_ok.standby._orphans(), "the standby to die")
        assert storage.nodes.count() == count  # served by the primary
        assert in_recovery(storage) is False
        assert storage.query().append("node").count() == count
        warnings = replica_warnings(caplog)
        assert len(warnings) == 1 and "'standby'" in warnings[0] and "down" in warnings[0], warnings
        assert {s.name: s.state for s in storage.replica_status()} == {"standby": "down"}
        pair_ok.standby.start()  # recovers from the SIGKILL
        wait_for(lambda: in_recovery(storage), "reads to return to the restarted standby")
        assert storage.nodes.count() == count


def test_standby_down_when_opening_is_no_error(pair_ok: Pair, caplog: pytest.LogCaptureFixture) -> None:
    pair_ok.standby.stop()
    with Backend(pair_ok.profile) as storage:
        assert in_recovery(storage) is False
        assert storage.get_info()["entities"]["Nodes"]["count"] >= 0
    assert len(replica_warnings(caplog)) == 1


# --- configuration -----------------------------------------------------------------------------------------


def _reader_role(pair: Pair, password: str) -> None:
    """A login role with a password, replicated to the standby; the standby's own pg_hba.conf asks it for
    that password on its socket (pg_hba.conf is per server, not replicated)."""
    with pair.primary_conn() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'fastdos_reader'").fetchone() is None:
            conn.execute(
                psycopg.sql.SQL("CREATE ROLE fastdos_reader LOGIN PASSWORD {}").format(psycopg.sql.Literal(password))
            )
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO fastdos_reader")
    hba = pair.standby.data_dir / "pg_hba.conf"
    text = hba.read_text()
    line = "local all fastdos_reader scram-sha-256\n"
    if line not in text:
        hba.write_text(line + text)
        with pair.standby_conn() as conn:
            conn.execute("SELECT pg_reload_conf()")


def test_wrong_password_names_the_replica(pair_ok: Pair, tmp_path: Path) -> None:
    _reader_role(pair_ok, "right-secret")
    wait_for(
        lambda: (
            pair_ok.standby_conn().execute("SELECT 1 FROM pg_roles WHERE rolname='fastdos_reader'").fetchone()
            is not None
        ),
        "the role to replicate",
    )
    socket = pair_ok.standby.socket_dir
    bad = ReplicaConfig(
        "reader-bad", f"host={socket} port={pair_ok.standby.port} user=fastdos_reader password=wrong-secret"
    )
    profile = replace(pair_ok.profile, replicas=ReplicaSet((bad,)))
    with pytest.raises(ConfigurationError) as failure:
        Backend(profile)
    message = str(failure.value)
    assert "replica 'reader-bad'" in message and "refused the credentials" in message
    assert "wrong-secret" not in message and "password=***" in message
    assert "wrong-secret" not in repr(profile) and "wrong-secret" not in str(bad)
    with pytest.raises(ConfigurationError, match="holds a password"):  # never written into config.json
        save_profile(profile)
    # The same replica with its password in a password file: works, and may be saved.
    passfile = tmp_path / "pgpass"
    passfile.write_text("*:*:*:fastdos_reader:right-secret\n")
    passfile.chmod(0o600)
    good = ReplicaConfig("reader", f"host={socket} port={pair_ok.standby.port} user=fastdos_reader passfile={passfile}")
    profile = replace(pair_ok.profile, replicas=ReplicaSet((good,)))
    with Backend(profile) as storage:
        wait_for(lambda: in_recovery(storage), "reads on the standby")
        assert storage.nodes.count() >= 0
    save_profile(profile)
    assert load_profile(profile.name).replicas.servers == (good,)
    code, out = run(["server", "replica", "remove", "--profile", profile.name, "--name", "reader", "--force"])
    assert code == 0 and load_profile(profile.name).replicas.servers == (), out  # only unregistered
    save_profile(pair_ok.profile)


def test_a_replica_of_another_cluster_is_refused(pair_ok: Pair, tmp_path: Path) -> None:
    other = EmbeddedServer(tmp_path / "other", port=5439, settings=TEST_SERVER_SETTINGS)
    tmp_path.chmod(0o755)
    other.start()
    try:
        wrong = ReplicaConfig("elsewhere", f"host={other.socket_dir} port=5439 user=postgres dbname=postgres")
        with pytest.raises(ConfigurationError, match="replica 'elsewhere'.*not a copy of the primary"):
            Backend(replace(pair_ok.profile, replicas=ReplicaSet((wrong,))))
    finally:
        other.stop("immediate")


def test_read_modes(pair_ok: Pair, profile: Profile) -> None:
    with Backend(pair_ok.profile, reads="primary") as storage:
        assert in_recovery(storage) is False
        assert storage.replica_status() == []
    with Backend(pair_ok.profile, reads="replica") as storage:
        wait_for(lambda: in_recovery(storage), "reads on the standby")
    with pytest.raises(ValueError, match="reads must be one of"):
        Backend(pair_ok.profile, reads="fastest")
    with pytest.raises(ConfigurationError, match="lists no replicas"):
        Backend(profile, reads="replica")  # the suite's storage (either server) has no replicas
    with Backend(profile) as storage:  # auto without replicas: the primary, no router
        assert storage.read_context is storage.context


def test_replica_section_round_trip_and_bad_sections() -> None:
    section = {"max_lag_seconds": 2, "servers": [{"name": "a", "dsn": "host=h port=1 user=u"}]}
    profile = Profile.from_dict("p", {"storage": {"config": {}}, "replicas": section})
    assert profile.replicas.max_lag_seconds == 2 and profile.replicas.servers[0].name == "a"
    assert Profile.from_dict("p", profile.to_dict()).replicas == profile.replicas
    for bad, message in [
        ({"servers": "x"}, "must be a list"),
        ({"servers": [{"name": "a"}]}, "needs a name and a dsn"),
        ({"servers": [{"name": "../x", "dsn": "host=h"}]}, "invalid replica name"),
        ({"servers": [{"name": "a", "dsn": "not a dsn =="}]}, "invalid DSN"),
        ({"servers": [{"name": "a", "dsn": "host=h"}, {"name": "a", "dsn": "host=i"}]}, "unique"),
        ({"max_lag_seconds": -1}, "max_lag_seconds"),
        ({"max_lag_seconds": "soon"}, "max_lag_seconds"),
        ([1], "must be an object"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            Profile.from_dict("p", {"storage": {"config": {}}, "replicas": bad})


# --- CLI -----------------------------------------------------------------------------------------------


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_cli_status_info_stop_start(pair_ok: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTDOS_HOME", str(pair_ok.home))
    code, out = run(["server", "replica", "status", "--profile", "rtest"])
    assert code == 0 and out.startswith("standby: ok") and "in use" in out, out
    for detail in (["--detailed"], []):
        code, out = run(["info", "--profile", "rtest", *detail])
        assert code == 0 and "replicas:" in out and "standby:" in out and "in use: True" in out, out
        assert "lag (s): " in out and "state: ok" in out, out
    code, out = run(["server", "replica", "stop", "--profile", "rtest", "--name", "standby"])
    assert code == 0 and not pair_ok.standby.is_running()
    code, out = run(["server", "replica", "status", "--profile", "rtest"])
    assert code == 3 and "standby: down" in out, out
    code, out = run(["info", "--profile", "rtest"])  # the primary answers, no error
    assert code == 0 and "Nodes" in out, out
    code, out = run(["server", "replica", "start", "--profile", "rtest", "--name", "standby"])
    assert code == 0 and pair_ok.standby.is_running(), out


def test_cli_create_and_remove(pair_ok: Pair, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FASTDOS_HOME", str(pair_ok.home))
    tmp_path.chmod(0o755)
    target = tmp_path / "second"
    code, out = run(
        ["server", "replica", "create", "--profile", "rtest", "--data-dir", str(target), "--name", "second"]
    )
    assert code == 0 and "replica 'second'" in out, out
    assert [r.name for r in load_profile("rtest").replicas.servers] == ["standby", "second"]
    with pair_ok.primary_conn() as conn:
        slots = conn.execute("SELECT slot_name, active FROM pg_replication_slots ORDER BY 1").fetchall()
    assert ("fastdos_second", True) in slots
    second = EmbeddedServer(target, port=load_profile("rtest").replicas.servers[1].embedded.port)  # type: ignore[union-attr]
    with psycopg.connect(second.conninfo("postgres")) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    # Bad requests: refused in one line, nothing changed.
    for args, expected in [
        (["--data-dir", str(tmp_path / "third"), "--name", "second"], "already has a replica named 'second'"),
        (["--data-dir", str(tmp_path), "--name", "third"], "is not an empty directory"),
        (["--data-dir", str(pair_ok.primary.data_dir), "--name", "third"], "primary's own data directory"),
        (["--data-dir", str(tmp_path / "x"), "--name", "../bad"], "invalid replica name"),
    ]:
        code, out = run(["server", "replica", "create", "--profile", "rtest", *args])
        assert code != 0 and expected in out, (args, out)
    assert [r.name for r in load_profile("rtest").replicas.servers] == ["standby", "second"]
    code, out = run(["server", "replica", "remove", "--profile", "rtest", "--name", "second", "--force"])
    assert code == 0, out
    assert not target.exists()
    assert [r.name for r in load_profile("rtest").replicas.servers] == ["standby"]
    with pair_ok.primary_conn() as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'fastdos_second'"
        ).fetchone() == (0,)
    code, out = run(["server", "replica", "remove", "--profile", "rtest", "--name", "second", "--force"])
    assert code == 1 and "no replica named 'second'" in out


def test_primary_has_loopback_only_replication_entry(pair: Pair) -> None:
    hba = (pair.primary.data_dir / "pg_hba.conf").read_text().splitlines()
    ours = [line for line in hba if "fastdos_replicator" in line and not line.startswith("#")]
    assert ours == ["local   replication   fastdos_replicator   trust"]
    with pair.standby_conn() as conn:
        assert conn.execute("SELECT current_setting('hot_standby_feedback')").fetchone() == ("on",)
    with pair.primary_conn() as conn:
        assert conn.execute("SELECT current_setting('listen_addresses')").fetchone() == ("",)
        row = conn.execute(
            "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = 'fastdos_replicator'"
        ).fetchone()
    assert row == (True, False)


# --- aiida-core on the primary ----------------------------------------------------------------------------


@pytest.mark.aiida
def test_aiida_on_the_primary_sees_what_fastdos_wrote(pair_ok: Pair, tmp_path: Path) -> None:
    from tests.test_aiida_interop import AIIDA_PYTHON, entity_counts, run_aiida

    if not AIIDA_PYTHON.exists():
        pytest.skip(f"aiida-core reference venv missing ({AIIDA_PYTHON}); create it with tests/aiida/setup_env.sh")
    with Backend(pair_ok.profile) as storage:
        user = storage.ensure_default_user()
        pks = storage.bulk_insert(EntityTypes.NODE, node_rows(user, 4, "for-aiida"), allow_defaults=True)
        links = [{"input_id": pks[0], "output_id": pks[1], "label": "x", "type": "input_calc"}]
        storage.bulk_insert(EntityTypes.LINK, links)
        (group,) = storage.bulk_insert(
            EntityTypes.GROUP, [{"label": "replicated", "type_string": "core", "user_id": user}], allow_defaults=True
        )
        storage.add_nodes_to_group(group, pks)
        wait_for(lambda: standby_count(pair_ok, "for-aiida") == 4, "the standby to replay")
        wait_for(lambda: in_recovery(storage), "reads to go to the standby")
        ours = entity_counts(storage.get_info())  # read on the standby
    opened = run_aiida("open", pair_ok.profile, tmp_path)  # aiida-core's PsqlDosBackend on the primary
    assert opened["counts"]["nodes"] == ours["Nodes"] and opened["counts"]["groups"] == ours["Groups"]
    assert entity_counts(opened["info"]) == ours
