"""`make bench-report` (bench/bench_report.py): the page is self-contained and holds every figure of the run.

The inputs are real: a growth run at 10^3 nodes of two curves (``bench/growth/curves.py`` in a subprocess, on
the suite's server) and a history made of two real pytest-benchmark runs of bench benchmarks that have an in-run
reference (the unreferenced-key scan beside aiida's Python-set way; descendants of a chain, recursive beside
hop-by-hop), turned into history lines of the contract in bench/report_data.py. Bad inputs: one line on
stderr, exit status 2, no traceback.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bench.bench_report import build, fmt
from bench.report_data import exponent, read_growth
from tests.conftest import PgServer

ROOT = Path(__file__).resolve().parent.parent
# (benchmark, its in-run reference) pairs of the tiny pytest-benchmark runs
PAIRS = {
    "bench/test_repository.py::test_keyset_sql": "bench/test_repository.py::test_keyset_python_batches_of_100",
    "bench/test_graph.py::test_descendants_chain_from_1[recursive]":
        "bench/test_graph.py::test_descendants_chain_from_1[hop_by_hop]",
}  # fmt: skip
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def server_env(pg_server: PgServer, **extra: str) -> dict[str, str]:
    """The environment of a child pytest on this suite's server (no second embedded cluster)."""
    return {**os.environ, "FASTDOS_TEST_PG_DSN": pg_server.conninfo(), **extra}


