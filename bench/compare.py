"""The regression gate of ``make bench``: ratios to in-run references and work counts, thresholds from noise.

Usage::

    python -m bench.compare RUN.json [--baseline bench/baseline.json] [--calibration bench/calibration.json]
                            [--history bench/history.jsonl | --no-history]
    python -m bench.compare --save RUN.json        # make RUN the baseline (``make bench-save``)

``RUN.json`` is what ``pytest bench --benchmark-json`` wrote; its history record (bench/record.py) is
appended to the history file and compared with the baseline, a record of the same format. For each gated
benchmark (bench/pairs.py) the gate checks

* its **ratio** (reference seconds / its seconds, both from the same run): machine speed cancels out;
* its **work**: statements, rows, shared buffers (hit + read: which of the two depends on the cache, the sum
  on the plan), WAL bytes, temp blocks, client CPU.

A figure fails when it is worse than the baseline by more than its threshold, ``max(floor, MARGIN x
spread)`` in log terms (measured from the calibration's median when the baseline is one of the calibrated
runs, :func:`centre`), where ``spread`` is the largest deviation from the median measured for that figure
over repeated runs of an unchanged tree (bench/calibration.json, made by bench/calibrate.py; how: see
bench/notes/gate.md). A ratio whose threshold is wider than ``UNGATEABLE`` is shown, not gated (the work
figures still are). Exit status 1 on a regression, 2 on unusable input (one line, no traceback).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from bench.record import HISTORY, ROOT, GateError, append, commit_of, load_json, record_from

BASELINE = ROOT / "bench" / "baseline.json"
CALIBRATION = ROOT / "bench" / "calibration.json"
BASELINE_FORMAT = "fastdos-bench-baseline/1"
CALIBRATION_FORMAT = "fastdos-bench-calibration/1"

# Gated figures: the ratio, then the work figures (shared_blks = hit + read).
FIGURES = ("ratio", "statements", "rows", "shared_blks", "wal_bytes", "temp_blks_written", "client_cpu_s")
# A threshold is MARGIN x the worst deviation seen in calibration: a run and the baseline can each sit at
# an opposite end of the spread.
MARGIN = 2.0
# Smallest relative threshold per figure (log terms). Counts are exact for an unchanged plan, but autovacuum
# and catalog caches add a few percent to rows and buffers (bench/notes/gate.md).
FLOOR = {"ratio": 0.08, "statements": 0.0, "rows": 0.05, "shared_blks": 0.08, "wal_bytes": 0.10,
         "temp_blks_written": 0.10, "client_cpu_s": 0.15}  # fmt: skip
# Absolute slack added to the baseline of a count before the relative test, so that 3 -> 4 statements or a
# few catalog pages do not fail (they are below what any planted regression changes).
SLACK = {"ratio": 0.0, "statements": 2, "rows": 200, "shared_blks": 200, "wal_bytes": 256 * 1024,
         "temp_blks_written": 64, "client_cpu_s": 0.02}  # fmt: skip
# Thresholds of figures with no calibration (a benchmark added since bench/calibration.json was made).
UNCALIBRATED = {"ratio": 0.30, "statements": 0.0, "rows": 0.15, "shared_blks": 0.25, "wal_bytes": 0.25,
                "temp_blks_written": 0.25, "client_cpu_s": 0.40}  # fmt: skip
# A ratio noisier than a factor e^0.7 ~ 2 between unchanged runs cannot be gated (sub-millisecond queries).
UNGATEABLE = 0.7
# Recorded and shown, not gated: client CPU time stretches when the VM's CPU is slower (20-45 % for every 10^5
# case at once in an unchanged run, bench/notes/gate.md "Verdict").
NOT_GATED = ("client_cpu_s",)


def machine_factor(run: dict[str, Any], baseline: dict[str, Any], leave_out: tuple[str, ...] = ()) -> float:
    """Median of run/baseline seconds over the benchmarks both have but ``leave_out`` (a benchmark and its
    reference): how much slower the machine is now; 1.0 with nothing to compare."""
    base = baseline["benchmarks"]
    ratios = sorted(e["seconds"] / base[n]["seconds"] for n, e in run["benchmarks"].items()
                    if n in base and n not in leave_out and base[n].get("seconds") and e.get("seconds"))  # fmt: skip
    if not ratios:
        return 1.0
    middle = len(ratios) // 2
    return float(ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2)


def figures_of(entry: dict[str, Any]) -> dict[str, float]:
    """The gated figures of one benchmark entry of a record."""
    work = dict(entry.get("work") or {})
    out: dict[str, float] = {}
    if entry.get("ratio") is not None:
        out["ratio"] = float(entry["ratio"])
    for key in FIGURES[1:]:
        if key == "shared_blks":
            if "shared_blks_hit" in work and "shared_blks_read" in work:
                out[key] = float(work["shared_blks_hit"]) + float(work["shared_blks_read"])
        elif key in work:
            out[key] = float(work[key])
    return out


def deviation(value: float, centre: float, key: str) -> float:
    """|ln| of the ratio of two values of a figure, counts taken with their slack."""
    slack = SLACK[key]
    a, b = value + slack, centre + slack
    if a <= 0 or b <= 0:
        return 0.0 if a == b else math.inf
    return abs(math.log(a / b))


def threshold(name: str, key: str, calibration: dict[str, Any]) -> tuple[float, bool]:
    """(threshold, calibrated?) of figure ``key`` of benchmark ``name``."""
    spread = (calibration.get("benchmarks", {}).get(name) or {}).get(key)
    if spread is None:
        return UNCALIBRATED[key], False
    return max(FLOOR[key], MARGIN * float(spread["spread"])), True


# The calibration stores spreads rounded to 4 decimals (bench/calibrate.py), so the run that set a spread can lie
# up to 5e-5 beyond it: with 1e-9 the most extreme calibration run, saved as the baseline, was taken for a changed
# tree and compared with as it was (set I's false alarm on 2026-12-07, bench/notes/gate.md).
ROUNDING = 1e-4


def centre(name: str, key: str, before: float, calibration: dict[str, Any]) -> float:
    """What figure ``key`` is compared with: the calibration's median while the baseline's value lies within
    the calibrated spread of it (the baseline is then one run of the calibrated tree, possibly an extreme one:
    two false alarms of 2026-12-03 came from such baselines, bench/notes/gate.md), else the baseline's value (a
    baseline saved after a real change, before a new calibration)."""
    spread = (calibration.get("benchmarks", {}).get(name) or {}).get(key)
    if not spread or "median" not in spread:
        return before
    median = float(spread["median"])
    return median if deviation(before, median, key) <= float(spread["spread"]) + ROUNDING else before


def slower_itself(entry: dict[str, Any], before: dict[str, Any], factor: float, limit: float) -> bool:
    """Whether the benchmark's own time rose beyond ``limit`` against the run's machine factor: a ratio whose
    reference ran in a test of its own fails only then, so that a reference that happened to run fast is not
    taken for a regression of fastdos."""
    if not entry.get("seconds") or not before.get("seconds") or factor <= 0:
        return True
    return math.log(entry["seconds"] / before["seconds"] / factor) > limit


def check(name: str, key: str, now: float, before: float, limit: float) -> tuple[bool, str]:
    """(failed?, text) of one figure; the ratio must not fall, the work figures must not grow."""
    if key == "ratio":
        allowed = before * math.exp(-limit)
        return now < allowed, f"ratio {now:.3g} (expected {before:.3g}, allowed >= {allowed:.3g})"
    allowed = (before + SLACK[key]) * math.exp(limit)
    shown = f"{now:.3g}" if key == "client_cpu_s" else f"{now:.0f}"
    return now > allowed, f"{key} {shown} (expected {before:.4g}, allowed <= {allowed:.4g})"


def gate(run: dict[str, Any], baseline: dict[str, Any], calibration: dict[str, Any]) -> tuple[list[str], int]:
    """The gate's report lines and the number of regressions of ``run`` against ``baseline``."""
    lines: list[str] = []
    failures = 0
    not_gated, uncalibrated = [], set()
    base = baseline["benchmarks"]
    lines.append(f"machine factor (median run/baseline time over the run): {machine_factor(run, baseline):.2f}")
    for name, entry in sorted(run["benchmarks"].items()):
        if entry.get("reference") is None:
            if not any(name == e.get("reference") for e in run["benchmarks"].values()):
                not_gated.append(name)
            continue
        if name not in base:
            lines.append(f"new        {name} (not in the baseline; accepted with make bench-save)")
            continue
        now, before = figures_of(entry), figures_of(base[name])
        problems, notes = [], []
        for key in FIGURES:
            if key not in now or key not in before:
                continue
            limit, calibrated = threshold(name, key, calibration)
            if not calibrated:
                uncalibrated.add(name)
            failed, text = check(name, key, now[key], centre(name, key, before[key], calibration), limit)
            factor = machine_factor(run, baseline, (name, str(entry["reference"])))
            # An interleaved ratio (bench/interleave.py) already compares two times of the same moments, and in
            # a planted subset the machine factor is made of the plant's own benchmarks: it is not excused.
            excusable = not entry.get("interleaved")
            if failed and key == "ratio" and excusable and not slower_itself(entry, base[name], factor, limit):
                # the reference, not fastdos, moved (bench/notes/gate.md "Verdict": a reference outlier)
                failed, text = False, f"{text}, but its own time did not rise against the machine factor"
            if key in NOT_GATED:
                if failed:
                    notes.append(f"{text}, recorded, not gated")
                continue
            if key == "ratio" and limit > UNGATEABLE:
                notes.append(f"{text}, not gated: spread e^{limit / MARGIN:.2f}")
            elif failed:
                problems.append(text)
            elif key == "ratio":
                notes.append(text)
        if "ratio" not in now:
            notes.append(f"no ratio: reference {entry['reference']} not in this run")
        failures += bool(problems)
        tag = "REGRESSION" if problems else "ok        "
        lines.append(f"{tag} {name}: " + "; ".join(problems + notes))
    for name in sorted(set(base) - set(run["benchmarks"])):
        if base[name].get("reference") is not None:
            lines.append(f"not run    {name}")
    if not_gated:
        lines.append(f"not gated (no reference in bench/pairs.py): {', '.join(not_gated)}")
    if uncalibrated:
        lines.append(f"uncalibrated (default thresholds): {', '.join(sorted(uncalibrated))}")
    return lines, failures


