"""Work figures of a benchmark's timed rounds: what PostgreSQL and the client did, not how long it took.

Time on a shared 2-core machine moves by tens of percent between runs; the work a benchmark makes the
database do does not. A plan that changes (an index no longer used, one statement per row again) shows in
these counts whatever the load. Captured around pytest-benchmark's runner (``bench/conftest.py``), outside
its timer, on the first ``CAPTURED_CALLS`` calls of each benchmark; a figure is the median of those calls,
per iteration.

Figures (the ``work`` object of bench/HISTORY_FORMAT.md):

* ``statements``: statements the benchmark process sent (psycopg ``execute``, one per parameter set of
  ``executemany``, ``copy``, ``stream``), counted in the client: ``pg_stat_statements`` cannot be loaded on
  either server here (the embedded PostgreSQL wheel does not ship it, the PG 15 service has no
  ``shared_preload_libraries`` and is shared), so statements of subprocesses (aiida-core) are not counted;
* ``rows``: ``tup_returned + tup_fetched + tup_inserted + tup_updated + tup_deleted`` of ``pg_stat_database``;
* ``shared_blks_hit``, ``shared_blks_read``: ``blks_hit``, ``blks_read`` of ``pg_stat_database``;
* ``temp_blks_written``: ``temp_bytes`` of ``pg_stat_database`` in blocks;
* ``wal_bytes``: ``pg_stat_wal``, which is cluster-wide: only on the embedded cluster the run started
  (missing with ``FASTDOS_TEST_PG_DSN``, where other clients write WAL too);
* ``client_cpu_s``: user + system CPU of the pytest process *and of its waited-for children* (the aiida-core
  subprocesses of the reference benchmarks); the PostgreSQL server's CPU is not in it.

The database figures sum every database of the embedded cluster, or, on an external server, the databases
the benchmark process has connections to (subprocesses work on those too). Server statistics are flushed by
each backend at most once a second, and an idle backend may hold them for 10 s: before each reading every
idle connection of the process is asked to flush (``pg_stat_force_next_flush()``, sent through libpq so it
is not counted as a statement). :func:`install` (called by bench/conftest.py) sets up the counting.
"""

from __future__ import annotations

import resource
import statistics
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import pq

WORK_KEYS = ("statements", "rows", "shared_blks_hit", "shared_blks_read", "wal_bytes", "temp_blks_written",
             "client_cpu_s")  # fmt: skip
# Work is read on this many runner calls per benchmark (the rest run untouched): the counts are the same on
# every call once caches are warm, and a reading costs ~2 ms per open connection, which on the 779-round
# 0.5 ms benchmarks would otherwise double their wall time.
CAPTURED_CALLS = 5
# A subprocess's backend flushes its statistics when it exits, a few ms after the client is gone.
CHILD_BACKEND_EXIT_S = 0.2

DATABASE_STATS = """
SELECT coalesce(sum(tup_returned + tup_fetched + tup_inserted + tup_updated + tup_deleted), 0)::bigint,
       coalesce(sum(blks_hit), 0)::bigint, coalesce(sum(blks_read), 0)::bigint,
       coalesce(sum(temp_bytes), 0)::bigint
FROM pg_stat_database WHERE datname IS NOT NULL AND (%(all)s OR datname = ANY(%(names)s))
"""
WAL_STATS = "SELECT wal_bytes::bigint FROM pg_stat_wal"
FLUSH = b"SELECT pg_stat_force_next_flush()"

_LIVE: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()
_COUNT = {"statements": 0}
_PROBES: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()


