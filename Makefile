# aimarket: set-up, run, test.  `make run` and `make test` work on a fresh clone.
#   make run                      create .venv, install, run scenarios/default.toml into runs/default/
#   make test                     create .venv, install, run the test suite
#   make test PYTHON=python3.12 VENV=.venv-py312    the same with another interpreter
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.aimarket-installed

.PHONY: all setup run test test-slow bench lint clean distclean help

all: test

help:
	@echo "make run | test | test-slow | bench | lint | clean | distclean  (PYTHON=$(PYTHON) VENV=$(VENV))"

setup: $(STAMP)

# The stamp depends on pyproject.toml, so a repeated call does nothing unless the dependencies changed.
$(STAMP): pyproject.toml
	@command -v "$(PYTHON)" >/dev/null 2>&1 || { \
	  echo "aimarket needs Python >= 3.11: '$(PYTHON)' was not found (use make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@"$(PYTHON)" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1 || { \
	  echo "aimarket needs Python >= 3.11: '$(PYTHON)' is $$("$(PYTHON)" -c 'import platform; print("Python", platform.python_version())' 2>/dev/null || echo 'not a working interpreter') (use make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@test -x "$(BIN)/python" || "$(PYTHON)" -m venv "$(VENV)"
	"$(BIN)/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch "$(STAMP)"

run: $(STAMP)
	"$(BIN)/aimarket" run scenarios/default.toml --out runs/default
	@echo "Outputs of the default scenario are in runs/default/ (timeseries.parquet, labs.parquet, summary.json, overview.png)."

test: $(STAMP)
	"$(BIN)/python" -m pytest

test-slow: $(STAMP)
	"$(BIN)/python" -m pytest -m slow

bench: $(STAMP)
	@set -e; found=0; for f in benchmarks/*.py; do \
	  [ -e "$$f" ] || continue; found=1; echo "== $$f"; "$(BIN)/python" "$$f"; done; \
	[ $$found = 1 ] || echo "no benchmarks in benchmarks/"

lint: $(STAMP)
	"$(BIN)/ruff" check aimarket simulation agents experiments scenarios tests benchmarks

# Removes caches and build files; keeps the virtual environments and runs/ (see distclean).
clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis build dist *.egg-info
	find . -path ./.venv -prune -o -path './.venv-*' -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

# Also removes every virtual environment and every run's outputs.
distclean: clean
	rm -rf .venv .venv-py* runs
