# The two commands people need are `make run` and `make test`; both set everything up first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup run test lint typecheck unit browser bench clean translations

TRANSLATIONS := platform/formflow/translations
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))

setup: $(INSTALLED) node_modules/.installed $(CATALOGUES)

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to fetch the front-end packages (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

# The plugins in plugins/ are their own distributions, installed editable beside Formflow.
PLUGINS := $(wildcard plugins/*/setup.cfg)

$(INSTALLED): setup.cfg pyproject.toml $(PLUGINS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Formflow needs Python 3.11 or newer (set PYTHON=python3.x)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet $(foreach plugin,$(dir $(PLUGINS)),-e $(plugin))
	@touch $@

# Compiled catalogues are build output (git ignores them); each follows its .po file.
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(INSTALLED)
	$(BIN)/pybabel -q compile -i $< -o $@

# After changing interface text: collect every message, then translate the new ones in the .po.
translations: $(INSTALLED)
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-location --sort-output -o $(TRANSLATIONS)/messages.pot platform/formflow
	$(BIN)/pybabel -q update --no-fuzzy-matching -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)

# A demo CRM instance in ./instance, served on http://$(HOST):$(PORT)/ (make run PORT=8000).
# Secure session cookies stay on: browsers keep them on http://127.0.0.1 and localhost.
HOST ?= 127.0.0.1
PORT ?= 5000
RUN_ENV := FORMFLOW_INSTANCE=$(CURDIR)/instance FORMFLOW_PLUGINS=$${FORMFLOW_PLUGINS-*}

run: setup
	$(BIN)/formflow validate apps/crm_sfa
	$(RUN_ENV) $(BIN)/formflow demo --url http://$(HOST):$(PORT)/
	$(RUN_ENV) $(BIN)/formflow serve --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check platform tests bench apps plugins
	$(BIN)/ruff format --check platform tests bench apps plugins

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
