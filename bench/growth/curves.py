"""Growth curves: time and peak memory against size, fastdos beside its comparison in the same run.

Run: ``make bench-growth`` (``.venv/bin/python -m pytest bench/growth/curves.py``); writes ``bench/growth.json``
after every point (a run cut short keeps what it measured). Not collected by `make bench` (the file name is
not ``test_*``). Sizes 10^3, 10^4, 10^5 nodes, 10^6 too for the cheap curves with ``FASTDOS_BENCH_LARGE=1``.
``FASTDOS_GROWTH_SIZES`` (``1000,10000``), ``FASTDOS_GROWTH_CURVES`` (``ingest,keyset``) and
``FASTDOS_GROWTH_OUT`` narrow a run; ``FASTDOS_BENCH_ARCHIVES=<dir>`` keeps the aiida-made archives.

Each fastdos and in-run-reference point runs in its own interpreter (bench/growth/worker.py: untimed set-up,
timed call, peak RSS over the call). aiida-core runs in ``.venv-aiida`` on the same server; its time is the
call alone (as its scripts report it), its memory the peak of its whole process (profile load included,
there is no set-up in it). aiida-core and the slowest references are capped (``CAPS``) where one point
would take many minutes; a capped point is recorded as skipped with the reason.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.test_export import archive_counts
from bench.test_graph import chain, wide
from bench.test_import import MAKER, Storages
from bench.test_repository import seed_keyset
from fastdos.backend import Backend
from fastdos.importer import import_archive
from fastdos.profile import Profile
from tests.conftest import PgServer, create_database, drop_database, link_new_container, make_profile
from tests.test_aiida_interop import AIIDA_PYTHON, OPS, ROOT, aiida_storage_config

LARGE = os.environ.get("FASTDOS_BENCH_LARGE") == "1"


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _sizes() -> list[int]:
    given = _env_list("FASTDOS_GROWTH_SIZES")
    if given and all(item.isdigit() for item in given):
        return [int(item) for item in given]
    return [1_000, 10_000, 100_000] + ([1_000_000] if LARGE else [])  # (a bad value: env_problem says so)


SIZES = _sizes()
OUT = Path(os.environ.get("FASTDOS_GROWTH_OUT") or ROOT / "bench" / "growth.json")
GRAPH_OPS = ROOT / "tests" / "aiida" / "graph_ops.py"
EXPORT_OPS = ROOT / "tests" / "aiida" / "export_ops.py"
TIMEOUT = 3600


@dataclass(frozen=True)
class Curve:
    title: str
    methods: tuple[str, ...]
    reference: str  # the comparison the ratio is taken against
    large: bool  # cheap enough for 10^6


CURVES = {
    "ingest": Curve("ingest: bulk_insert of n nodes", ("fastdos", "raw_copy", "executemany"), "raw_copy", True),
    "update": Curve("update: bulk_update of the extras of n nodes", ("fastdos", "executemany"), "executemany", True),
    "delete_chain": Curve(
        "delete with traversal: chain of n nodes, from its first",
        ("fastdos", "hop_by_hop", "aiida"),
        "hop_by_hop",
        False,
    ),
    "delete_wide": Curve(
        "delete with traversal: wide graph, n/4 work chains", ("fastdos", "hop_by_hop", "aiida"), "hop_by_hop", False
    ),
    "descendants_chain": Curve(
        "descendants of the first node of an n-node chain", ("fastdos", "hop_by_hop"), "hop_by_hop", False
    ),
    "descendants_wide": Curve(
        "descendants of the n/4 inputs of the wide graph", ("fastdos", "hop_by_hop"), "hop_by_hop", True
    ),
    "import": Curve("archive import: n nodes, n/10 files", ("fastdos", "aiida"), "aiida", False),
    "export": Curve("archive export (all): n nodes, n/10 files", ("fastdos", "aiida"), "aiida", False),
    "keyset": Curve("unreferenced-key scan: n nodes, 1.1 n objects", ("fastdos", "python_set"), "python_set", True),
}
SELECTED = [c for c in _env_list("FASTDOS_GROWTH_CURVES") if c in CURVES] or list(CURVES)


def env_problem() -> str | None:
    """What is wrong with the ``FASTDOS_GROWTH_*`` settings, in one line (bench/growth/conftest.py refuses the
    run with it), or None."""
    sizes = _env_list("FASTDOS_GROWTH_SIZES")
    if not all(item.isdigit() and int(item) >= 100 for item in sizes):
        return f"FASTDOS_GROWTH_SIZES={','.join(sizes)}: expected node counts of at least 100, like 1000,10000"
    unknown = sorted(set(_env_list("FASTDOS_GROWTH_CURVES")) - set(CURVES))
    if unknown:
        return f"FASTDOS_GROWTH_CURVES: unknown {', '.join(unknown)}; known: {', '.join(CURVES)}"
    return None


# Largest size per (curve, method) where one point takes a few minutes at most on 2 shared cores. aiida-core's
# chain deletion walks one QueryBuilder query per hop and rule: 45-112 s for 3,001 nodes (bench/RESULTS.md,
# "Inside aiida-core"); its import/export of 10^5 nodes take ~3 min each (bench/test_import.py).
CAPS = {
    ("delete_chain", "aiida"): 1_000,
    ("delete_wide", "aiida"): 10_000,
    ("import", "aiida"): 10_000,
    ("export", "aiida"): 10_000,
    ("ingest", "executemany"): 100_000,
    ("update", "executemany"): 100_000,
    ("delete_chain", "hop_by_hop"): 100_000,
    ("descendants_chain", "hop_by_hop"): 100_000,
}
ROUNDS = {1_000: 3, 10_000: 3}  # best of 3 below 10^5, one round above (each round rebuilds its data)

# Runs aiida's script as ``__main__`` and prints the process's peak RSS afterwards (VmHWM; see worker.py).
PEAK_WRAPPER = """
import os, runpy, sys
script = sys.argv[1]
sys.path.insert(0, os.path.dirname(script))
sys.argv = [script, "-"]
try:
    runpy.run_path(script, run_name="__main__")
