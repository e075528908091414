# The two commands that matter: `make run` and `make test` (README). Both set up everything
# they need first (scripts/bootstrap.sh is idempotent and quick when nothing changed).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test check lint typecheck pytest contracts bench clean secret-scan audit scale-demo test-scale

setup:
	@bash scripts/bootstrap.sh

run: setup
	$(BIN)/timbre run

check: setup lint typecheck secret-scan
	$(BIN)/python scripts/check_pins.py --self-test && $(BIN)/python scripts/check_pins.py

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy studio storage royalties contracts voice_model bench

pytest: setup
	$(BIN)/pytest -q

test: check pytest

# No credentials in the tree (anvil's public dev mnemonic/keys are allowed; see the script).
secret-scan:
	$(BIN)/python scripts/secret_scan.py --self-test
	$(BIN)/python scripts/secret_scan.py

# pip-audit + npm audit; says NOT AUDITED (exit 3) where the vulnerability services are
# unreachable (as on the offline dev machines) — never a silent pass.
audit: setup
	bash scripts/audit.sh

# The scale-mode cluster (2 API processes, 2 Celery workers, PostgreSQL, Redis, SeaweedFS,
# anvil) on loopback until Ctrl-C; prints every URL.
scale-demo: setup
	$(BIN)/python -m tests.scale.cluster

# Only the scale-mode and fault-injection tests (they also run in `make test`).
test-scale: setup
	$(BIN)/pytest -q tests/scale

# Compiles contracts/src with the pinned solc-js into the committed contracts/artifacts/.
contracts: setup
	cd contracts && node compile.js

bench: setup
	$(BIN)/python bench/api.py

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
