# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The latest JupyterHub 5 (TLJH and older Zero to JupyterHub charts still run 5.x): the Hub-facing
# tests run against it too, from a venv of their own with every other package as pinned.
JUPYTERHUB_5 := jupyterhub==5.5.4
HUB5_VENV := .venv-hub5
HUB5_BIN := $(HUB5_VENV)/bin

.PHONY: demo test test-hub6 test-hub5 lint format system-deps bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@# jupyter_events pulls rfc3987-syntax, whose import costs ~2.7 s at every Hub and server
	@# start; nothing Hubclass, the Hub or the tests use needs it (pip check stays clean).
	$(BIN)/python -m pip uninstall -q -y rfc3987-syntax lark
	touch $@

$(HUB5_BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(HUB5_VENV)
	$(HUB5_BIN)/python -m pip install -q --upgrade pip
	$(HUB5_BIN)/python -m pip install -q -r requirements-dev.txt
	$(HUB5_BIN)/python -m pip install -q "$(JUPYTERHUB_5)"
	$(HUB5_BIN)/python -m pip uninstall -q -y rfc3987-syntax lark
	$(HUB5_BIN)/python -m pip check
	touch $@

system-deps:
	bash scripts/system-deps.sh

## demo: a real local JupyterHub on http://127.0.0.1:8000 with Hubclass as its service
demo: $(BIN)/.installed
	$(BIN)/python -m demo.run

## test: lint, format check, the whole suite on JupyterHub 6 (real Hub, git, Chromium,
## PostgreSQL), then the Hub-facing tests on JupyterHub 5
test: test-hub6 test-hub5

test-hub6: $(BIN)/.installed system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

## test-hub5: every test that talks to the Hub (marker `hub`), against JupyterHub 5. The walk of
## every route with hostile input is left out: it tests Hubclass's input checks, which no Hub
## version changes, and its sign-in is the one tests/auth proves on both.
test-hub5: $(HUB5_BIN)/.installed system-deps
	$(HUB5_BIN)/pytest -m hub \
		--deselect tests/web/test_security_input.py::test_every_route_survives_hostile_input

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
	rm -rf $(VENV) $(HUB5_VENV) demo-state .pytest_cache .ruff_cache
