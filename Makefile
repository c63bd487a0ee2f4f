# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
POSTGRES_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: install run migrate seed test lint test-sqlite test-postgres openapi bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/ateliers migrate

seed: migrate
	$(BIN)/ateliers seed-demo

run: seed
	@echo "Ateliers on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/docs)"
	$(BIN)/ateliers serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/mypy

# ruff (lint and format), hadolint, mypy, then the whole suite (SQLite; PostgreSQL too when ATELIERS_TEST_DATABASE_URL is set).
# pytest runs it on the worker processes that addopts in pyproject.toml names (-n).
test: lint
	$(BIN)/pytest

# Four workers on PostgreSQL, whose tests wait on the server more than on the cores: 345 s against 363 s with three.
test-postgres: install
	ATELIERS_TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest -n 4

openapi: install
	$(BIN)/ateliers export-openapi

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) ateliers.db ateliers.db-wal ateliers.db-shm storage .mypy_cache .pytest_cache .ruff_cache
