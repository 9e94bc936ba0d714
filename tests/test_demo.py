"""`make run` (python -m fastdos.demo): repeatable on its own profile, and it says what it leaves behind."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastdos.profile import Profile, save_profile
from fastdos.server import EmbeddedServer

FASTDOS = str(Path(sys.executable).with_name("fastdos"))


@pytest.fixture
def demo_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = Path(f"/tmp/fastdos-demo-{os.getpid()}")  # short: the cluster's socket path is limited to 107 bytes
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(mode=0o755)
    monkeypatch.setenv("FASTDOS_HOME", str(home))
    yield home
    server = EmbeddedServer(home / "pgdata")
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastdos.demo", *args], capture_output=True, text=True, env={**os.environ}, timeout=600
    )


def info(home: Path) -> dict[str, object]:
    out = subprocess.run(
        [FASTDOS, "info", "--profile", "demo", "--json"], capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(out))


@pytest.mark.slow
def test_demo_is_repeatable_and_says_what_it_left(demo_home: Path) -> None:
    counts = []
    for _ in range(2):
        proc = run_demo("--nodes", "400")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        assert "raw COPY" not in proc.stdout, "the rolled-back raw COPY comparison is not part of the demo"
        entities = info(demo_home)["entities"]
        assert isinstance(entities, dict)
        counts.append((entities["Nodes"]["count"], entities["Groups"]["count"]))
    assert counts[0] == counts[1] == (375 + 400, 4), counts  # the sample, the generated graph; reset each run
    tail = proc.stdout[proc.stdout.index("Left behind:") :]
    assert str(demo_home / "pgdata") in tail and str(demo_home / "profiles" / "demo" / "repository") in tail
    assert "still running" in tail
    stop = next(line.strip() for line in tail.splitlines() if line.strip().endswith("server stop"))
    env_part, command = stop.split(" ", 1)
    assert env_part == f"FASTDOS_HOME={demo_home}"
    stopped = subprocess.run(shlex.split(command), capture_output=True, text=True)
    assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped", stopped.stdout + stopped.stderr
    assert not EmbeddedServer(demo_home / "pgdata").is_running()


def test_demo_refuses_a_foreign_demo_profile(demo_home: Path, tmp_path: Path) -> None:
    """A saved profile named `demo` that is not the demo's own is never reset."""
    save_profile(Profile.from_dsn("demo", "host=127.0.0.1 port=1 dbname=precious", tmp_path / "repo"))
    proc = run_demo("--nodes", "10")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: a profile named 'demo' already exists"), proc.stderr
    assert not (demo_home / "pgdata").exists()
