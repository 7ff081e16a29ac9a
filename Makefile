# Every target bootstraps .venv on first use, so a fresh clone needs nothing else. `serve` and
# `run` install the runtime dependencies only; the others add their pyproject.toml extra
# (one stamp file each). Only the tests and the screenshots run Qt offscreen.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.13 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
extra = $(VENV)/.installed-$(1)
EXTRAS := test lint bench package docs
PORT ?= 8000
# The demo server's and the desktop's data, under the checkout (git-ignored).
DATA ?= .data

# Install Debian packages when a command is missing: $(call apt-install,COMMAND,PACKAGES,WHY)
define apt-install
	@command -v $(1) >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing $(2) $(3)"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); }
endef

.PHONY: venv serve run run-demo qt-display-libs test redis-server test-display lint fmt soak \
	bench screenshots package clean

venv: $(call extra,dev)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 13), f"CPython 3.13+ needed, found {sys.version}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(VENV)/.installed-%: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[$*]"
	touch $@

$(call extra,dev): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(foreach name,$(EXTRAS) dev,$(call extra,$(name)))

# The demo bank (well-known passwords) on http://localhost:$(PORT), data in $(DATA)/serve.
serve: $(STAMP)
	$(BIN)/bank-server serve --demo --port $(PORT) --data-dir $(DATA)/serve

# The desktop with its bundled server: a real bank in $(DATA)/run, set up on the first start.
run: $(STAMP) qt-display-libs
	$(BIN)/bank-desktop --local --data-dir $(DATA)/run

# The desktop with a bundled demo bank (admin/admin123, teller/teller123), data in $(DATA)/run-demo.
run-demo: $(STAMP) qt-display-libs
	$(BIN)/bank-desktop --local --demo --data-dir $(DATA)/run-demo

# Qt's X11 plugin needs libraries a Debian desktop may lack (libxcb-icccm4, libxcb-keysyms1, ...):
# install the missing ones, or say in one line what to install.
qt-display-libs: $(STAMP)
	@missing="$$($(BIN)/python -m desktop.platform_check --debian-packages)"; \
	[ -z "$$missing" ] || { \
		if command -v apt-get >/dev/null && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; }; then \
			SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
			echo "installing $$missing for Qt's X11 platform plugin"; \
			$$SUDO apt-get update -qq && \
			$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "bank-desktop: Qt's X11 plugin needs these packages: $$missing (Debian: apt-get install $$missing)"; \
			exit 1; \
		fi; }

screenshots: $(call extra,docs)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m desktop.screenshots docs/screenshots

# BANK_TEST_XVFB=required: the display test fails instead of skipping when Xvfb is missing.
# One pytest-xdist worker per core, each with its own wire database, a whole module per worker
# (module-scoped servers); TEST_ARGS="-n 0" runs in one process. Then the timing and load
# modules (marker `serial`: sign-in load, floods, the bank workload, ...) run alone, so that
# no other worker's load decides their figures.
TEST_ARGS ?= -n auto --dist loadfile
test: $(call extra,test) redis-server test-display
	QT_QPA_PLATFORM=offscreen BANK_TEST_XVFB=required $(BIN)/python -m pytest -q $(TEST_ARGS) \
		-m "not serial"
	QT_QPA_PLATFORM=offscreen BANK_TEST_XVFB=required $(BIN)/python -m pytest -q -m serial

# Tests that share state through Redis start a real redis-server: install Debian's when missing.
redis-server:
	@command -v redis-server >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing redis-server for the tests"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# The display test starts the desktop on Xvfb and finds its window with xwininfo.
test-display: qt-display-libs
	$(call apt-install,Xvfb,xvfb,for the display test)
	$(call apt-install,xwininfo,x11-utils,for the display test)

lint: $(call extra,lint)
	$(BIN)/ruff check server desktop shared tests bench
	$(BIN)/ruff format --check server desktop shared tests bench
	$(BIN)/mypy

fmt: $(call extra,lint)
	$(BIN)/ruff format server desktop shared tests bench
	$(BIN)/ruff check --fix server desktop shared tests bench

# Every figure of issue 7 against its target (bench/results/latest.json), then deposit latency
# as the ledger grows, the mixed workload, and five years of a branch against one month
# (bench/scale.py, issue 17; SCALE_ARGS="--entries 50000" for a shorter run).
# wrk (Debian's) is the HTTP load generator.
bench: $(call extra,bench)
	@command -v wrk >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "installing wrk for the benchmarks"; \
		$$SUDO apt-get update -qq && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.deposit_latency
	$(BIN)/python -m bench.workload
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

# The long form of the bank workload and crash tests (the suite runs 20 s each).
soak: $(call extra,test)
	WORKLOAD_SECONDS=$${WORKLOAD_SECONDS:-120} WORKLOAD_CLIENTS=$${WORKLOAD_CLIENTS:-32} \
		$(BIN)/python -m pytest -q -s tests/e2e/test_bank_workload.py

# Wheel and sdist in dist/, then the one-folder desktop bundle dist/bank-desktop/ (desktop,
# server and embedded database in one executable), checked by running it. Not part of `test`.
# --no-isolation builds with the venv's setuptools, so no index is needed.
package: $(call extra,package)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	$(BIN)/pyinstaller packaging/bank-desktop.spec --distpath dist --workpath build/pyinstaller \
		--noconfirm --log-level WARN
	dist/bank-desktop/bank-desktop --version
	env -u DISPLAY -u WAYLAND_DISPLAY dist/bank-desktop/bank-desktop --self-test
	@du -sh dist/bank-desktop; ls -l dist/*.whl dist/*.tar.gz

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
