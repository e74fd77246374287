# Two commands do all the set-up on a fresh machine (Python 3.11 and make present): `make run` and `make test`.
PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
# uv must use this machine's Python, never download one.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup browser run test lint format ui demo clean

$(UV):
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Installs exactly what uv.lock pins; refuses to run if the lock and pyproject.toml disagree. Quiet when it works
# (one line instead of a line per package); the whole of uv's output when it does not.
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	@echo "setting up $(VENV) from uv.lock ..."
	@out=$$($(UV) sync --frozen --python $(PYTHON) 2>&1) || { printf '%s\n' "$$out" >&2; exit 1; }
	@touch $@

setup: $(VENV)/.synced

# Browser tests drive Debian's chromium through its own chromedriver; nothing is downloaded by a test tool.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

demo: setup
	$(BIN)/cmi demo

run: setup
	@if [ -z "$$(ls -A data/landing 2>/dev/null)" ]; then $(BIN)/cmi demo; fi
	@$(BIN)/cmi run

# One worker per core, each taking whole test files (a module's fixtures build its warehouse once). Most of a
# test's time is one Python process or one dbt subprocess, so two files at once use both cores. Files go out in
# collection order, where tests/conftest.py puts the longest first (xdist would otherwise order them by test count).
test: setup browser
	$(BIN)/pytest -n auto --dist loadfile --no-loadscope-reorder --durations=10

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: setup
	$(BIN)/cmi ui

clean:
	rm -rf data/warehouse.duckdb* data/dagster_home data/quarantine data/snapshots data/exports data/reports \
	       data/quality_docs data/quality_results data/dbt_docs data/alerts data/logs \
	       dbt_project/target dbt_project/logs
