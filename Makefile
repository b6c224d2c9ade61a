# The two commands a fresh machine needs: `make run` (the system, embedded default) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/recovery

.PHONY: setup run test lint bench

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	# The lock lists every platform's optional anvil binary, so npm ci installs it as it is (and never rewrites it).
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo: anvil, a fresh SQLite database and broker in var/demo/, web, worker, beat, and wrong deposits.
run: setup
	$(BIN)/python manage.py demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

test: setup lint
	bash scripts/services.sh
	bash scripts/browser.sh
	DATABASE_URL=$(PG_URL) $(BIN)/pytest

# Benchmarks print numbers beside their ceilings; the PostgreSQL ones use a throwaway database.
bench: setup
	bash scripts/services.sh
	$(BIN)/python bench/bitcoin_parse.py
	$(BIN)/python bench/evm_scan.py
	$(BIN)/python bench/gas_top_ups.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/scanner_e2e.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/address_import.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/user_api.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/refund_pipeline.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/load_under_chaos.py
	DATABASE_URL=$(PG_URL) $(BIN)/python bench/refund_battery.py