finally:
    peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    print("PEAK_KB:%d" % peak, flush=True)
"""


def points() -> list[tuple[str, str, int]]:
    return [
        (curve, method, n)
        for curve in SELECTED
        for method in CURVES[curve].methods
        for n in SIZES
        if n <= 100_000 or CURVES[curve].large
    ]


def machine(server: PgServer) -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    with server.admin() as conn:
        row = conn.execute("SELECT version()").fetchone()
    return {"cpu": cpu, "cores": os.cpu_count() or 0, "python": platform.python_version(),
            "server": str(row[0]) if row else "", "embedded": server.embedded}  # fmt: skip


def commit() -> str | None:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or None


@pytest.fixture(scope="module")
def growth(pg_server: PgServer) -> Iterator[dict[str, Any]]:
    """The figures of this run, written to ``OUT`` after every point."""
    data: dict[str, Any] = {
        "commit": commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {**machine(pg_server), "load1_start": os.getloadavg()[0]},
        "memory": "peak RSS (VmHWM) of the client process over the timed call; aiida-core: its whole process",
        "sizes": SIZES,
        "curves": {
            name: {
                "title": CURVES[name].title,
                "reference": CURVES[name].reference,
                "methods": {m: {"points": [], "skipped": []} for m in CURVES[name].methods},
            }
            for name in SELECTED
        },
    }
    yield data
    data["machine"]["load1_end"] = os.getloadavg()[0]
    save(data)


def save(data: dict[str, Any]) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(OUT)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Lazily filled ``{nodes: archive}``, made by aiida-core (bench/test_import.py's maker, n/10 files)."""
    return {}


