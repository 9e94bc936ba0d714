"""Which benchmark each fastdos benchmark is measured against: the one table of the gate.

A fastdos benchmark's primary figure is ``ratio = reference seconds / its seconds``, both measured in the
same run, so the machine's speed of the moment cancels out (bench/HISTORY_FORMAT.md). The gate checks the
ratio and the work figures of every benchmark named on the left; the benchmarks on the right are the
yardsticks (their own work and time are recorded, not gated). A benchmark in neither column is recorded
and listed as "not gated" in the gate's output.

One line per pairing: a regular expression over the pytest-benchmark full name, and the reference's full
name with the expression's groups substituted (``\\1``). A new benchmark slots in with one line. Where no
natural reference exists, the reference is a fixed calibration workload of the same kind on the same server
(bench/test_calibration.py), or a reference of the same kind in a nearby module.
"""

from __future__ import annotations

import re

INGEST = "bench/test_ingest.py::"
GRAPH = "bench/test_graph.py::"
REPO = "bench/test_repository.py::"
PLUGIN = "bench/test_aiida_plugin.py::"
CALIBRATION = "bench/test_calibration.py::"

REFERENCES: list[tuple[str, str]] = [
    # ingest: the public call vs a plain COPY of the same rows, pre-serialised (bench/test_ingest.py)
    (INGEST + r"test_(node_insert|link_insert|group_members|update_extras)\[fastdos-(\d+)\]",
     INGEST + r"test_\1[raw_copy-\2]"),
    (INGEST + r"test_node_load_mode\[(plain|load_mode)-(\d+)\]", INGEST + r"test_node_insert[raw_copy-\2]"),
    (INGEST + r"test_stream_peak_memory\[(\d+)\]", INGEST + r"test_node_insert[raw_copy-\1]"),
    # graph: one recursive statement vs aiida's hop-by-hop fixpoint in plain psycopg (bench/test_graph.py)
    (GRAPH + r"test_(delete_chain|delete_wide)\[fastdos\]", GRAPH + r"test_\1[hop_by_hop]"),
    (GRAPH + r"test_(descendants_chain_from_1|ancestors_chain_from_1000)\[recursive\]",
     GRAPH + r"test_\1[hop_by_hop]"),
    (GRAPH + r"test_wide_ancestors_descendants\[(?:recursive|closure)-(\d+)\]",
     GRAPH + r"test_wide_ancestors_descendants[hop_by_hop-\1]"),
    (GRAPH + r"test_dag_ancestors_descendants\[recursive-(\d+)-(\w+)\]",
     GRAPH + r"test_dag_ancestors_descendants[hop_by_hop-\1-\2]"),
    # QueryBuilder: fastdos' SQL vs the SQL aiida-core's QueryBuilder emits, same storage (bench/test_query.py)
    (r"bench/test_query.py::test_query\[(\w+)-fastdos\]", r"bench/test_query.py::test_query[\1-aiida]"),
    # repository (bench/test_repository.py)
    (REPO + r"test_keyset_sql", REPO + "test_keyset_python_batches_of_100"),
    (REPO + r"test_write_to_pack", REPO + "test_write_loose"),
    (REPO + r"test_read_one_at_a_time_kept_open", REPO + "test_read_one_at_a_time_new_container"),
    # archives: aiida-core's side runs once outside the rounds, so the yardstick is a calibration workload
    (r"bench/test_import.py::test_import_fastdos_vs_aiida\[(\d+)\]", CALIBRATION + r"test_sqlite_to_copy[\1]"),
    (r"bench/test_export.py::test_export_fastdos_vs_aiida\[(\d+)-\w+\]", CALIBRATION + r"test_copy_to_sqlite[\1]"),
    # inside aiida-core: the fastdos plugin profile vs core.psql_dos, same work (bench/test_aiida_plugin.py)
    (PLUGIN + r"(\w+)\[fast\]", PLUGIN + r"\1[ref]"),
]  # fmt: skip

_COMPILED = [(re.compile(pattern), template) for pattern, template in REFERENCES]


def reference_of(fullname: str) -> str | None:
    """The reference benchmark of ``fullname``, or None when it is not a gated fastdos benchmark."""
    for pattern, template in _COMPILED:
        match = pattern.fullmatch(fullname)
        if match:
            return match.expand(template)
    return None