def install() -> None:
    """Track every psycopg connection of the process and count the statements sent through cursors."""
    if getattr(psycopg.Connection, "_fastdos_bench_tracked", False):
        return
    init = psycopg.Connection.__init__

    def tracked_init(self: psycopg.Connection[Any], *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        _LIVE.add(self)

    def counted(method: Callable[..., Any], per_item: bool = False) -> Callable[..., Any]:
        def wrapper(self: Any, query: Any, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            if per_item and params is not None:
                params = list(params)
                _COUNT["statements"] += len(params)
            else:
                _COUNT["statements"] += 1
            return method(self, query, params, *args, **kwargs)

        return wrapper

    psycopg.Connection.__init__ = tracked_init  # type: ignore[method-assign]
    psycopg.Cursor.execute = counted(psycopg.Cursor.execute)  # type: ignore[method-assign]
    psycopg.Cursor.executemany = counted(psycopg.Cursor.executemany, per_item=True)  # type: ignore[method-assign]
    psycopg.Cursor.copy = counted(psycopg.Cursor.copy)  # type: ignore[method-assign]
    psycopg.Cursor.stream = counted(psycopg.Cursor.stream)  # type: ignore[method-assign]
    psycopg.ServerCursor.execute = counted(psycopg.ServerCursor.execute)  # type: ignore[method-assign]
    psycopg.Connection._fastdos_bench_tracked = True  # type: ignore[attr-defined]


def client_cpu() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _children_cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


class Probe:
    """Reads the server's counters on a connection of its own (not counted, not flushed by itself)."""

    def __init__(self, conninfo: str, embedded: bool) -> None:
        self.embedded = embedded
        self.conn = psycopg.connect(conninfo, autocommit=True)
        _PROBES.add(self.conn)
        row = self.conn.execute("SELECT current_setting('block_size')::int, version()").fetchone()
        assert row is not None
        self.block_size, self.server = int(row[0]), str(row[1])
        self.missing = {"statements": "counted in the benchmark process only (pg_stat_statements not loaded)"}
        if not embedded:
            self.missing["wal_bytes"] = "pg_stat_wal is cluster-wide and the server is shared"
        self.lock = threading.Lock()

    def close(self) -> None:
        self.conn.close()

    def _flush_all(self) -> None:
        for conn in list(_LIVE):
            if conn in _PROBES or conn.closed or conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                continue
            if not conn.lock.acquire(blocking=False):  # in use by a pool worker right now
                continue
            try:
                conn.pgconn.exec_(FLUSH)
            finally:
                conn.lock.release()

    def _names(self) -> list[str]:
        return sorted({c.info.dbname for c in list(_LIVE) if c not in _PROBES and not c.closed})

    def read(self) -> dict[str, float]:
        """The counters now (statement count and client CPU included)."""
        self._flush_all()
        rows, hit, read, temp = self.conn.execute(
            DATABASE_STATS, {"all": self.embedded, "names": self._names()}
        ).fetchone() or (0, 0, 0, 0)
        figures: dict[str, float] = {
            "statements": _COUNT["statements"], "rows": rows, "shared_blks_hit": hit, "shared_blks_read": read,
            "temp_blks_written": temp / self.block_size,
        }  # fmt: skip
        if self.embedded:
            wal = self.conn.execute(WAL_STATS).fetchone()
            figures["wal_bytes"] = int(wal[0]) if wal else 0
        return figures


def median_work(calls: Iterable[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over the captured calls."""
    listed = list(calls)
    keys = [k for k in WORK_KEYS if listed and all(k in c for c in listed)]
    out: dict[str, float] = {}
    for key in keys:
        value = statistics.median(c[key] for c in listed)
        out[key] = round(value, 4) if key == "client_cpu_s" else round(value)
    return out


class Recorder:
    """Wraps one benchmark's runner: each of its first calls is read before and after, outside the timer."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.calls: list[dict[str, float]] = []

    def wrap(self, runner: Callable[..., Any]) -> Callable[..., Any]:
        def measured(loops_range: Any, *args: Any, **kwargs: Any) -> Any:
            if len(self.calls) >= CAPTURED_CALLS:
                return runner(loops_range, *args, **kwargs)
            with self.probe.lock:
                before = self.probe.read()
            children, cpu = _children_cpu(), client_cpu()
            result = runner(loops_range, *args, **kwargs)
            cpu = client_cpu() - cpu
            if _children_cpu() != children:
                time.sleep(CHILD_BACKEND_EXIT_S)
            with self.probe.lock:
                after = self.probe.read()
            loops = max(1, len(loops_range)) if loops_range else 1
            call = {k: (after[k] - before[k]) / loops for k in after}
            call["client_cpu_s"] = cpu / loops
            self.calls.append(call)
            return result

        return measured

    def figures(self) -> dict[str, float]:
        return median_work(self.calls)

