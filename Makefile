PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
# pytest-xdist processes for `make test`; 0 runs the suite in one process (needed with -s)
TEST_WORKERS ?= 2

.PHONY: run test soak bench demo lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/swingtrader run $(ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) $(PYTEST_ARGS)

soak: $(STAMP)
	$(BIN)/python -m pytest -q -s -p no:cacheprovider -m soak tests/e2e/test_soak.py

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

demo: $(STAMP)
	mkdir -p var
	rm -f var/demo.sqlite var/demo.sqlite-wal var/demo.sqlite-shm
	$(BIN)/swingtrader simulate --start 2025-01-01 --end 2025-04-30 --data bundled --db var/demo.sqlite
	$(BIN)/swingtrader dashboard --db var/demo.sqlite

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) build *.egg-info
