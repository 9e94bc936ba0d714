"""Growth curves: how the cost of each operation grows with its work, fastdos beside its comparison.

Separate from `make bench` (the regression gate): `make bench-growth` runs ``bench/growth/curves.py`` with
pytest and writes ``bench/growth.json``; `make bench-report` draws it (bench/bench_report.py).

* ``cases.py``: the operations and their in-run references (raw COPY, executemany, hop-by-hop, the
  Python-set key scan), built from the bench suite's own helpers (bench/test_graph.py, bench/test_ingest.py,
  bench/test_repository.py, bench/test_import.py).
* ``worker.py``: one point (operation, method, size) in a fresh interpreter: untimed set-up, then the timed
  call; memory is that process's peak RSS (VmHWM) over the call, reset after the set-up.
* ``curves.py``: the pytest module that prepares each point's storage, runs the worker (or aiida-core in
  ``.venv-aiida``), asserts the result and collects the figures.
"""
