"""The two inputs of `make bench-report`, read and checked: the run history and the growth curves.

``bench/history.jsonl`` (written by `make bench`, one run per line)::

    {"commit": "<sha or null>", "date": "<ISO 8601 UTC>", "quick": bool,
     "machine": {"cpu", "cores", "python", "server", "load1"},
     "benchmarks": {"<pytest-benchmark fullname>": {"seconds": <min round s>, "reference": "<fullname or null>",
                    "ratio": <reference seconds / this seconds, or null>, "work": {...}}}}

``bench/growth.json`` (written by `make bench-growth`, bench/growth/curves.py): ``{"curves": {name: {"title",
"reference", "methods": {method: {"points": [{"n", "seconds", "peak_mb", ...}], "skipped": [...]}}}}, ...}``.

Anything else is a :class:`ReportError` naming the file, the line or entry, and what is wrong.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ReportError(Exception):
    """A report input that cannot be used; the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class Run:
    """One line of the history: a run of the bench suite."""

    commit: str | None
    date: str
    quick: bool
    machine: dict[str, Any]
    seconds: dict[str, float]
    ratios: dict[str, float]  # benchmarks with a reference only
    references: dict[str, str]

    @property
    def label(self) -> str:
        name = self.commit[:7] if self.commit else "no commit"
        return f"{name}{' (quick)' if self.quick else ''}\n{self.date[:16].replace('T', ' ')}"


@dataclass
class Series:
    """One method of one growth curve: its measured points and the sizes it skipped."""

    n: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float | None] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Curve:
    name: str
    title: str
    reference: str
    methods: dict[str, Series]


def _number(value: Any, *, positive: bool = True) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            and (value > 0 or not positive))  # fmt: skip


def _run(where: str, entry: Any) -> Run:
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: a run must be a JSON object, got {type(entry).__name__}")
    benchmarks = entry.get("benchmarks")
    if not isinstance(benchmarks, dict):
        raise ReportError(f"{where}: 'benchmarks' must be an object of benchmark name -> figures")
    date, commit = entry.get("date"), entry.get("commit")
    if not isinstance(date, str) or not date:
        raise ReportError(f"{where}: 'date' must be an ISO 8601 string")
    if commit is not None and not isinstance(commit, str):
        raise ReportError(f"{where}: 'commit' must be a string or null")
    machine = entry.get("machine", {})
    if not isinstance(machine, dict):
        raise ReportError(f"{where}: 'machine' must be an object")
    seconds: dict[str, float] = {}
    ratios: dict[str, float] = {}
    references: dict[str, str] = {}
    for name, figures in benchmarks.items():
        if not isinstance(figures, dict) or not _number(figures.get("seconds")):
            raise ReportError(f"{where}: benchmark {name!r} needs a positive number 'seconds'")
        seconds[name] = float(figures["seconds"])
        ratio, reference = figures.get("ratio"), figures.get("reference")
        if ratio is not None:
            if not _number(ratio):
                raise ReportError(f"{where}: benchmark {name!r} has 'ratio' {ratio!r}, not a positive number")
            ratios[name] = float(ratio)
        if reference is not None:
            if not isinstance(reference, str):
                raise ReportError(f"{where}: benchmark {name!r} has 'reference' {reference!r}, not a name")
            references[name] = reference
    return Run(commit, date, bool(entry.get("quick", False)), machine, seconds, ratios, references)


def read_history(path: Path) -> list[Run]:
    """The runs of ``path`` in file order (an empty file: no runs yet)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such history file (`make bench` appends to it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read ({exc})") from None
    runs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path} line {number}: not JSON ({exc.msg})") from None
        runs.append(_run(f"{path} line {number}", entry))
    return runs


def read_growth(path: Path) -> tuple[dict[str, Any], list[Curve]]:
    """The run description (everything but the curves) and the curves of ``path``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such growth file (`make bench-growth` writes it)") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("curves"), dict):
        raise ReportError(f"{path}: expected an object with 'curves'")
    curves = []
    for name, curve in data["curves"].items():
        where = f"{path} curve {name!r}"
        if not isinstance(curve, dict) or not isinstance(curve.get("methods"), dict):
            raise ReportError(f"{where}: expected an object with 'methods'")
        methods = {}
        for method, entry in curve["methods"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("points", []), list):
                raise ReportError(f"{where} method {method!r}: expected an object with a list 'points'")
            series = Series(skipped=[s for s in entry.get("skipped", []) if isinstance(s, dict)])
            for point in sorted(entry.get("points", []), key=lambda p: p.get("n", 0) if isinstance(p, dict) else 0):
                if not isinstance(point, dict) or not isinstance(point.get("n"), int) or point["n"] <= 0:
                    raise ReportError(f"{where} method {method!r}: a point without a positive integer 'n'")
                if not _number(point.get("seconds")):
                    raise ReportError(f"{where} method {method!r} n={point['n']}: 'seconds' must be positive")
                peak = point.get("peak_mb")
                if peak is not None and not _number(peak):
                    raise ReportError(f"{where} method {method!r} n={point['n']}: 'peak_mb' must be positive")
                series.n.append(point["n"])
                series.seconds.append(float(point["seconds"]))
                series.peak_mb.append(None if peak is None else float(peak))
            methods[method] = series
        reference = curve.get("reference")
        curves.append(Curve(name, str(curve.get("title", name)), reference if isinstance(reference, str) else "",
                            methods))  # fmt: skip
    return {k: v for k, v in data.items() if k != "curves"}, curves


def exponent(n: Sequence[int], values: Sequence[float | None]) -> float | None:
    """Least-squares slope of log(value) against log(n): the growth exponent (None below two sizes)."""
    pairs = [(math.log(x), math.log(y)) for x, y in zip(n, values, strict=True) if y is not None and y > 0]
    if len({x for x, _ in pairs}) < 2:
        return None
    mean_x = sum(x for x, _ in pairs) / len(pairs)
    mean_y = sum(y for _, y in pairs) / len(pairs)
    sxx = sum((x - mean_x) ** 2 for x, _ in pairs)
    return sum((x - mean_x) * (y - mean_y) for x, y in pairs) / sxx
