"""The history record of a benchmark run (bench/HISTORY_FORMAT.md), made from pytest-benchmark's JSON.

``record_from(data, commit)`` turns the JSON that ``pytest --benchmark-json`` wrote (with the ``fastdos`` key
and each benchmark's ``extra_info["work"]`` that bench/conftest.py adds) into one record: per benchmark its
minimum round time, its reference (bench/pairs.py), the ratio reference/itself and the work figures.
:func:`append` adds a record as one line to bench/history.jsonl.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.interleave import EXTRA_KEY as INTERLEAVED
from bench.pairs import reference_of
from bench.work import WORK_KEYS

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "bench" / "history.jsonl"


class GateError(Exception):
    """A gate input that cannot be used (missing, malformed, another format): one line for the user."""


def load_json(path: Path, what: str) -> Any:
    """The parsed JSON of ``path``, or a GateError naming the file and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GateError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise GateError(f"{what} {path} cannot be read: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise GateError(f"{what} {path} is not valid JSON ({exc})") from None


def commit_of(root: Path = ROOT) -> str | None:
    """The checkout's HEAD commit (``+dirty`` when tracked files other than the history changed), or None."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        # the history file itself changes with every run: not a change of the tree
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":!bench/history.jsonl"],
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def record_from(data: Any, source: str, commit: str | None) -> dict[str, Any]:
    """The history record of a pytest-benchmark JSON document ``data`` (read from ``source``)."""
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise GateError(f"{source} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    seconds: dict[str, float] = {}
    interleaved: dict[str, float] = {}  # the reference timed in alternating rounds (bench/interleave.py)
    work: dict[str, dict[str, Any]] = {}
    for bench in data["benchmarks"]:
        try:
            name, minimum = str(bench["fullname"]), float(bench["stats"]["min"])
        except (KeyError, TypeError, ValueError):
            raise GateError(f"{source}: a benchmark without 'fullname' and 'stats.min'") from None
        seconds[name] = minimum
        extra = bench.get("extra_info") or {}
        if isinstance(extra.get(INTERLEAVED), (int, float)):
            interleaved[name] = float(extra[INTERLEAVED])
        figures = extra.get("work") or {}
        work[name] = {k: figures[k] for k in WORK_KEYS if k in figures}
    facts = data.get("fastdos") or {}
    benchmarks = {}
    for name, value in seconds.items():
        reference = reference_of(name)
        ref_seconds = interleaved.get(name) or (seconds.get(reference) if reference else None)
        ratio = round(ref_seconds / value, 6) if ref_seconds and value > 0 else None
        benchmarks[name] = {"seconds": value, "reference": reference, "ratio": ratio, "work": work[name],
                            "interleaved": name in interleaved}  # fmt: skip
    return {
        "commit": commit,
        "date": str(data.get("datetime") or datetime.now(UTC).isoformat()),
        "quick": bool(facts.get("quick", False)),
        "machine": {
            "cpu": str(facts.get("cpu") or (data.get("machine_info") or {}).get("cpu", {}).get("brand_raw", "")),
            "cores": int(facts.get("cores") or 0),
            "python": str(facts.get("python") or (data.get("machine_info") or {}).get("python_version", "")),
            "server": str(facts.get("server") or ""),
            "load1": float(facts.get("load1") or 0.0),
        },
        "benchmarks": benchmarks,
    }


def append(record: dict[str, Any], history: Path = HISTORY) -> None:
    """Add ``record`` as one line to the history file."""
    with history.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")