def archive(made: dict[int, Path], n: int, tmp: Path) -> Path:
    if n not in made:
        if not AIIDA_PYTHON.exists():
            pytest.skip(f"aiida-core venv missing ({AIIDA_PYTHON}); it makes the archives")
        folder = Path(os.environ.get("FASTDOS_BENCH_ARCHIVES") or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench-{n}-{n // 10}.aiida"
        if not path.exists():
            subprocess.run([str(AIIDA_PYTHON), str(MAKER), "--bulk", "--nodes", str(n), "--files", str(n // 10),
                            "--out", str(path)], check=True, capture_output=True, timeout=TIMEOUT)  # fmt: skip
        made[n] = path
    return made[n]


class Scratch:
    """Template clones and initialised storages for one point, dropped afterwards."""

    def __init__(self, server: PgServer, template: str, root: Path) -> None:
        self.server, self.template, self.root = server, template, root
        self.clones: list[str] = []
        self.storages = Storages(server, root)

    def clone(self, container: bool = True) -> Profile:
        name = f"fastdos_growth_{uuid.uuid4().hex[:10]}"
        create_database(self.server, name, template=self.template)
        self.clones.append(name)
        prof = make_profile(self.server, name, self.root / name)
        return link_new_container(prof) if container else prof

    def drop(self) -> None:
        for name in self.clones:
            drop_database(self.server, name)
        self.storages.drop_all()


def run_worker(payload: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.growth.worker"], input=json.dumps(payload), cwd=ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    lines = [line[len("RESULT:") :] for line in proc.stdout.splitlines() if line.startswith("RESULT:")]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"growth worker failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run_aiida_measured(script: Path, payload: dict[str, Any], prof: Profile, home: Path) -> tuple[Any, float]:
    """aiida-core's ``script`` on ``prof`` (as tests/test_aiida_interop.py ``run_aiida_script``), with the
    peak RSS of its process: ``(result, peak MiB)``."""
    config, extra_env = aiida_storage_config(prof)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(extra_env, AIIDA_PATH=str(home), PYTHONWARNINGS="ignore")
    proc = subprocess.run([str(AIIDA_PYTHON), "-c", PEAK_WRAPPER, str(script)],
                          input=json.dumps({**payload, "name": prof.name, "storage": config}), env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    results = [line[len("RESULT:") :] for line in proc.stdout.splitlines() if line.startswith("RESULT:")]
    peaks = [line[len("PEAK_KB:") :] for line in proc.stdout.splitlines() if line.startswith("PEAK_KB:")]
    if proc.returncode != 0 or not results or not peaks:
        pytest.fail(f"aiida-core {script.name} failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")
    return json.loads(results[-1]), int(peaks[-1]) / 1024


def aiida_point(curve: str, n: int, scratch: Scratch, made: dict[int, Path], tmp: Path) -> dict[str, Any]:
    """One aiida-core point: ``{"seconds", "peak_mb"}``, its result asserted."""
    if not AIIDA_PYTHON.exists():
        pytest.skip(f"aiida-core venv missing ({AIIDA_PYTHON})")
    if curve in ("delete_chain", "delete_wide"):
        prof = scratch.clone()
        with psycopg.connect(prof.conninfo(), autocommit=True) as conn:
            start = chain(conn, n)[:1] if curve == "delete_chain" else wide(conn, n)[0]
        result, peak = run_aiida_measured(GRAPH_OPS, {"op": "delete", "pks": start, "dry_run": False}, prof,
                                          tmp / "home")  # fmt: skip
        assert result["deleted"] is True and len(result["pks"]) == (n if curve == "delete_chain" else 3 * len(start))
        return {"seconds": result["seconds"], "peak_mb": peak}
    path = archive(made, n, tmp)
    if curve == "import":
        prof = scratch.storages.new("aiida-import")
        result, peak = run_aiida_measured(OPS, {"op": "import_archive", "path": str(path)}, prof, tmp / "home")
        assert result["counts"]["nodes"] == archive_counts(path)["nodes"], result["counts"]
        return {"seconds": result["seconds"], "peak_mb": peak}
    prof = export_source(scratch, path)
    out = tmp / "aiida-export.aiida"
    result, peak = run_aiida_measured(EXPORT_OPS, {"op": "create", "requests": [{"path": str(out), "all": True}]},
                                      prof, tmp / "home")  # fmt: skip
    assert "error" not in result["results"][0], result
    assert archive_counts(out)["nodes"] == archive_counts(path)["nodes"]
    return {"seconds": result["results"][0]["seconds"], "peak_mb": peak}


def export_source(scratch: Scratch, path: Path) -> Profile:
    """A fresh storage holding ``path`` imported by fastdos (the export's source), vacuumed."""
    prof = scratch.storages.new("growth-export")
    with Backend(prof) as backend:
        import_archive(backend, path, import_group=False)
    with psycopg.connect(prof.conninfo(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return prof


def worker_payload(
    curve: str, method: str, n: int, rounds: int, scratch: Scratch, made: dict[int, Path], tmp: Path
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if curve == "import":
        path = archive(made, n, tmp)
        profiles = [scratch.storages.new() for _ in range(rounds)]
        extra = {"archive": str(path), "nodes": archive_counts(path)["nodes"]}
    elif curve == "export":
        path = archive(made, n, tmp)
        profiles = [export_source(scratch, path)]
        extra = {"out": str(tmp / "fastdos-export.aiida"), "nodes": archive_counts(path)["nodes"]}
    elif curve == "keyset":
        profiles = [scratch.clone(container=False)]
        extra = {"expected": sorted(seed_keyset(profiles[0], n))}
    else:
        profiles = [scratch.clone()]
    return {"case": curve, "method": method, "n": n, "rounds": rounds, "extra": extra,
            "storages": [[p.conninfo(), str(p.repository_path)] for p in profiles]}  # fmt: skip


@pytest.mark.parametrize(("curve", "method", "n"), points(), ids=lambda v: str(v))
def test_growth_point(
    curve: str,
    method: str,
    n: int,
    growth: dict[str, Any],
    archives: dict[int, Path],
    pg_server: PgServer,
    template_db: str,
    tmp_path: Path,
) -> None:
    entry = growth["curves"][curve]["methods"][method]
    cap = CAPS.get((curve, method))
    if cap is not None and n > cap:
        entry["skipped"].append({"n": n, "reason": f"capped at {cap:,} nodes (one point would take many minutes)"})
        save(growth)
        pytest.skip(f"{curve}/{method} capped at {cap}")
    scratch = Scratch(pg_server, template_db, tmp_path)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        if method == "aiida":
            point = {**aiida_point(curve, n, scratch, archives, tmp_path), "rounds": 1}
        else:
            rounds = 1 if curve in ("import", "export") and n > 10_000 else ROUNDS.get(n, 1)
            measured = run_worker(worker_payload(curve, method, n, rounds, scratch, archives, tmp_path))
            point = {"seconds": min(measured["seconds"]), "peak_mb": max(measured["peak_mb"]),
                     "start_mb": measured["start_mb"], "rounds": rounds,
                     "all_seconds": [round(s, 4) for s in measured["seconds"]]}  # fmt: skip
    finally:
        scratch.drop()
    point.update(n=n, load1=round(load, 2), wall_s=round(time.perf_counter() - started, 1))
    entry["points"].append(point)
    save(growth)