@pytest.fixture(scope="module")
def growth_file(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("growth") / "growth.json"
    env = server_env(pg_server, FASTDOS_GROWTH_SIZES="1000", FASTDOS_GROWTH_CURVES="ingest,keyset",
                     FASTDOS_GROWTH_OUT=str(out))  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "pytest", "bench/growth/curves.py", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


def history_line(benchmark_json: Path) -> dict[str, Any]:
    """One history line (the contract of bench/report_data.py) from a pytest-benchmark JSON file."""
    data = json.loads(benchmark_json.read_text())
    seconds = {b["fullname"]: b["stats"]["min"] for b in data["benchmarks"]}
    benchmarks = {}
    for name, value in seconds.items():
        reference = PAIRS.get(name)
        benchmarks[name] = {"seconds": value, "reference": reference,
                            "ratio": seconds[reference] / value if reference in seconds else None}  # fmt: skip
    info = data["machine_info"]
    return {"commit": data.get("commit_info", {}).get("id"), "date": data["datetime"], "quick": True,
            "machine": {"cpu": info.get("cpu", {}).get("brand_raw", ""), "cores": os.cpu_count(),
                        "python": info["python_version"], "server": "", "load1": os.getloadavg()[0]},
            "benchmarks": benchmarks}  # fmt: skip


@pytest.fixture(scope="module")
def runs(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Two real runs of the paired benchmarks, as history lines."""
    folder = tmp_path_factory.mktemp("history")
    lines = []
    for run in range(2):
        out = folder / f"run{run}.json"
        ids = [name.replace("bench/", "bench/", 1) for pair in PAIRS.items() for name in pair]
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", *ids, "-q", "-p", "no:cacheprovider", "--benchmark-enable",
             "--benchmark-only", f"--benchmark-json={out}"],
            cwd=ROOT, env=server_env(pg_server, FASTDOS_BENCH_KEYSET_N="1000", FASTDOS_BENCH_N="1000"),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        lines.append(history_line(out))
    assert all(len(line["benchmarks"]) == 4 for line in lines)
    return lines


def write_history(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


class Page(HTMLParser):
    """Every tag with its attributes, the data-row cells, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.rows: dict[tuple[str, ...], list[str]] = {}
        self._row: tuple[str, ...] | None = None
        self._cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "tr":
            key = tuple(values[k] for k in ("data-curve", "data-method", "data-n") if k in values)
            key = key or ((values["data-benchmark"],) if "data-benchmark" in values else ())
            self._row = key or None
            if self._row:
                self.rows[self._row] = []
        self._cell = tag == "td" and self._row is not None

    def handle_data(self, data: str) -> None:
        if self._cell and self._row:
            self.rows[self._row].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = False
        if tag == "tr":
            self._row = None


def parse(page: Path) -> Page:
    parser = Page()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def images(parsed: Page) -> list[bytes]:
    return [base64.b64decode(a["src"].split(",", 1)[1]) for tag, a in parsed.tags if tag == "img"]


def test_page_is_self_contained_and_holds_every_figure(
    growth_file: Path, runs: list[dict[str, Any]], tmp_path: Path
) -> None:
    history = write_history(tmp_path / "history.jsonl", runs)
    page = build(history, growth_file, tmp_path / "report")
    text = page.read_text(encoding="utf-8")
    parsed = parse(page)
    # self-contained: nothing fetched, nothing run
    assert "http://" not in text and "https://" not in text
    assert not [t for t, _ in parsed.tags if t in ("script", "link", "iframe", "object", "embed")]
    for _, attrs in parsed.tags:
        for name in ("src", "href"):
            assert attrs.get(name, "data:").startswith(("data:", "#")), attrs
    # one chart per growth curve and per bench module of the history, each also a PNG file beside the page
    _, curves = read_growth(growth_file)
    shown = images(parsed)
    assert len(shown) == len(curves) + 2 and all(png.startswith(PNG_MAGIC) for png in shown)
    assert sorted(shown) == sorted(p.read_bytes() for p in (tmp_path / "report").glob("*.png"))
    # every point of the growth run, with its time and peak memory
    data = json.loads(growth_file.read_text())
    assert {c.name for c in curves} == {"ingest", "keyset"}
    count = 0
    for name, curve in data["curves"].items():
        for method, entry in curve["methods"].items():
            assert entry["points"], (name, method)
            for point in entry["points"]:
                cells = parsed.rows[(name, method, str(point["n"]))]
                assert fmt(point["seconds"]) in cells and fmt(point["peak_mb"]) in cells, cells
                count += 1
    assert count == 5  # ingest: fastdos, raw_copy, executemany; keyset: fastdos, python_set
    # every benchmark of the latest run, with its ratio (and the previous run's)
    latest, previous = runs[-1]["benchmarks"], runs[0]["benchmarks"]
    for name, figures in latest.items():
        cells = parsed.rows[(name,)]
        assert fmt(figures["seconds"]) in cells
        if figures["ratio"] is not None:
            assert fmt(figures["ratio"]) in cells and fmt(previous[name]["ratio"]) in cells


def test_no_run_and_one_run(growth_file: Path, runs: list[dict[str, Any]], tmp_path: Path) -> None:
    empty = parse(build(write_history(tmp_path / "empty.jsonl", []), growth_file, tmp_path / "r0"))
    assert (
        len(images(empty)) == 2
        and "No runs in the history yet"
        in "".join(d for row in empty.rows.values() for d in row) + (tmp_path / "r0" / "index.html").read_text()
    )
    one = parse(build(write_history(tmp_path / "one.jsonl", runs[:1]), growth_file, tmp_path / "r1"))
    assert len(images(one)) == 4
    assert sorted(p.name for p in (tmp_path / "r1").glob("history-*.png")) == [
        "history-test_graph.png",
        "history-test_repository.png",
    ]


def test_exponent_is_the_log_log_slope() -> None:
    assert exponent([1000, 10_000, 100_000], [0.01, 0.1, 1.0]) == pytest.approx(1.0)
    assert exponent([1000, 10_000], [1.0, 100.0]) == pytest.approx(2.0)
    assert exponent([1000], [1.0]) is None and exponent([1000, 10_000], [None, 2.0]) is None


def report_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench.bench_report", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


BAD_HISTORY = {
    "not JSON": "{not json\n",
    "a list": "[1, 2]\n",
    "no benchmarks": '{"date": "2026-01-01T00:00:00+00:00"}\n',
    "no date": '{"benchmarks": {}}\n',
    "ratio a string": '{"date": "d", "benchmarks": {"b": {"seconds": 1.0, "ratio": "fast"}}}\n',
    "negative seconds": '{"date": "d", "benchmarks": {"b": {"seconds": -1}}}\n',
}
BAD_GROWTH = {
    "not JSON": "{",
    "no curves": "{}",
    "methods missing": '{"curves": {"ingest": {}}}',
    "n missing": '{"curves": {"ingest": {"methods": {"fastdos": {"points": [{"seconds": 1}]}}}}}',
    "zero seconds": '{"curves": {"c": {"methods": {"fastdos": {"points": [{"n": 10, "seconds": 0}]}}}}}',
}


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bench-report: error:"), proc.stderr
    assert "Traceback" not in proc.stderr and all(w in lines[0] for w in words), lines


@pytest.mark.parametrize("case", list(BAD_HISTORY))
def test_bad_history(case: str, growth_file: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text('{"date": "d", "benchmarks": {}}\n' + BAD_HISTORY[case])
    out = tmp_path / "out"
    assert_one_line_error(report_cli("--history", str(history), "--growth", str(growth_file), "--out", str(out)),
                          str(history), "line 2")  # fmt: skip
    assert not out.exists()  # nothing written from bad input


@pytest.mark.parametrize("case", list(BAD_GROWTH))
def test_bad_growth(case: str, tmp_path: Path) -> None:
    history = write_history(tmp_path / "history.jsonl", [])
    growth = tmp_path / "growth.json"
    growth.write_text(BAD_GROWTH[case])
    out = tmp_path / "out"
    assert_one_line_error(report_cli("--history", str(history), "--growth", str(growth), "--out", str(out)),
                          str(growth))  # fmt: skip
    assert not out.exists()


def test_missing_files(growth_file: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert_one_line_error(report_cli("--history", str(missing), "--growth", str(growth_file), "--out",
                                     str(tmp_path / "o")), str(missing), "no such history file")  # fmt: skip
    history = write_history(tmp_path / "h.jsonl", [])
    assert_one_line_error(report_cli("--history", str(history), "--growth", str(tmp_path / "g.json"), "--out",
                                     str(tmp_path / "o")), "no such growth file")  # fmt: skip
    assert_one_line_error(report_cli("--summary", "--growth", str(tmp_path / "g.json")), "no such growth file")


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("FASTDOS_GROWTH_SIZES", "1000,lots", "expected node counts"),
        ("FASTDOS_GROWTH_SIZES", "10", "at least 100"),
        ("FASTDOS_GROWTH_CURVES", "ingest,warp", "unknown warp"),
    ],
)
def test_bad_growth_settings(setting: str, value: str, words: str) -> None:
    """A growth run with nonsense settings stops before doing anything: one line, exit status 4."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "bench/growth/curves.py", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, env={**os.environ, setting: value}, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    output = (proc.stdout + proc.stderr).strip().splitlines()
    assert proc.returncode == 4, output
    assert len(output) == 1 and output[0].startswith(f"ERROR: {setting}"), output
    assert words in output[0] and "Traceback" not in proc.stderr
