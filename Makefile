# The two commands a newcomer needs: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Two pytest-xdist workers: much of the suite waits on servers and subprocesses. Tests that share
# one server per session carry an xdist_group mark and stay in one worker.
PYTEST_WORKERS ?= 2

.PHONY: run test check lint typecheck bench schema clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway db upgrade
	$(BIN)/gateway run --demo

test: $(STAMP)
	bash tests/setup_services.sh
	bash tests/contract/cap/install.sh
	bash tests/mesh/install.sh
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check gateway schema resolvers tests bench
	$(BIN)/ruff format --check gateway schema resolvers tests bench

typecheck: $(STAMP)
	$(BIN)/mypy gateway schema resolvers

check: lint typecheck test

bench: $(STAMP)
	$(BIN)/python bench/read_throughput.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/api.py

schema: $(STAMP)
	$(BIN)/gateway schema export > schema/schema.graphql

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
