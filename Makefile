# billbeat: the operator's interface. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The first Python >= 3.11 on PATH (override with `make PYTHON=/path/to/python3.12 ...`).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	  && { command -v $$p; break; }; done)

.PHONY: help install run test test-fast lint fmt migrate worker beat flower sandbox bench bench-quick chaos \
        compose-up compose-down services-up check clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv and install billbeat with its dev tools

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: billbeat needs Python 3.11 or newer on PATH" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: install ## Run everything on embedded defaults (SQLite, embedded Redis, sandbox, demo data)
	$(BIN)/billbeat run

test: install ## Run the whole test suite (real Redis, SQLite, PostgreSQL if reachable, sandbox)
	$(BIN)/python -m pytest

lint: install ## ruff check, ruff format --check, mypy --strict on the packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: install ## Format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install ## Apply database migrations (DATABASE_URL, default SQLite under var/)
	$(BIN)/billbeat db upgrade

worker: install ## Run one Celery worker (threads pool) against REDIS_URL
	$(BIN)/celery -A worker worker --pool threads --concurrency 32 --loglevel INFO -E

beat: install ## Run the beat scheduler (reads subscriptions from the database)
	$(BIN)/celery -A worker beat --loglevel INFO

flower: install ## Run Flower on http://127.0.0.1:5555
	$(BIN)/celery -A worker flower --address=127.0.0.1 --port=5555

sandbox: install ## Run the Toss sandbox on http://127.0.0.1:8787
	$(BIN)/billbeat sandbox --port 8787

bench: install ## Run the benchmarks at full size (tables, then JSON lines; ~30 min on 2 cores)
	$(BIN)/python -c 'import redbeat, psutil, pyinstrument' 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/sandbox_bench.py
	$(BIN)/python bench/quick.py --full

bench-quick: install ## The three benchmarks at reduced size (< 5 min), one JSON line each
	$(BIN)/python -c 'import redbeat, psutil, pyinstrument' 2>/dev/null \
	  || $(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/quick.py

chaos: install ## Fault-injection scenarios at full size (< 10 min), then the figures table
	$(BIN)/python -m tests.chaos.run

check: lint test ## What CI runs: lint and the whole suite

compose-up: ## docker compose up (PostgreSQL, Redis, migrate, worker, beat, Flower)
	docker compose up --build -d

compose-down: ## docker compose down
	docker compose down

clean: ## Remove var/ (local database, embedded Redis data) and caches
	rm -rf var .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
