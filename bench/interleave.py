"""A benchmark and its reference timed in alternating rounds, so that both see the same machine.

On this shared 2-core machine the load moves faster than a benchmark module runs: timed in separate tests
tens of seconds apart, a fastdos benchmark and its raw-COPY reference gave ratios that moved by more than a
factor of 1.4 between unchanged runs, so the gate could not see a planted 30 % slow-down of node ingest
(bench/notes/gate.md). Here each of pytest-benchmark's rounds of the benchmark is preceded by one round of
the reference, timed by this module in the round's (untimed) setup; the best reference round goes into
``extra_info["interleaved_reference_s"]`` and bench/record.py takes the ratio from it. The work figures are
unaffected: bench/work.py reads them around pytest-benchmark's runner, which the setup is outside of.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

EXTRA_KEY = "interleaved_reference_s"


def pedantic_interleaved(
    benchmark: Any, target: Callable[[], Any], setup: Callable[[], None], reference: Callable[[], Any], rounds: int
) -> None:
    """``rounds`` rounds of ``target`` (each after ``setup``), each preceded by a timed round of ``reference``
    (also after ``setup``)."""
    seconds: list[float] = []

    def round_setup() -> None:
        setup()
        started = time.perf_counter()
        reference()
        seconds.append(time.perf_counter() - started)
        setup()

    benchmark.pedantic(target, setup=round_setup, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info[EXTRA_KEY] = min(seconds)
    benchmark.extra_info["interleaved_reference_rounds"] = len(seconds)
