# The two commands of the README: `make run` sets up and starts the bot, `make test` runs the tests.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint bench chat

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

bench: $(BIN)/dexter-installed
	$(BIN)/python -m bench.stores
	$(BIN)/python -m bench.context
	$(BIN)/python -m bench.bot
