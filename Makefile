# Every target does its own set-up: on a fresh clone `make run` and `make test` are all a user needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-quick bench-save clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint,bench]'
	touch $(STAMP)

venv: $(STAMP)

# aiida-core 2.9.4 in its own venv (its pins clash with ours): the reference for interop, import and
# benchmark comparisons, driven through subprocesses by the tests.
AIIDA_STAMP := .venv-aiida/.installed
$(AIIDA_STAMP): tests/aiida/requirements.txt tests/aiida/setup_env.sh pyproject.toml
	PYTHON=$(PYTHON) bash tests/aiida/setup_env.sh

# The main job: start the embedded PostgreSQL, reset and initialise the `demo` profile, import the sample archive,
# ingest a generated graph, print info and what is left running (fastdos/demo.py). Repeatable.
run: $(STAMP)
	$(PY) -m fastdos.demo

test: $(STAMP) $(AIIDA_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check fastdos tests bench
	$(VENV)/bin/mypy fastdos

# The regression gate (bench/compare.py, README "Benchmarks"): each fastdos benchmark's ratio to its reference
# measured in the same run (bench/pairs.py) and its work counts from PostgreSQL, against bench/baseline.json,
# with thresholds from the measured run-to-run spread (bench/calibration.json). Every run appends its record
# to bench/history.jsonl. The gate runs even when a benchmark's own assertion failed; make fails if either did.
# The aiida-core archives of the import/export benchmarks are made once and kept in BENCH_ARCHIVES.
BENCH_ARCHIVES ?= $(CURDIR)/bench/.archives
BENCH_PYTEST = FASTDOS_BENCH_ARCHIVES=$(BENCH_ARCHIVES) $(PY) -m pytest bench --benchmark-enable --benchmark-only \
	-p no:cacheprovider -q
bench: $(STAMP) $(AIIDA_STAMP)
	rm -f bench/last.json; $(BENCH_PYTEST) --benchmark-json=bench/last.json $(BENCH_ARGS); status=$$?; \
		$(PY) -m bench.compare bench/last.json && exit $$status

# The 10^4-row benchmarks only (a subset of the full run: same names, same data, same baseline), < 3 min.
bench-quick: $(STAMP) $(AIIDA_STAMP)
	rm -f bench/last-quick.json; FASTDOS_BENCH_QUICK=1 $(BENCH_PYTEST) --benchmark-json=bench/last-quick.json $(BENCH_ARGS); status=$$?; \
		$(PY) -m bench.compare bench/last-quick.json && exit $$status

# Accept a full run as the new baseline (no gate); commit bench/baseline.json and bench/history.jsonl after it.
bench-save: $(STAMP) $(AIIDA_STAMP)
	rm -f bench/last.json; $(BENCH_PYTEST) --benchmark-json=bench/last.json $(BENCH_ARGS) && $(PY) -m bench.compare --save bench/last.json

# Growth curves (bench/growth/curves.py): time and peak memory at 10^3-10^5 nodes (10^6 for the cheap curves with
# FASTDOS_BENCH_LARGE=1), fastdos beside its comparison; writes bench/growth.json. Not part of `make bench`.
.PHONY: bench-growth bench-report
bench-growth: $(STAMP) $(AIIDA_STAMP)
	$(PY) -m pytest bench/growth/curves.py -p no:cacheprovider -rs $(BENCH_ARGS)

# The self-contained page bench/report/index.html (+ PNGs) from bench/history.jsonl and bench/growth.json
# (REPORT_ARGS: e.g. --history other.jsonl; see bench/bench_report.py).
bench-report: $(STAMP)
	$(PY) -m bench.bench_report $(REPORT_ARGS)

clean:
	rm -rf $(VENV) .venv-aiida build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
