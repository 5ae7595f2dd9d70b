# The two commands of the README: `make run` sets up and starts the bot, `make test` runs the tests.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint format clean bench chat

$(BIN)/dexter-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/dexter-installed
	$(BIN)/python app.py

chat: $(BIN)/dexter-installed
	$(BIN)/python app.py chat

test: $(BIN)/dexter-installed
	$(BIN)/python -m pytest

lint: $(BIN)/dexter-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/dexter-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .ci-venv .pytest_cache .ruff_cache .mypy_cache .hypothesis *.egg-info
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

bench: $(BIN)/dexter-installed
	$(BIN)/python -m bench.stores
	$(BIN)/python -m bench.context
	$(BIN)/python -m bench.bot
