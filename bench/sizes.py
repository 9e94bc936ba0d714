"""Benchmark sizes, one switch for all modules.

* default: 10^4 and 10^5 rows (nodes, links, archive nodes);
* ``FASTDOS_BENCH_QUICK=1`` (``make bench-quick``): only the benchmarks of the 10^4 sizes, same gate logic.
  The data those benchmarks run on is the same as in a full run (fixtures seed for ``FULL_ROW_SIZES``), so a
  quick run is a subset of a full run: same names, same work, one baseline for both;
* ``FASTDOS_BENCH_LARGE=1``: 10^6 as well where a module supports it.
"""

from __future__ import annotations

import os

QUICK = os.environ.get("FASTDOS_BENCH_QUICK") == "1"
LARGE = os.environ.get("FASTDOS_BENCH_LARGE") == "1" and not QUICK
FULL_ROW_SIZES = [10_000, 100_000] + ([1_000_000] if LARGE else [])
ROW_SIZES = [10_000] if QUICK else FULL_ROW_SIZES
ARCHIVE_SIZES = [10_000] if QUICK else [10_000, 100_000]
# imports also of small archives (issue 16: their fixed costs), in quick runs too: they take seconds
IMPORT_SIZES = [1_000, 3_300, *ARCHIVE_SIZES]
