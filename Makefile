PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Must match the uv pin in requirements.lock, or `make lock` and the bootstrap disagree.
UV_VERSION := 0.13.8
LOCK_ARGS := pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	-o requirements.lock
# The image installs only what the product runs on (no dev extras), pinned as in the full lock.
RUNTIME_LOCK_ARGS := pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	--constraints requirements.lock -o requirements.runtime.lock

.DEFAULT_GOAL := run
.PHONY: run test lint lock openapi clean histories

run: $(VENV)/.installed
	$(BIN)/order-api run

test: $(VENV)/.installed
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api workflows activities foundation processes simulators
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/actionlint

# Re-record the current shape's workflow histories the replay test checks (tests/support.py).
histories: $(VENV)/.installed
	ORDER_API_RECORD_HISTORIES=1 $(BIN)/pytest --no-cov -q tests/integration/test_fulfillment_workflow.py

# The contract, regenerated from the app; tests fail while the committed file differs.
openapi: $(VENV)/.installed
	$(BIN)/python -m api.openapi openapi.yaml

# Resolving needs only uv, not the locked set, so a broken lock can still be regenerated.
lock: $(BIN)/uv
	$(BIN)/uv --quiet $(LOCK_ARGS)
	$(BIN)/uv --quiet $(RUNTIME_LOCK_ARGS)

clean:
	rm -rf $(VENV) .data

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)

# A stamp file, so the environment is re-synced exactly when the lock or the project changes.
$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip sync --quiet --require-hashes --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

# Speed and memory figures live here, as ratios to bare baselines from the same run, never in timed
# tests. Starts a stack of its own on free ports; takes seven to eight minutes here (bench/README.md).
bench: $(VENV)/.installed
	$(BIN)/python bench/run.py

# The schema diagram, redrawn from the models; commit the result with the model change.
erd: $(VENV)/.installed
	$(BIN)/python architecture/generate_erd.py

# README, ADRs, schema and the operational documents as one A4 PDF (skips any not written yet).
print-pack: $(VENV)/.installed
	$(BIN)/python architecture/print_pack.py

# Orders of four kinds under SIGKILLs of workers, Temporal and PostgreSQL, on a stack of its own;
# prints the books per kind and fails on any lost, doubled, orphaned or stuck order.
N ?= 50
demo-chaos: $(VENV)/.installed
	$(BIN)/python -m demo.chaos --orders $(N)

.PHONY: bench erd print-pack demo-chaos
