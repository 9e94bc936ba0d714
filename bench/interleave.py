"""A benchmark and its reference timed in alternating rounds, so that both see the same machine.

On this shared 2-core machine the load moves faster than a benchmark module runs: timed in separate tests
tens of seconds apart, a fastdos benchmark and its raw-COPY reference gave ratios that moved by more than a
factor of 1.4 between unchanged runs, so the gate could not see a planted 30 % slow-down of node ingest
(bench/notes/gate.md). Here each of pytest-benchmark's rounds of the benchmark is preceded by one round of
the reference, timed by this module in the round's (untimed) setup; the best reference round goes into
``extra_info["interleaved_reference_s"]`` and bench/record.py takes the ratio from it. The work figures are
unaffected: bench/work.py reads them around pytest-benchmark's runner, which the setup is outside of.

The millisecond walks and queries (bench/test_graph.py, bench/test_query.py) are interleaved the same way,
with no setup and more rounds (``MS_ROUNDS``): timed in separate tests, a 0.3-5 ms walk and its hop-by-hop
reference moved by 10-40 % against each other between unchanged runs when the VM slowed down for a minute,
the two false alarms of set D in bench/notes/gate.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

EXTRA_KEY = "interleaved_reference_s"
# Rounds of the millisecond pairs: 30 alternating rounds of a 0.3-20 ms walk or query and its reference take
# 0.02-1.2 s, what pytest-benchmark's own calibration spent on the walk alone (its 1 s budget), and the best
# of 30 is past the first-round cache misses (bench/notes/gate.md, set E).
MS_ROUNDS = 30


def pedantic_interleaved(
    benchmark: Any,
    target: Callable[[], Any],
    setup: Callable[[], None] | None,
    reference: Callable[[], Any],
    rounds: int,
) -> Any:
    """``rounds`` rounds of ``target`` (each after ``setup``, when given), each preceded by a timed round of
    ``reference`` (also after ``setup``); returns the target's last result."""
    seconds: list[float] = []

    def round_setup() -> None:
        if setup is not None:
            setup()
        started = time.perf_counter()
        reference()
        seconds.append(time.perf_counter() - started)
        if setup is not None:
            setup()

    result = benchmark.pedantic(target, setup=round_setup, rounds=rounds, iterations=1, warmup_rounds=0)
    benchmark.extra_info[EXTRA_KEY] = min(seconds)
    benchmark.extra_info["interleaved_reference_rounds"] = len(seconds)
    return result