def load_baseline(path: Path) -> dict[str, Any]:
    data = load_json(path, "baseline")
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT or not isinstance(data.get("record"), dict):
        if isinstance(data, dict) and "benchmarks" in data and "machine_info" in data:
            raise GateError(f"baseline {path} is a raw pytest-benchmark file, not a gate baseline "
                            f"({BASELINE_FORMAT}): accept one with make bench-save")  # fmt: skip
        raise GateError(f"baseline {path} is not a gate baseline (format {BASELINE_FORMAT} expected)")
    record = data["record"]
    if not isinstance(record.get("benchmarks"), dict):
        raise GateError(f"baseline {path} has no benchmarks")
    return dict(record)


def load_calibration(path: Path) -> dict[str, Any]:
    data = load_json(path, "calibration")
    if not isinstance(data, dict) or data.get("format") != CALIBRATION_FORMAT:
        raise GateError(f"calibration {path} is not a gate calibration (format {CALIBRATION_FORMAT} expected)")
    return data


def missing_work(run_json: dict[str, Any]) -> list[str]:
    facts = run_json.get("fastdos") or {}
    return [f"{key}: {why}" for key, why in sorted((facts.get("work_missing") or {}).items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the regression gate of make bench (see bench/compare.py)")
    parser.add_argument("run", type=Path, help="pytest-benchmark JSON of the run")
    parser.add_argument("--baseline", type=Path, default=BASELINE)
    parser.add_argument("--calibration", type=Path, default=CALIBRATION)
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument("--no-history", action="store_true", help="do not append the run to the history")
    parser.add_argument("--save", action="store_true", help="make the run the baseline instead of gating it")
    args = parser.parse_args(argv)
    try:
        run_json = load_json(args.run, "run")
        record = record_from(run_json, str(args.run), commit_of())
        if args.save:
            if record["quick"]:
                raise GateError("a quick run cannot be the baseline: run make bench-save (the full suite)")
            import json

            args.baseline.write_text(json.dumps({"format": BASELINE_FORMAT, "record": record}, indent=1,
                                                sort_keys=True) + "\n", encoding="utf-8")  # fmt: skip
        else:
            baseline = load_baseline(args.baseline)
            calibration = load_calibration(args.calibration)
        if not args.no_history:
            append(record, args.history)
    except GateError as exc:
        print(f"bench gate: {exc}", file=sys.stderr)
        return 2
    machine = record["machine"]
    print(f"run: {len(record['benchmarks'])} benchmarks, commit {record['commit']}, quick={record['quick']}, "
          f"load1 max {machine['load1']}, {machine['server'].split(' on ')[0]}")  # fmt: skip
    for line in missing_work(run_json):
        print(f"work figure missing or partial - {line}")
    if args.save:
        print(f"baseline saved: {args.baseline} (commit it with {args.history.name})")
        return 0
    lines, failures = gate(record, baseline, calibration)
    print("\n".join(lines))
    gated = sum(1 for line in lines if line.startswith(("ok", "REGRESSION")))
    print(f"bench gate: {gated} benchmarks gated against baseline of {baseline.get('date')}, "
          f"{failures} regression(s)")  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
