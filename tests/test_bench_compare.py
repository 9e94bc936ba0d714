"""The regression gate of ``make bench`` (bench/compare.py, bench/record.py, bench/calibrate.py, bench/pairs.py,
bench/planted.py), on the JSON of a tiny real benchmark run.

The run is real: pytest-benchmark over bench/test_repository.py's keyset pair (fastdos' SQL anti-join and
aiida's Python way, 500 objects) on the suite's server, with bench/conftest.py capturing the work figures. The
tests then derive other runs from that JSON (slower, more work, a slower machine) and check the gate's
verdicts; nothing is hard-coded but the multipliers.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import calibrate, compare, planted
from bench.pairs import REFERENCES, reference_of
from bench.record import append, record_from
from bench.work import WORK_KEYS

ROOT = Path(__file__).resolve().parent.parent
FAST = "bench/test_repository.py::test_keyset_sql"
REF = "bench/test_repository.py::test_keyset_python_batches_of_100"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pytest-benchmark JSON of a tiny real bench run (the keyset pair)."""
    out = tmp_path_factory.mktemp("bench-run") / "run.json"
    env = {**os.environ, "FASTDOS_BENCH_KEYSET_N": "500"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_repository.py", "-k", "keyset", "--benchmark-enable",
         "--benchmark-only", "-p", "no:cacheprovider", "-q", f"--benchmark-json={out}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict(json.loads(out.read_text()))


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def bench_of(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(b for b in data["benchmarks"] if b["fullname"] == name)


def run_gate(tmp_path: Path, run: dict[str, Any], base_run: dict[str, Any], calibration: Path | None = None,
             ) -> tuple[int, str, str]:  # fmt: skip
    base = tmp_path / "baseline.json"
    history = tmp_path / "history.jsonl"
    assert compare.main(["--save", str(write(tmp_path / "base-run.json", base_run)), "--baseline", str(base),
                         "--history", str(history)]) == 0  # fmt: skip
    if calibration is None:
        calibration = tmp_path / "calibration.json"
        assert calibrate.main([str(tmp_path / "base-run.json")] * 3 + ["--out", str(calibration)]) == 0
    status = compare.main([str(write(tmp_path / "run.json", run)), "--baseline", str(base), "--calibration",
                           str(calibration), "--history", str(history)])  # fmt: skip
    return status, str(base), history.read_text()


def test_record_of_a_real_run(real_run: dict[str, Any], pg_server: Any) -> None:
    record = record_from(real_run, "run.json", "abc")
    fast, ref = record["benchmarks"][FAST], record["benchmarks"][REF]
    assert fast["reference"] == REF and ref["reference"] is None and ref["ratio"] is None
    expected = bench_of(real_run, REF)["stats"]["min"] / bench_of(real_run, FAST)["stats"]["min"]
    assert fast["ratio"] == pytest.approx(expected, rel=1e-5)
    assert fast["seconds"] == bench_of(real_run, FAST)["stats"]["min"]
    wanted = set(WORK_KEYS) - ({"wal_bytes"} if not pg_server.embedded else set())
    assert set(fast["work"]) == wanted
    # the SQL anti-join reads rows in PostgreSQL; aiida's way fetches every node's tree
    assert fast["work"]["rows"] > 0 and ref["work"]["statements"] >= 1 and fast["work"]["client_cpu_s"] >= 0
    machine = record["machine"]
    assert machine["cores"] == os.cpu_count() and machine["server"].startswith("PostgreSQL")
    assert record["quick"] is False and record["commit"] == "abc" and isinstance(machine["load1"], float)


def test_unchanged_run_passes_and_is_recorded(real_run: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    status, _, history = run_gate(tmp_path, real_run, real_run)
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"ok         {FAST}:" in out and "0 regression(s)" in out
    lines = [json.loads(line) for line in history.splitlines()]
    assert len(lines) == 2  # bench-save's run and the gated run
    assert set(lines[1]) == {"commit", "date", "quick", "machine", "benchmarks"}
    assert set(lines[1]["machine"]) == {"cpu", "cores", "python", "server", "load1"}
    assert set(lines[1]["benchmarks"][FAST]) == {"seconds", "reference", "ratio", "work", "interleaved"}


def test_slower_fastdos_fails_naming_it(real_run: dict[str, Any], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    slower = copy.deepcopy(real_run)
    bench_of(slower, FAST)["stats"]["min"] *= 1.5
    assert run_gate(tmp_path, slower, real_run)[0] == 1
    out = capsys.readouterr().out
    assert f"REGRESSION {FAST}: ratio" in out and "1 regression(s)" in out


def test_a_slower_machine_is_not_a_regression(real_run: dict[str, Any], tmp_path: Path) -> None:
    slower = copy.deepcopy(real_run)
    for bench in slower["benchmarks"]:
        bench["stats"]["min"] *= 1.6
    assert run_gate(tmp_path, slower, real_run)[0] == 0


@pytest.mark.parametrize("key", ["statements", "rows", "shared_blks_hit"])
def test_more_work_fails_naming_the_figure(real_run: dict[str, Any], tmp_path: Path, key: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    more = copy.deepcopy(real_run)
    work = bench_of(more, FAST)["extra_info"]["work"]
    work[key] = work[key] * 20 + compare.SLACK["shared_blks" if key == "shared_blks_hit" else key] * 3
    assert run_gate(tmp_path, more, real_run)[0] == 1
    figure = "shared_blks" if key == "shared_blks_hit" else key
    assert f"REGRESSION {FAST}: {figure} " in capsys.readouterr().out


def test_calibrated_threshold_is_margin_times_spread(real_run: dict[str, Any], tmp_path: Path) -> None:
    runs = []
    for i, factor in enumerate((1.0, 1.1, 0.95)):
        data = copy.deepcopy(real_run)
        bench_of(data, FAST)["stats"]["min"] *= factor
        runs.append(str(write(tmp_path / f"r{i}.json", data)))
    out = tmp_path / "cal.json"
    assert calibrate.main([*runs, "--out", str(out), "--note", "test"]) == 0
    cal = json.loads(out.read_text())
    ratios = [record_from(json.loads(Path(r).read_text()), r, None)["benchmarks"][FAST]["ratio"] for r in runs]
    median = sorted(ratios)[1]
    spread = max(abs(math.log(r / median)) for r in ratios)
    assert cal["benchmarks"][FAST]["ratio"]["spread"] == pytest.approx(spread, abs=1e-4)
    limit, calibrated = compare.threshold(FAST, "ratio", cal)
    assert calibrated and limit == pytest.approx(max(compare.FLOOR["ratio"], compare.MARGIN * spread), abs=1e-4)
    assert compare.threshold("bench/test_new.py::test_x", "ratio", cal) == (compare.UNCALIBRATED["ratio"], False)


def gate_error(capsys: pytest.CaptureFixture[str], argv: list[str], main: Any = compare.main) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_bad_inputs(real_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = str(write(tmp_path / "run.json", real_run))
    base = tmp_path / "base.json"
    hist = ["--history", str(tmp_path / "h.jsonl")]
    assert compare.main(["--save", run, "--baseline", str(base), *hist]) == 0
    cal = tmp_path / "cal.json"
    assert calibrate.main([run, run, run, "--out", str(cal)]) == 0
    ok = ["--baseline", str(base), "--calibration", str(cal), *hist]
    assert "does not exist" in gate_error(capsys, [str(tmp_path / "nope.json"), *ok])
    assert "not valid JSON" in gate_error(capsys, [str(write(tmp_path / "bad.json", "{oops")), *ok])
    assert "no 'benchmarks' list" in gate_error(capsys, [str(write(tmp_path / "list.json", [1, 2])), *ok])
    broken = {"benchmarks": [{"name": "x"}]}
    assert "without 'fullname'" in gate_error(capsys, [str(write(tmp_path / "b.json", broken)), *ok])
    raw = ["--baseline", run, "--calibration", str(cal), *hist]  # a pytest-benchmark file as the baseline
    assert "raw pytest-benchmark file" in gate_error(capsys, [run, *raw])
    other = ["--baseline", str(write(tmp_path / "o.json", {"format": "x/9"})), "--calibration", str(cal), *hist]
    assert "not a gate baseline" in gate_error(capsys, [run, *other])
    wrong_cal = ["--baseline", str(base), "--calibration", str(base), *hist]
    assert "not a gate calibration" in gate_error(capsys, [run, *wrong_cal])
    assert "does not exist" in gate_error(capsys, [run, "--baseline", str(tmp_path / "none.json"), *hist])
    quick = copy.deepcopy(real_run)
    quick["fastdos"]["quick"] = True
    quick_run = str(write(tmp_path / "quick.json", quick))
    assert "quick run cannot be the baseline" in gate_error(capsys, ["--save", quick_run, "--baseline",
                                                                     str(base), *hist])  # fmt: skip
    assert "at least 3 runs" in gate_error(capsys, [run, "--out", str(cal)], calibrate.main)
    assert json.loads(base.read_text())["format"] == compare.BASELINE_FORMAT  # left as it was


def collected_benchmarks() -> list[str]:
    """Every benchmark of the suite, the FASTDOS_BENCH_LARGE ones included."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "FASTDOS_BENCH_LARGE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [line.strip() for line in proc.stdout.splitlines() if "::" in line]


def test_every_pairing_resolves_to_a_collected_benchmark() -> None:
    names = set(collected_benchmarks())
    for name in names:
        reference = reference_of(name)
        if reference is not None:
            assert reference in names, f"{name}: reference {reference} is not a benchmark"
    for pattern, _ in REFERENCES:
        assert any(re.fullmatch(pattern, n) for n in names), f"pairing {pattern} matches nothing"
    assert FAST in names and reference_of(FAST) == REF


def test_plants_apply_to_the_current_code(tmp_path: Path) -> None:
    for plant in planted.PLANTS:
        text = (ROOT / plant.path).read_text(encoding="utf-8")
        assert text.count(plant.old) == 1, f"{plant.name}: its anchor moved in {plant.path}"
        assert plant.expected.startswith(plant.tests[0] + "::")
    fake = tmp_path / "tree"
    (fake / "fastdos").mkdir(parents=True)
    (fake / "fastdos" / "ingest.py").write_text("nothing to plant here\n")
    with pytest.raises(planted.PlantError, match="not found once"):
        planted.apply(planted.PLANTS[0], fake)


def test_scratch_worktree_leaves_the_checkout_alone() -> None:
    status = planted.git("status", "--porcelain")
    head = planted.git("rev-parse", "HEAD")
    tree = planted.scratch_worktree()
    try:
        assert (tree / "fastdos" / "ingest.py").exists() and (tree / ".venv").is_symlink()
        planted.apply(planted.PLANTS[2], tree)
        assert planted.PLANTS[2].new in (tree / planted.PLANTS[2].path).read_text()
    finally:
        planted.remove_worktree(tree)
    assert not tree.exists()
    assert planted.git("status", "--porcelain") == status and planted.git("rev-parse", "HEAD") == head
    assert planted.PLANTS[2].new not in (ROOT / planted.PLANTS[2].path).read_text()


def test_interleaved_reference_gives_the_ratio(tmp_path: Path) -> None:
    """A fastdos ingest benchmark times its raw COPY in alternating rounds (bench/interleave.py); the record's
    ratio comes from those rounds, not from the reference's own test (which this run does not even have)."""
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_ingest.py", "-k", "test_node_insert and fastdos-10000",
         "--benchmark-enable", "--benchmark-only", "-p", "no:cacheprovider", "-q", f"--benchmark-json={out}"],
        cwd=ROOT, env={**os.environ, "FASTDOS_BENCH_QUICK": "1"}, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    name = "bench/test_ingest.py::test_node_insert[fastdos-10000]"
    bench = bench_of(data, name)
    assert bench["extra_info"]["interleaved_reference_rounds"] == bench["stats"]["rounds"] == 5
    reference_s = bench["extra_info"]["interleaved_reference_s"]
    assert reference_s > 0
    entry = record_from(data, str(out), None)["benchmarks"][name]
    assert entry["reference"] == "bench/test_ingest.py::test_node_insert[raw_copy-10000]"
    assert entry["ratio"] == pytest.approx(reference_s / bench["stats"]["min"], rel=1e-5)
    assert entry["interleaved"] is True
    # the plant's case: fastdos slower against a reference timed in the same rounds, the machine factor made of
    # benchmarks the plant slowed as much: that excuses nothing, the gate fails naming it (1.5: beyond the
    # uncalibrated threshold)
    baseline = record_from(data, "base", None)
    slower = copy.deepcopy(data)
    for other in slower["benchmarks"]:
        other["stats"]["min"] *= 1.5
    lines, failures = compare.gate(record_from(slower, "slower", None), baseline, {"benchmarks": {}})
    assert failures == 1 and any(line.startswith("REGRESSION " + name + ":") for line in lines), lines


def test_an_extreme_baseline_is_measured_from_the_median(real_run: dict[str, Any], tmp_path: Path) -> None:
    """The baseline is one calibrated run, the most extreme one here: a run as far below the median as the limit
    allows passes (against the baseline alone it would fail), one beyond it fails; the calibration can take
    the gated runs from the history file."""
    runs, history = [], tmp_path / "history.jsonl"
    for i, factor in enumerate((1.0, 1.02, 0.9)):  # the last run: fastdos 10 % faster, its ratio the highest
        data = copy.deepcopy(real_run)
        bench_of(data, FAST)["stats"]["min"] *= factor
        runs.append(write(tmp_path / f"r{i}.json", data))
    for i, path in enumerate(runs[:2]):
        append(record_from(json.loads(path.read_text()), str(path), f"tree{i}"), history)
    cal = tmp_path / "cal.json"
    assert calibrate.main([str(runs[2]), "--history", str(history), "--commit", "tree", "--out", str(cal)]) == 0
    calibration = json.loads(cal.read_text())
    entry = calibration["benchmarks"][FAST]["ratio"]
    assert len(calibration["runs"]) == 3 and entry["n"] == 3
    limit, _ = compare.threshold(FAST, "ratio", calibration)
    base_ratio = record_from(json.loads(runs[2].read_text()), "r2", None)["benchmarks"][FAST]["ratio"]
    assert compare.centre(FAST, "ratio", base_ratio, calibration) == entry["median"] != base_ratio
    for factor, status in ((math.exp(limit * 0.9), 0), (math.exp(limit * 1.1), 1)):
        slower = copy.deepcopy(real_run)
        bench_of(slower, FAST)["stats"]["min"] *= 1.02 * factor  # the median run, made slower
        folder = tmp_path / f"gate{status}"
        folder.mkdir()
        assert run_gate(folder, slower, json.loads(runs[2].read_text()), cal)[0] == status
    # a baseline outside the calibrated spread (saved after a real change) is compared with as it is
    assert compare.centre(FAST, "ratio", entry["median"] * 2, calibration) == entry["median"] * 2


def test_client_cpu_is_recorded_not_gated(real_run: dict[str, Any], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    more = copy.deepcopy(real_run)
    work = bench_of(more, FAST)["extra_info"]["work"]
    work["client_cpu_s"] = work["client_cpu_s"] * 20 + 1
    assert run_gate(tmp_path, more, real_run)[0] == 0
    assert "client_cpu_s" in capsys.readouterr().out


def test_a_faster_reference_is_not_a_regression(real_run: dict[str, Any], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The reference ran 40 % faster, fastdos as before: the ratio falls, but fastdos did not get slower."""
    faster_ref = copy.deepcopy(real_run)
    bench_of(faster_ref, REF)["stats"]["min"] *= 0.6
    assert run_gate(tmp_path, faster_ref, real_run)[0] == 0
    assert "did not rise against the machine factor" in capsys.readouterr().out


def test_changed_benchmarks_are_calibrated_from_the_new_runs_only(
    real_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a change to one benchmark's code, ``--changed`` keeps the history's runs out of that benchmark's
    figures (their median is the old code's) while the other benchmarks still take them."""
    history = tmp_path / "history.jsonl"
    for i in range(3):  # the old tree: fastdos twice as slow
        old = copy.deepcopy(real_run)
        bench_of(old, FAST)["stats"]["min"] *= 2.0
        path = write(tmp_path / f"old{i}.json", old)
        append(record_from(json.loads(path.read_text()), str(path), f"old{i}"), history)
    new = [str(write(tmp_path / f"new{i}.json", real_run)) for i in range(3)]
    mixed, fresh = tmp_path / "mixed.json", tmp_path / "fresh.json"
    hist = ["--history", str(history), "--commit", "old"]
    assert calibrate.main([*new, *hist, "--out", str(mixed)]) == 0
    assert calibrate.main([*new, *hist, "--changed", "test_keyset", "--out", str(fresh)]) == 0
    new_ratio = record_from(json.loads(Path(new[0]).read_text()), "n", None)["benchmarks"][FAST]["ratio"]
    mixed_entry = json.loads(mixed.read_text())["benchmarks"][FAST]["ratio"]
    fresh_doc = json.loads(fresh.read_text())
    assert mixed_entry["n"] == 6 and mixed_entry["spread"] > 0.3  # the old runs widen it
    fresh_entry = fresh_doc["benchmarks"][FAST]["ratio"]
    assert fresh_entry == {"median": pytest.approx(new_ratio, abs=1e-5), "spread": 0.0, "n": 3}
    assert fresh_doc["changed"] == ["test_keyset"] and len(fresh_doc["runs"]) == 6
    # the new runs alone must be enough for the changed benchmarks
    assert "--changed needs at least 3 RUN files" in gate_error(
        capsys, [new[0], *hist, "--changed", "test_keyset", "--out", str(tmp_path / "x.json")], calibrate.main
    )


def test_previous_calibration_keeps_its_spread_for_unchanged_benchmarks(
    real_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--previous``: an unchanged benchmark keeps at least the spread an earlier calibration saw (runs whose
    files are gone); a ``--changed`` one does not."""
    runs = []
    for i, factor in enumerate((1.0, 1.5, 0.8)):  # a wide spread, from runs no longer at hand
        data = copy.deepcopy(real_run)
        bench_of(data, FAST)["stats"]["min"] *= factor
        runs.append(str(write(tmp_path / f"wide{i}.json", data)))
    wide = tmp_path / "wide-cal.json"
    assert calibrate.main([*runs, "--out", str(wide)]) == 0
    wide_spread = json.loads(wide.read_text())["benchmarks"][FAST]["ratio"]["spread"]
    same = [str(write(tmp_path / f"same{i}.json", real_run)) for i in range(3)]
    kept, fresh = tmp_path / "kept.json", tmp_path / "fresh.json"
    assert calibrate.main([*same, "--previous", str(wide), "--out", str(kept)]) == 0
    assert calibrate.main([*same, "--previous", str(wide), "--changed", "keyset", "--out", str(fresh)]) == 0
    assert wide_spread > 0.2
    assert json.loads(kept.read_text())["benchmarks"][FAST]["ratio"]["spread"] == pytest.approx(wide_spread)
    assert json.loads(fresh.read_text())["benchmarks"][FAST]["ratio"]["spread"] == 0.0
    not_cal = str(write(tmp_path / "not-cal.json", {"format": "x/1"}))
    assert "is not a gate calibration" in gate_error(capsys, [*same, "--previous", not_cal, "--out", str(kept)],
                                                     calibrate.main)  # fmt: skip
    assert "does not exist" in gate_error(capsys, [*same, "--previous", str(tmp_path / "no.json"), "--out",
                                                   str(kept)], calibrate.main)  # fmt: skip


def test_the_run_that_set_a_rounded_spread_still_counts_as_calibrated() -> None:
    """Spreads are stored rounded to 4 decimals: the calibration run that set one (ln 0.07054 here, stored
    0.0705) is still inside it, and compared against the median; a value clearly beyond is a changed tree."""
    calibration = {"benchmarks": {FAST: {"ratio": {"median": 1.0, "spread": 0.0705, "n": 4}}}}
    assert compare.centre(FAST, "ratio", math.exp(0.07054), calibration) == 1.0
    assert compare.centre(FAST, "ratio", math.exp(-0.07054), calibration) == 1.0
    assert compare.centre(FAST, "ratio", math.exp(0.0712), calibration) == pytest.approx(math.exp(0.0712))
