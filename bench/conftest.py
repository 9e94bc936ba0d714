"""Shared benchmark fixtures: the test suite's real PostgreSQL and per-test storages, plus bench helpers.

``bench_backend`` is an open :class:`~fastdos.backend.Backend` on a fresh storage (a clone of the migrated
template database with its own container); ``bench_conn`` is a direct autocommit connection to the same
database; ``bench_user`` a user id in it. ``module_storage`` builds the same for a whole module, for
benchmarks that seed data once. The server is ``FASTDOS_TEST_PG_DSN`` or the suite's embedded cluster.

The ``benchmark`` fixture is pytest-benchmark's, wrapped once here for every benchmark: its runner reads the
work figures of bench/work.py around each of its first calls (outside the timer) into
``extra_info["work"]``; the run's machine and server go into the JSON's ``fastdos`` key, from which
bench/record.py makes the history record and bench/compare.py gates.
"""

from __future__ import annotations

import fnmatch
import os
import platform
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.work import Probe, Recorder, install
from fastdos.backend import Backend
from tests.conftest import (  # noqa: F401  (fixtures re-exported to every bench module)
    PgServer,
    backend,
    conn,
    create_database,
    db_name,
    drop_database,
    empty_db,
    link_new_container,
    make_profile,
    pg_server,
    profile,
    template_db,
)
from tests.helpers import insert_user


@pytest.fixture
def bench_backend(backend: Backend) -> Backend:  # noqa: F811
    """An open backend on a fresh storage."""
    return backend


@pytest.fixture
def bench_conn(conn: psycopg.Connection) -> psycopg.Connection:  # noqa: F811
    """A direct autocommit connection to the database of ``bench_backend``."""
    return conn


@pytest.fixture
def bench_user(bench_conn: psycopg.Connection) -> int:
    """The id of a user in the bench storage."""
    return insert_user(bench_conn, "bench@fastdos.invalid")


def _storage(pg_server: PgServer, template_db: str, root: Path) -> Iterator[tuple[Backend, psycopg.Connection]]:  # noqa: F811
    name = f"fastdos_bench_{uuid.uuid4().hex[:8]}"
    create_database(pg_server, name, template=template_db)
    prof = link_new_container(make_profile(pg_server, name, root / "repo"))
    try:
        with Backend(prof) as storage, psycopg.connect(prof.conninfo(), autocommit=True) as direct:
            yield storage, direct
    finally:
        drop_database(pg_server, name)


@pytest.fixture(scope="module")
def module_storage(
    pg_server: PgServer,  # noqa: F811
    template_db: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Backend, psycopg.Connection]]:
    """``(backend, direct connection)`` on one fresh storage shared by a whole bench module."""
    yield from _storage(pg_server, template_db, tmp_path_factory.mktemp("bench"))


# Benchmarks that run only with FASTDOS_BENCH_LARGE=1, to keep `make bench` under 10 minutes on this 2-core
# machine (durations of a default run on 2026-12-03, load 4-7: bench/notes/gate.md). Patterns are fnmatch's
# (``[[]`` is a literal ``[``). None is gated or the reference of a gated one, except the aiida-core plugin's
# pairs (bench/test_aiida_plugin.py), which take half the time budget alone.
LARGE_ONLY = (
    "bench/test_graph.py::test_delete_chain[[]aiida[]]",  # 141-161 s: aiida-core's delete_nodes, 10^4 chain
    "bench/test_aiida_plugin_query.py::*",  # 80 s, figures in extra_info only (no timed work of its own)
    "bench/test_aiida_plugin.py::*",  # 4-5 min: aiida-core in subprocesses on both profiles (import: 80 s)
    "bench/test_repository.py::test_write_*",  # 10^4 loose files: 4 s quiet, 205 s when the disk is shared
    "bench/test_ingest.py::test_*[[]executemany-100000[]]",  # 56 s, a second comparison beside raw COPY
    "bench/test_graph.py::test_delete_threshold[[]*",  # the measurement behind bulk_delete.MIN_BULK_NODES, 15 cases
    "bench/test_replicas.py::*",  # starts a standby cluster; figures in bench/notes/replicas.md, nothing gated
)
# Left out of `make bench-quick` as well (nothing yet: the quick sizes come from bench/sizes.py).
QUICK_SKIP: tuple[str, ...] = ()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the LARGE_ONLY benchmarks unless FASTDOS_BENCH_LARGE=1, and QUICK_SKIP in a quick run."""
    left_out = () if os.environ.get("FASTDOS_BENCH_LARGE") == "1" else LARGE_ONLY
    if os.environ.get("FASTDOS_BENCH_QUICK") == "1":
        left_out += QUICK_SKIP
    kept = [item for item in items if not any(fnmatch.fnmatchcase(item.nodeid, p) for p in left_out)]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


install()

# the run's facts for bench/record.py, filled by the fixtures below
RUN: dict[str, Any] = {"load1": []}


@pytest.fixture(scope="session")
def work_probes() -> Iterator[dict[str, Probe]]:
    """The readers of the servers' counters, one per server, for the whole run."""
    probes: dict[str, Probe] = {}
    try:
        yield probes
    finally:
        for probe in probes.values():
            probe.close()


@pytest.fixture
def benchmark(benchmark: Any, work_probes: dict[str, Probe], request: pytest.FixtureRequest) -> Iterator[Any]:
    """pytest-benchmark's fixture, its runner wrapped by a work :class:`~bench.work.Recorder`.

    The server is the ``pg_server`` the benchmark itself sees: a module that re-exports the fixture
    (bench/test_repository.py) gets a cluster of its own, and its work happens there."""
    server: PgServer = request.getfixturevalue("pg_server")
    conninfo = server.conninfo()
    if conninfo not in work_probes:
        work_probes[conninfo] = Probe(conninfo, embedded=server.embedded)
        RUN.update(server=work_probes[conninfo].server, missing=dict(work_probes[conninfo].missing))
    recorder = Recorder(work_probes[conninfo])
    make_runner = benchmark._make_runner
    benchmark._make_runner = lambda function, args, kwargs: recorder.wrap(make_runner(function, args, kwargs))
    yield benchmark
    if recorder.calls:
        benchmark.extra_info["work"] = recorder.figures()
    RUN["load1"].append(os.getloadavg()[0])


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """The run's machine, server and load beside pytest-benchmark's own figures."""
    loads = RUN["load1"] or [os.getloadavg()[0]]
    output_json["fastdos"] = {
        "cpu": output_json.get("machine_info", {}).get("cpu", {}).get("brand_raw") or platform.processor(),
        "cores": os.cpu_count() or 0,
        "python": platform.python_version(),
        "server": RUN.get("server"),
        "load1": round(max(loads), 2),
        "load1_mean": round(sum(loads) / len(loads), 2),
        "quick": os.environ.get("FASTDOS_BENCH_QUICK") == "1",
        "work_missing": RUN.get("missing", {}),
    }
