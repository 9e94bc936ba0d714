"""Make bench/calibration.json: each gated figure's run-to-run spread over repeated runs of one tree.

Usage: ``python -m bench.calibrate RUN1.json RUN2.json RUN3.json ... [--history bench/history.jsonl --commit
SHA ...] [--out bench/calibration.json] [--note TEXT]``, the inputs being pytest-benchmark JSON files of
``make bench`` / ``make bench-quick`` runs of an unchanged tree (full and quick runs mix: a quick run is a
subset with the same names and work), and/or the records of the history file whose commit starts with one
of the ``--commit`` prefixes (the gated runs of that tree: every ``make bench`` appends one). A benchmark
whose name contains a ``--changed`` text is calibrated from the RUN files alone: its code changed since the
history's runs, whose other benchmarks still count (their spread over more runs and machines); with
``--previous CALIBRATION`` those others also keep at least the spread they had in that file (runs whose files
are no longer at hand). For every
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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.compare import CALIBRATION, CALIBRATION_FORMAT, FIGURES, deviation, figures_of, load_calibration
from bench.record import GateError, load_json, record_from

MIN_RUNS = 3


def calibrate(
    records: Sequence[dict[str, Any]],
    older: Sequence[dict[str, Any]] = (),
    changed: Sequence[str] = (),
    previous: dict[str, dict[str, dict[str, float]]] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{benchmark: {figure: {"median", "spread", "n"}}}`` over the records, and over the ``older`` ones for
    the benchmarks whose name contains none of ``changed``; those also keep at least their spread in
    ``previous`` (a calibration's ``benchmarks``)."""
    values: dict[str, dict[str, list[float]]] = {}
    for record, old in [*((r, False) for r in records), *((r, True) for r in older)]:
        for name, entry in record["benchmarks"].items():
            if entry.get("reference") is None or (old and any(text in name for text in changed)):
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
            if previous and not any(text in name for text in changed):
                spread = max(spread, previous.get(name, {}).get(key, {}).get("spread", 0.0))
            out.setdefault(name, {})[key] = {"median": round(centre, 6), "spread": round(spread, 4), "n": len(seen)}
    return out


def history_records(path: Path, commits: list[str]) -> list[dict[str, Any]]:
    """The records of the history file ``path`` whose commit starts with one of ``commits``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GateError(f"{path}: cannot read the history file ({exc.strerror})") from None
    taken = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise GateError(f"{path} line {number}: not a JSON record") from None
        if not isinstance(record, dict) or not isinstance(record.get("benchmarks"), dict):
            raise GateError(f"{path} line {number}: not a history record (no 'benchmarks' object)")
        if any(str(record.get("commit") or "").startswith(c) for c in commits):
            taken.append(record)
    if not taken:
        raise GateError(f"{path}: no record of commit {', '.join(commits)}")
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="make the gate's calibration from repeated runs")
    parser.add_argument("runs", type=Path, nargs="*")
    parser.add_argument("--history", type=Path, help="also the records of this history file ...")
    parser.add_argument("--commit", action="append", default=[], help="... whose commit starts with this")
    parser.add_argument(
        "--changed", action="append", default=[], help="benchmarks whose name contains this: from the RUN files only"
    )
    parser.add_argument("--previous", type=Path, help="a calibration whose spreads the unchanged benchmarks keep")
    parser.add_argument("--out", type=Path, default=CALIBRATION)
    parser.add_argument("--note", default="", help="how the runs were made (kept in the file)")
    args = parser.parse_args(argv)
    try:
        records = [record_from(load_json(path, "run"), str(path), None) for path in args.runs]
        sources = [path.name for path in args.runs]
        taken: list[dict[str, Any]] = []
        if args.history is not None:
            if not args.commit:
                raise GateError("--history needs --commit: which tree's runs to take")
            taken = history_records(args.history, args.commit)
            sources += [f"{args.history.name}:{r['commit']}@{r['date']}" for r in taken]
        previous = load_calibration(args.previous)["benchmarks"] if args.previous is not None else None
        if args.changed and len(records) < MIN_RUNS:
            raise GateError(f"--changed needs at least {MIN_RUNS} RUN files, got {len(records)}")
        if len(records) + len(taken) < MIN_RUNS:
            raise GateError(f"calibration needs at least {MIN_RUNS} runs, got {len(records) + len(taken)}")
    except GateError as exc:
        print(f"bench calibrate: {exc}", file=sys.stderr)
        return 2
    every = records + taken
    runs = [{"file": source, "date": r["date"], "quick": r["quick"], "load1": r["machine"]["load1"],
             "benchmarks": len(r["benchmarks"])} for source, r in zip(sources, every, strict=True)]  # fmt: skip
    figures = calibrate(records, taken, args.changed, previous)
    document = {
        "format": CALIBRATION_FORMAT,
        "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": args.note,
        "changed": args.changed,
        "previous": str(args.previous) if args.previous else None,
        "runs": runs,
        "benchmarks": figures,
    }
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"calibration of {len(figures)} benchmarks from {len(every)} runs written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
