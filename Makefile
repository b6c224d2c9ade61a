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
	# npm ci refuses this lock: it omits the other platforms' optional anvil binaries (an npm bug).
	npm install --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py run_local

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

test: setup lint
	bash scripts/services.sh
	bash scripts/browser.sh
	DATABASE_URL=$(PG_URL) $(BIN)/pytest

bench: setup
	$(BIN)/python bench/bitcoin_parse.py
	$(BIN)/python bench/evm_scan.py
