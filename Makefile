# Two set-up commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export KEEPSAKE_DATA_DIR ?= ./keepsake-data

.PHONY: run test lint typecheck pytest docs screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/keepsake serve --host 127.0.0.1 --port 8000

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy src/

# One worker per core; PYTEST_ARGS adds to it (`make pytest PYTEST_ARGS="-n 0 -x"`).
pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

test: lint typecheck pytest

docs: $(VENV)/.installed-dev
	$(BIN)/python -m keepsake.docs

# The web app's pages into docs/screenshots/ (headless Debian Chromium, a demo library).
screenshots: $(VENV)/.installed-dev
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
