# The two commands of the quick start: `make demo` and `make test`. Each creates .venv when needed and installs
# the exact versions pinned in requirements.lock (compiled from requirements.in with `make lock`).
# The distribution's CPython 3.11 when the machine has one: Debian's (an interpreter linked statically, from its
# optimized build) ran the 1M-row ingestion benchmark 6-11 % faster than this machine's pyenv 3.11.7 (a shared
# libpython, built without --enable-optimizations), and the test suite passes on both (benchmarks/RESULTS.md).
# Any CPython 3.11 works: `make PYTHON=python3.11`.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: install demo test test-fast lint format lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3.11 -m venv --clear $(VENV) || python3 -m venv --clear $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/vsentinel demo

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile requirements.in -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
