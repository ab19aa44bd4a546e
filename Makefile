# The two commands of the quick start: `make demo` and `make test`. Each creates .venv when needed and installs
# the exact versions pinned in requirements.lock (compiled from requirements.in with `make lock`).
# The distribution's CPython 3.11 when the machine has one: Debian's (an interpreter linked statically, from its
# optimized build) ran the ingestion benchmark faster than this machine's pyenv 3.11.7 (a shared libpython, built
# without --enable-optimizations), and the test suite passes on both (benchmarks/RESULTS.md, "Ingestion").
# Any CPython 3.11 works: `make PYTHON=python3.11`.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: install demo test test-fast multinode fuzz lint format lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3.11 -m venv --clear $(VENV) || python3 -m venv --clear $(VENV)

# PACKAGES are pyproject.toml's [tool.setuptools.packages.find] include: keep the two in step.
PACKAGES := sentinel citysim actors cluster deployments training

# Bytecode is compiled at install, for the dependencies and for our own packages: uv does not compile by default,
# and where PYTHONDONTWRITEBYTECODE is set (this machine's shells set it) no import ever writes a .pyc, so every
# process compiled what it imported from source. Every Ray worker paid that at its start, about twice the CPU of
# a start from bytecode (benchmarks/RESULTS.md, "Ingestion").
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 $(PACKAGES)
	touch $@

# The web app (web/): npm ci from the committed package-lock.json, then a production build into web/dist, which the
# gateway serves at /. Needs Node 20+ and npm; rebuilt only when its sources change.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json

web/node_modules/.installed: web/package-lock.json web/package.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build

install: $(VENV)/.installed web/dist/index.html

demo: install
	$(BIN)/vsentinel demo

test: install
	cd web && npm test
	$(BIN)/pytest

# The tests that need no PostgreSQL, Redis or Ray (tests/conftest.py marks every test that reaches one
# `integration`); they run with no service up, a test file to a process on every core (pytest-xdist: a module's
# fixtures stay in one process). Bytecode writes are on for this run, whatever the shell says: pytest keeps each
# test module as rewritten for its asserts in __pycache__, and without that every run parses and rewrites them
# all again (benchmarks/RESULTS.md, "`make test-fast` without services").
test-fast: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -m "not integration" -n auto --dist loadfile

# The multinode tests (tests/multinode/: local multi-node Ray clusters that lose a node, the head included) at full
# size, and the README's cluster commands run against a two-node `ray start` cluster (tests/cluster/); `make test`
# runs the short version of the first and leaves the second to this target.
multinode: install
	VS_MULTINODE=full $(BIN)/pytest -m multinode tests/multinode tests/cluster -q

# The API fuzzing of `make test` (tests/api/test_openapi_fuzz.py), longer: every role, an API key, another
# organization's ids and stateful sequences (its duration: benchmarks/RESULTS.md, "Request limits and fuzzing").
fuzz: install
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-40} FUZZ_SCENARIOS=$${FUZZ_SCENARIOS:-40} FUZZ_STEPS=$${FUZZ_STEPS:-15} \
		$(BIN)/pytest tests/api/test_openapi_fuzz.py -q

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
	rm -rf $(VENV) .pytest_cache .ruff_cache web/node_modules web/dist
