"""Make bench/calibration.json: each gated figure's run-to-run spread over repeated runs of one tree.

Usage: ``python -m bench.calibrate RUN1.json RUN2.json RUN3.json ... [--out bench/calibration.json]
[--note TEXT]``, the inputs being pytest-benchmark JSON files of ``make bench`` / ``make bench-quick`` runs of
an unchanged tree (full and quick runs mix: a quick run is a subset with the same names and work). For every
gated benchmark (bench/pairs.py) and figure of bench/compare.py, ``spread`` is the largest deviation of a
run's value from the median of all runs, as ``|ln|`` of the ratio (counts with their slack), and ``n`` the
number of runs that had it. The gate's threshold is ``max(floor, MARGIN x spread)``. A figure seen in fewer
than ``MIN_RUNS`` runs is left out (it gets the gate's default). How the committed calibration was made:
bench/notes/gate.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.compare import CALIBRATION, CALIBRATION_FORMAT, FIGURES, deviation, figures_of
from bench.record import GateError, load_json, record_from

MIN_RUNS = 3


def calibrate(records: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{benchmark: {figure: {"median", "spread", "n"}}}`` over the records."""
    values: dict[str, dict[str, list[float]]] = {}
    for record in records:
        for name, entry in record["benchmarks"].items():
            if entry.get("reference") is None:
                continue
            for key, value in figures_of(entry).items():
                values.setdefault(name, {}).setdefault(key, []).append(value)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, per_key in sorted(values.items()):
        for key in FIGURES:
            seen = per_key.get(key, [])
            if len(seen) < MIN_RUNS:
                continue
            centre = statistics.median(seen)
            spread = max(deviation(v, centre, key) for v in seen)
            out.setdefault(name, {})[key] = {"median": round(centre, 6), "spread": round(spread, 4), "n": len(seen)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="make the gate's calibration from repeated runs")
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=CALIBRATION)
    parser.add_argument("--note", default="", help="how the runs were made (kept in the file)")
    args = parser.parse_args(argv)
    try:
        if len(args.runs) < MIN_RUNS:
            raise GateError(f"calibration needs at least {MIN_RUNS} runs, got {len(args.runs)}")
        records = [record_from(load_json(path, "run"), str(path), None) for path in args.runs]
    except GateError as exc:
        print(f"bench calibrate: {exc}", file=sys.stderr)
        return 2
    runs = [{"file": path.name, "date": r["date"], "quick": r["quick"], "load1": r["machine"]["load1"],
             "benchmarks": len(r["benchmarks"])} for path, r in zip(args.runs, records, strict=True)]  # fmt: skip
    figures = calibrate(records)
    document = {
        "format": CALIBRATION_FORMAT,
        "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": args.note,
        "runs": runs,
        "benchmarks": figures,
    }
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"calibration of {len(figures)} benchmarks from {len(records)} runs written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
