# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint types suites unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/harness demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(VENV)/.installed-test
	$(BIN)/mypy

# Two workers for everything but the container tests (which build one image and share one engine: serially).
# Many tests wait on timers of the standard (retries, quiet windows), so two workers halve the wall time.
unit: $(VENV)/.installed-test
	$(BIN)/pytest -q -n 2 -m "not containers"
	$(BIN)/pytest -q -m containers

suites: $(VENV)/.installed-test
	$(BIN)/harness suites --check

test: lint types suites unit

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/replay.py

clean:
	rm -rf $(VENV) reports build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
