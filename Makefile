# Every target does its own set-up: on a fresh clone `make run` and `make test` are all a user needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-save clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

venv: $(STAMP)

# The main job: start the embedded PostgreSQL, initialise the default storage, ingest a sample, print info.
run: $(STAMP)
	$(PY) -m fastdos.demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check fastdos tests bench
	$(VENV)/bin/mypy fastdos

# Compares against the stored baseline (bench/baseline.json) and fails when a figure regresses by >10%.
bench: $(STAMP)
	$(PY) -m pytest bench --benchmark-enable --benchmark-only \
		--benchmark-json=bench/last.json $(BENCH_ARGS)
	$(PY) -m bench.compare bench/baseline.json bench/last.json

bench-save: $(STAMP)
	$(PY) -m pytest bench --benchmark-enable --benchmark-only --benchmark-json=bench/baseline.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
