# The two commands people need are `make run` and `make test`; both set everything up first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup run test lint typecheck unit browser bench clean

setup: $(INSTALLED) node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to fetch the front-end packages (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

$(INSTALLED): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Formflow needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: setup
	$(BIN)/formflow validate apps/crm_sfa

lint: setup
	$(BIN)/ruff check platform tests bench
	$(BIN)/ruff format --check platform tests bench

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -n auto

# Browser tests drive Debian's Chromium; install it when missing and we are root.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "Chromium is missing: browser tests will skip (apt-get install chromium)"

test: lint typecheck browser unit

bench: setup
	$(BIN)/python bench/validate_app.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
