"""Inside aiida-core: the same storage work through aiida-core's public API, ``core.psql_dos`` beside ``fastdos``.

One AiiDA folder with two profiles made by ``verdi profile setup`` on two fresh databases of the same server:
``ref`` (aiida-core's ``core.psql_dos``) and ``fast`` (the fastdos plugin). Each case runs
``tests/aiida/plugin_bench.py`` in ``.venv-aiida`` on one profile; pytest-benchmark times the whole
subprocess (interpreter start and profile load, ~3 s, included), ``extra_info["seconds"]`` holds the call
alone and ``extra_info["storage_seconds"]`` the part spent inside the storage backend's methods, which is
what a backend can speed up (the rest is aiida-core's own code in ``aiida.tools``). The cases run in order
on the same two storages, each profile getting the same work:

* ``bulk_insert`` of 5*10^4 Int nodes (``backend.bulk_insert``, committing), target fastdos >= 5x;
* ``import``: ``import_archive`` of a ~33,000-node archive (made by ``make_sample_archive.py --bulk``; cached
  in ``FASTDOS_BENCH_ARCHIVES`` when set), what ``verdi archive import`` runs;
* ``keyset``: ``get_unreferenced_keyset`` on the storage that now holds ~10^5 + 33,000 nodes and 3,300 files;
* ``maintain``: ``maintain(full=False)`` after 1,000 unreferenced objects were added (``verdi storage
  maintain --force``);
* ``delete``: ``delete_nodes`` of the first node of a 3,001-node chain (``verdi node delete --force``).

Run: ``.venv/bin/python -m pytest bench/test_aiida_plugin.py --benchmark-enable --benchmark-only -s``; the
figures are in bench/RESULTS.md ("Inside aiida-core") and bench/notes/aiida_plugin.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PgServer, drop_database
from tests.test_aiida_plugin import AIIDA_BIN, PROFILES, TIMEOUT, AiidaHome

ROOT = Path(__file__).resolve().parent.parent
BENCH_OPS = ROOT / "tests" / "aiida" / "plugin_bench.py"
MAKER = ROOT / "tests" / "data" / "archives" / "make_sample_archive.py"
BULK_NODES = 50_000
ARCHIVE_NODES, ARCHIVE_FILES = 33_000, 3_300
CHAIN = 3_001
ORPHANS = 1_000
TARGET_BULK_SPEEDUP = 5

pytestmark = pytest.mark.skipif(not (AIIDA_BIN / "python").exists(), reason=f"aiida-core venv missing ({AIIDA_BIN})")

# figures of this run, per case and profile, printed at the end of the module (and kept in extra_info)
FIGURES: dict[str, dict[str, dict[str, Any]]] = {}


def bench_op(home: AiidaHome, op: str, profile: str, **args: Any) -> dict[str, Any]:
    proc = subprocess.run(
        [str(AIIDA_BIN / "python"), str(BENCH_OPS), "-"],
        input=json.dumps({"op": op, "profile": profile, **args}),
        env=home.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
        check=False,
    )
    results = [line[len("RESULT:") :] for line in proc.stdout.splitlines() if line.startswith("RESULT:")]
    if proc.returncode != 0 or not results:
        pytest.fail(f"{op} on {profile} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return dict(json.loads(results[-1]))


@pytest.fixture(scope="module")
def home(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AiidaHome]:
    aiida_home = AiidaHome(tmp_path_factory.mktemp("aiida-bench"), pg_server, [])
    try:
        for name, backend in PROFILES.items():
            aiida_home.setup_profile(name, backend)
        yield aiida_home
    finally:
        for dbname in aiida_home.databases:
            drop_database(pg_server, dbname)
        print("\n" + json.dumps(FIGURES, indent=1, sort_keys=True))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("FASTDOS_BENCH_ARCHIVES") or tmp_path_factory.mktemp("archives"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench-{ARCHIVE_NODES}-{ARCHIVE_FILES}.aiida"
    if not path.exists():
        subprocess.run(
            [str(AIIDA_BIN / "python"), str(MAKER), "--bulk", "--nodes", str(ARCHIVE_NODES),
             "--files", str(ARCHIVE_FILES), "--out", str(path)],
            check=True, capture_output=True, timeout=3600, env={**os.environ, "AIIDA_PATH": str(folder)},
        )  # fmt: skip
    return path


def run_case(benchmark: Any, home: AiidaHome, case: str, profile: str, op: str, **args: Any) -> dict[str, Any]:
    holder: dict[str, Any] = {}

    def call() -> None:
        holder.update(bench_op(home, op, profile, **args))

    benchmark.pedantic(call, rounds=1, iterations=1)
    figures = {k: v for k, v in holder.items() if k != "value"}
    benchmark.extra_info.update(profile=profile, backend=PROFILES[profile], **figures)
    FIGURES.setdefault(case, {})[profile] = figures
    return holder


def ratio(case: str, key: str = "seconds") -> float:
    ref, fast = FIGURES[case]["ref"][key], FIGURES[case]["fast"][key]
    return float(ref) / float(fast)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_bulk_insert(benchmark: Any, home: AiidaHome, profile: str) -> None:
    result = run_case(benchmark, home, "bulk_insert", profile, "bulk_insert", tag="bulk", n=BULK_NODES)
    assert result["value"] == BULK_NODES
    if profile == "fast":
        benchmark.extra_info["target_met"] = ratio("bulk_insert") >= TARGET_BULK_SPEEDUP  # bench/notes/gate.md


@pytest.mark.parametrize("profile", list(PROFILES))
def test_archive_import(benchmark: Any, home: AiidaHome, archive: Path, profile: str) -> None:
    run_case(benchmark, home, "import", profile, "import", path=str(archive))


@pytest.mark.parametrize("profile", list(PROFILES))
def test_unreferenced_keyset(benchmark: Any, home: AiidaHome, profile: str) -> None:
    result = run_case(benchmark, home, "keyset", profile, "keyset")
    assert result["value"] == 0


@pytest.mark.parametrize("profile", list(PROFILES))
def test_storage_maintain(benchmark: Any, home: AiidaHome, profile: str) -> None:
    assert bench_op(home, "orphans", profile, n=ORPHANS) == {"keys": ORPHANS}
    result = run_case(benchmark, home, "maintain", profile, "maintain")
    assert result["unreferenced_after"] == 0


@pytest.mark.parametrize("profile", list(PROFILES))
def test_node_delete_chain(benchmark: Any, home: AiidaHome, profile: str) -> None:
    result = run_case(benchmark, home, "delete", profile, "delete", tag="chain", n=CHAIN)
    assert result["value"] == CHAIN and result["remaining"] == 0
