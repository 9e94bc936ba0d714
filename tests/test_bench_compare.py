"""The regression gate of `make bench`."""

from __future__ import annotations

import json
from pathlib import Path

from bench.compare import machine_factor, main


def write(path: Path, figures: dict[str, float]) -> Path:
    path.write_text(json.dumps({"benchmarks": [{"fullname": k, "stats": {"min": v}} for k, v in figures.items()]}))
    return path


def test_gate(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", {"a": 1.0, "b": 2.0, "c": 1.0})
    assert main([str(base), str(write(tmp_path / "ok.json", {"a": 1.05, "b": 2.0, "c": 1.0, "d": 3.0}))]) == 0
    assert main([str(base), str(write(tmp_path / "slow.json", {"a": 1.2, "b": 2.0, "c": 1.0}))]) == 1
    fresh = tmp_path / "none.json"
    assert main([str(fresh), str(write(tmp_path / "first.json", {"a": 1.0}))]) == 0
    assert fresh.exists()


def test_whole_machine_slower_is_not_a_regression(tmp_path: Path) -> None:
    base = write(tmp_path / "base.json", {"a": 1.0, "b": 2.0, "c": 4.0})
    slower = write(tmp_path / "slower.json", {"a": 1.3, "b": 2.6, "c": 5.2})
    assert machine_factor({"a": 1.0, "b": 2.0, "c": 4.0}, {"a": 1.3, "b": 2.6, "c": 5.2}) == 1.3
    assert main([str(base), str(slower)]) == 0
    one_worse = write(tmp_path / "one.json", {"a": 1.3, "b": 2.6, "c": 7.0})
    assert main([str(base), str(one_worse)]) == 1
