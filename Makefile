# Every target does its own set-up: on a fresh clone `make run` and `make test` are all a user needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-save clean venv

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

# Compares against the stored baseline (bench/baseline.json) and fails when a figure regresses by >10%.
bench: $(STAMP) $(AIIDA_STAMP)
	$(PY) -m pytest bench --benchmark-enable --benchmark-only \
		--benchmark-json=bench/last.json $(BENCH_ARGS)
	$(PY) -m bench.compare bench/baseline.json bench/last.json

bench-save: $(STAMP) $(AIIDA_STAMP)
	$(PY) -m pytest bench --benchmark-enable --benchmark-only --benchmark-json=bench/baseline.json $(BENCH_ARGS)

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
