# Every target bootstraps .venv on first use, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: venv serve run test lint fmt soak bench screenshots clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), f"CPython 3.13+ needed, found {sys.version}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/bank-server serve --demo --port 8000

# The desktop with its bundled server (embedded database, demo data) on a free port.
run: $(STAMP)
	$(BIN)/bank-desktop --local

screenshots: $(STAMP)
	$(BIN)/python -m desktop.screenshots docs/screenshots

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check server desktop shared tests bench
	$(BIN)/ruff format --check server desktop shared tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format server desktop shared tests bench
	$(BIN)/ruff check --fix server desktop shared tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.deposit_latency
	$(BIN)/python -m bench.workload

# The long form of the bank workload and crash tests (the suite runs 20 s each).
soak: $(STAMP)
	WORKLOAD_SECONDS=$${WORKLOAD_SECONDS:-120} WORKLOAD_CLIENTS=$${WORKLOAD_CLIENTS:-32} \
		$(BIN)/python -m pytest -q -s tests/e2e/test_bank_workload.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
