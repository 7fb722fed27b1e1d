# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format system-deps bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@# jupyter_events pulls rfc3987-syntax, whose import costs ~2.7 s at every Hub and server
	@# start; nothing Hubclass, the Hub or the tests use needs it (pip check stays clean).
	$(BIN)/python -m pip uninstall -q -y rfc3987-syntax lark
	touch $@

system-deps:
	bash scripts/system-deps.sh

## demo: a real local JupyterHub on http://127.0.0.1:8000 with Hubclass as its service
demo: $(BIN)/.installed
	$(BIN)/python -m demo.run

## test: lint, format check and the whole suite (real Hub, git, Chromium, PostgreSQL)
test: $(BIN)/.installed system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

## bench: every benchmark, each printing its ratios and whether its goals hold (sync,
## sync_report, distribute, distribute_servers and load need root)
bench: $(BIN)/.installed system-deps
	$(BIN)/python bench/roster_plan.py
	$(BIN)/python bench/roster.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/sync_report.py
	$(BIN)/python bench/distribute.py
	$(BIN)/python bench/distribute_servers.py
	$(BIN)/python bench/load.py

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) demo-state .pytest_cache .ruff_cache
