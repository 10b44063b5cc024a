# repgeo — two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make demo   creates .venv if missing, installs, runs the default study, prints the report path
#   make test   same set-up (plus headless Chromium for the report test), then lint and the tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck format browser bench peers clean help

help:
	@echo "make demo    set up and run the default study (report path printed at the end)"
	@echo "make test    set up, lint and run the test suite"
	@echo "make peers   build the benchmarks' peer venvs in .peers/ (pinned: benchmarks/peers/*.txt)"
	@echo "make bench   make peers, then run all benchmarks (slow)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,text,sweep]"
	@touch $@

browser:
	@bash scripts/install-chromium.sh

demo: $(STAMP)
	$(BIN)/repgeo run default

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

test: $(STAMP) browser lint typecheck
	REPGEO_PROGRESS=0 $(BIN)/python -m pytest -n 2 -m "not slow" --durations=15 $(PYTEST_ARGS)

# One venv per peer package, from its pinned lock file; idempotent (a stamp per venv, rebuilt when
# its pin file changes). A peer that cannot be installed is skipped with its reason; its
# benchmark cases then say so. PEERS="heatgeo dse" builds only those.
peers:
	@PYTHON="$(PYTHON)" bash scripts/peers.sh $(PEERS)

BENCH_ARGS ?=
bench: $(STAMP) peers
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b $(BENCH_ARGS) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
