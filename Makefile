# Every target bootstraps .venv on first use, so a fresh clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: venv serve run test redis-server lint fmt soak bench screenshots package clean

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

test: $(STAMP) redis-server
	$(BIN)/python -m pytest -q

# Tests that share state through Redis start a real redis-server: install Debian's when missing.
redis-server:
	@command -v redis-server >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing redis-server for the tests"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

lint: $(STAMP)
	$(BIN)/ruff check server desktop shared tests bench
	$(BIN)/ruff format --check server desktop shared tests bench
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format server desktop shared tests bench
	$(BIN)/ruff check --fix server desktop shared tests bench

# Every figure of issue 7 against its target (bench/results/latest.json), then deposit latency
# as the ledger grows and the mixed workload. wrk (Debian's) is the HTTP load generator.
bench: $(STAMP)
	@command -v wrk >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing wrk for the benchmarks"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.deposit_latency
	$(BIN)/python -m bench.workload

# The long form of the bank workload and crash tests (the suite runs 20 s each).
soak: $(STAMP)
	WORKLOAD_SECONDS=$${WORKLOAD_SECONDS:-120} WORKLOAD_CLIENTS=$${WORKLOAD_CLIENTS:-32} \
		$(BIN)/python -m pytest -q -s tests/e2e/test_bank_workload.py

# Wheel and sdist in dist/, then the one-folder desktop bundle dist/bank-desktop/ (desktop,
# server and embedded database in one executable), checked by running it. Not part of `test`.
# --no-isolation builds with the venv's setuptools, so no index is needed.
package: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/pyinstaller packaging/bank-desktop.spec --distpath dist --workpath build/pyinstaller \
		--noconfirm --log-level WARN
	dist/bank-desktop/bank-desktop --version
	env -u DISPLAY -u WAYLAND_DISPLAY dist/bank-desktop/bank-desktop --self-test
	@du -sh dist/bank-desktop; ls -l dist/*.whl dist/*.tar.gz

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
