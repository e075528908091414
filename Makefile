# The two commands that matter: `make run` and `make test` (README). Both set up everything
# they need first (scripts/bootstrap.sh is idempotent and quick when nothing changed).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test check lint typecheck pytest contracts bench clean

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(BIN)/timbre run

check: setup lint typecheck

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy studio storage royalties contracts voice_model bench

pytest: setup
	$(BIN)/pytest -q

test: check pytest

# Compiles contracts/src with the pinned solc-js into the committed contracts/artifacts/.
contracts: setup
	cd contracts && node compile.js

bench: setup
	$(BIN)/python bench/api.py

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
