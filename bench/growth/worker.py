"""One growth point in a fresh interpreter: ``python -m bench.growth.worker`` with a JSON payload on stdin.

Payload: ``{"case", "method", "n", "rounds", "storages": [[dsn, repository], ...], "extra": {...}}``.
Prints one line ``RESULT:{"seconds": [per round], "peak_mb": [per round], "start_mb": ...}``.

Memory: the peak resident set (``VmHWM``) of this process over the timed call alone. The high-water mark is
reset after each untimed set-up by writing ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0), so the figure
is what the process holds while the call runs: its input (held by every method alike), the interpreter and
imports (``start_mb``), and what the call itself allocates. A fresh process per point, because Linux carries
a parent's peak over fork and exec into ``ru_maxrss`` (bench/test_ingest.py). Server memory is not counted.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.growth.cases import CASES, payload_storage
from fastdos.backend import Backend

CLEAR_REFS = Path("/proc/self/clear_refs")


def status_mb(field: str) -> float:
    """``VmHWM`` or ``VmRSS`` of this process, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def reset_peak() -> None:
    CLEAR_REFS.write_text("5", encoding="ascii")


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    storage = payload_storage(payload)
    case, method, n, rounds = payload["case"], payload["method"], int(payload["n"]), int(payload["rounds"])
    start_mb = status_mb("VmRSS")
    seconds: list[float] = []
    peaks: list[float] = []
    backend = conn = None
    try:
        if case != "import":
            backend = Backend(storage.profiles[0])
            conn = psycopg.connect(storage.profiles[0].conninfo(), autocommit=True)
        built = CASES[case](backend, conn, method, n, storage)
        for _ in range(rounds):
            built.setup()
            gc.collect()
            reset_peak()
            started = time.perf_counter()
            result = built.run()
            seconds.append(time.perf_counter() - started)
            peaks.append(status_mb("VmHWM"))
            built.check(result)
            del result
    finally:
        if conn is not None:
            conn.close()
        if backend is not None:
            backend.close()
    return {"seconds": seconds, "peak_mb": peaks, "start_mb": start_mb}


def main() -> int:
    payload = json.loads(sys.stdin.read())
    print("RESULT:" + json.dumps(measure(payload)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
