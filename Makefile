# Every target sets up .venv first when needed, so each is one command on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
PYTEST_ARGS ?=

.PHONY: setup test lint run demo bench load clean

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(READY)

setup: $(READY)

lint: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict sync
	$(BIN)/mypy server field_client bench

test: lint
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

run: $(READY)
	$(BIN)/fieldsync-server run

demo: $(READY)
	$(BIN)/fieldsync-server demo

bench: $(READY)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Many simulated devices against gunicorn on PostgreSQL: make load LOAD_ARGS="--devices 200 --workspaces 20"
load: $(READY)
	$(BIN)/python -m bench load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
