# yiwang: the only entry point for people and CI. Needs only python3 (3.11+) and make.
#
# .venv is made from the system's own python3 when it is 3.11+ and can make a venv, else from python3
# on PATH; `make PYTHON=...` picks another. A distribution builds its interpreter optimised (Debian's
# with profile-guided optimisation, linked statically), as the official image the containers run on
# is; a pyenv build on PATH is not by default, and the stack's processes took about an eighth more
# CPU on it (docs/performance.md, "Simulator and bench"). A .venv of another interpreter is made again.
SYSTEM_PYTHON := /usr/bin/python3
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null \
            && echo $(SYSTEM_PYTHON) || echo python3)
endif
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell { cat pyproject.toml constraints.txt; echo '$(PYTHON)'; } | cksum | cut -d' ' -f1)
REAL_EXECUTABLE := import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))

.PHONY: help install lock run run-apart test test-unit test-integration test-e2e browser lint fmt typecheck schemas bench simulate clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "yiwang needs Python 3.11+"'
	test ! -x $(BIN)/python || [ "$$($(BIN)/python -c '$(REAL_EXECUTABLE)')" = "$$($(PYTHON) -c '$(REAL_EXECUTABLE)')" ] \
	  || rm -rf $(VENV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[dev]' --constraint constraints.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) ## create .venv and install everything, at the versions in constraints.txt

lock: install ## move constraints.txt to the newest versions pyproject.toml allows (then make test)
	$(BIN)/uv pip compile -q --python $(BIN)/python pyproject.toml --extra dev --upgrade --no-header \
	  --no-annotate -o constraints.txt.new
	{ sed -n '/^#/p' constraints.txt; cat constraints.txt.new; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt && rm constraints.txt.new

run: install ## start NATS, PostgreSQL, every service for regions 36 and 44, and the gateway
	$(BIN)/yiwang up --data data

run-apart: install ## the same with each region's own NATS (JetStream domain, leaf-node link) and PostgreSQL
	$(BIN)/yiwang up --apart --data data-apart

test: install browser ## unit, contract, integration and end-to-end tests on real NATS and PostgreSQL
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit tests/contract

test-integration: install
	$(BIN)/pytest tests/integration

test-e2e: install browser
	$(BIN)/pytest tests/e2e

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

browser: ## Debian's chromium, for the dashboard's test in a real headless browser
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

lint: install ## ruff, format check, mypy strict, import-linter
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m contracts.schemas check

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schemas: install ## export the JSON Schema of every contract to contracts/json-schemas/
	$(BIN)/python -m contracts.schemas export

bench: install ## throughput and latency beside this machine's raw limits
	$(BIN)/python -m tests.bench

PROFILE ?= docs/scenarios/nanchang-2021.json
SCALE   ?= 0.001

simulate: install ## a city's year (PROFILE, SCALE) through the stack of `make run`, then its figures
	$(BIN)/yiwang simulate $(PROFILE) --scale $(SCALE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
