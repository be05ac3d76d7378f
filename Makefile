# Two commands matter: `make run` (the whole exchange on http://127.0.0.1:8000/) and `make test`.
# `make setup` is idempotent: it only reinstalls what changed since the last run.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
FRONTEND := frontend
HAS_FRONTEND := $(wildcard $(FRONTEND)/package.json)
NODE_STAMP := $(FRONTEND)/node_modules/.package-lock.json
FRONTEND_BUILD := $(FRONTEND)/dist/index.html
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/public -type f 2>/dev/null) \
	$(wildcard $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig*.json)

.PHONY: setup python-deps frontend-deps frontend-build run test pytest lint fmt bench clean-var help

help:
	@echo "make setup | run | test | lint | fmt | bench"

setup: python-deps $(if $(HAS_FRONTEND),frontend-build)

python-deps: $(PY_STAMP)

$(BIN)/python:
	@echo "creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(BIN)/python
	@echo "installing Python dependencies (pip install -e '.[dev]')"
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]' >$(VENV)/pip.log 2>&1 \
		|| { cat $(VENV)/pip.log; exit 1; }
	@touch $@

frontend-deps: $(if $(HAS_FRONTEND),$(NODE_STAMP))

# npm rewrites node_modules/.package-lock.json on every install: it is our freshness stamp
$(NODE_STAMP): $(FRONTEND)/package.json $(wildcard $(FRONTEND)/package-lock.json)
	@echo "installing frontend dependencies (npm ci)"
	@cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

frontend-build: $(if $(HAS_FRONTEND),$(FRONTEND_BUILD))

$(FRONTEND_BUILD): $(NODE_STAMP) $(FRONTEND_SOURCES)
	@echo "building the terminal (npm run build)"
	@cd $(FRONTEND) && npm run --silent build >node_modules/.build.log 2>&1 \
		|| { cat node_modules/.build.log; exit 1; }
	@touch $@

run: setup
	$(BIN)/exchange up

lint: python-deps
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy

fmt: python-deps
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

pytest: python-deps
	@$(BIN)/pytest -q

# every step runs even when an earlier one fails, so one CI run shows every problem; pytest runs last so
# its summary line closes the output
test: setup
	@status=0; \
	echo "== ruff check"; $(BIN)/ruff check --quiet . || status=1; \
	echo "== ruff format --check"; $(BIN)/ruff format --check --quiet . || status=1; \
	echo "== mypy"; $(BIN)/mypy || status=1; \
	$(if $(HAS_FRONTEND),echo "== npm test"; (cd $(FRONTEND) && npm test --silent) || status=1;) \
	echo "== pytest"; $(BIN)/pytest -q || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)"; fi; \
	exit $$status

bench: setup
	$(BIN)/exchange bench engine
