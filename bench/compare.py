"""Compare a pytest-benchmark run with the stored baseline; exit 1 when a figure regresses by more than 10 %.

Usage: ``python -m bench.compare BASELINE.json RUN.json [--threshold 0.10]``. Benchmarks are matched by
their full name; the statistic compared is the *minimum* round time, the least noisy figure on a shared
2-core machine (the median moved by up to 8 % between identical runs here, the minimum by about 3 %).

These machines also change speed as a whole between runs (a quiet re-run on 2026-11-27 found the in-run
comparisons — raw COPY, executemany, aiida-core — 10-80 % slower than in the baseline run, fastdos alike).
So each ratio is divided by the *machine factor*, the median ratio over all benchmarks of the run: a
regression is a benchmark that got slower than the run as a whole. A benchmark missing from the baseline is
reported as new, not as a failure. Without a baseline file the run becomes the baseline.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def load(path: Path) -> dict[str, float]:
    """Benchmark full name -> minimum round time in seconds."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {bench["fullname"]: float(bench["stats"]["min"]) for bench in data.get("benchmarks", [])}


def machine_factor(baseline: dict[str, float], run: dict[str, float]) -> float:
    """Median of run/baseline over the benchmarks both have (1.0 when none): how much slower the machine is."""
    ratios = sorted(run[name] / baseline[name] for name in run if baseline.get(name))
    if not ratios:
        return 1.0
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def compare(baseline: dict[str, float], run: dict[str, float], threshold: float) -> list[str]:
    """Lines describing each benchmark; the ones starting with 'REGRESSION' fail the run."""
    factor = machine_factor(baseline, run)
    lines = [f"machine factor (median run/baseline over all benchmarks): {factor:.2f}"]
    for name, seconds in sorted(run.items()):
        before = baseline.get(name)
        if before is None:
            lines.append(f"new        {seconds * 1e3:10.2f} ms  {name}")
            continue
        ratio = seconds / before if before else float("inf")
        normalised = ratio / factor
        tag = "REGRESSION" if normalised > 1 + threshold else "ok        "
        lines.append(
            f"{tag} {seconds * 1e3:10.2f} ms  ({ratio:5.2f} x baseline {before * 1e3:.2f} ms, "
            f"{normalised:5.2f} x after the machine factor)  {name}"
        )
    for name in sorted(set(baseline) - set(run)):
        lines.append(f"missing    (in baseline, not run)  {name}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("run", type=Path)
    parser.add_argument("--threshold", type=float, default=0.10)
    args = parser.parse_args(argv)
    if not args.baseline.exists():
        shutil.copyfile(args.run, args.baseline)
        print(f"no baseline yet: {args.run} saved as {args.baseline}")
        return 0
    lines = compare(load(args.baseline), load(args.run), args.threshold)
    print("\n".join(lines))
    failed = [line for line in lines if line.startswith("REGRESSION")]
    if failed:
        print(f"{len(failed)} benchmark(s) slower than the baseline by more than {args.threshold:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
