# agi-app: customer-service hotline on Asterisk 22.
#   make run    set everything up and serve the hotline (Ctrl-C stops it all)
#   make test   set up what the tests need and run them (stack stopped after)
#   make check  lint, import layers, types, flow validation and tests
#   make cluster  Kamailio + NODES IVR nodes (default 2) + a queue node, in the background
#   make stop   stop the app(s), Kamailio, Asterisk(s) and PostgreSQL; unmount the roots
#   make bench  SIPp load against the real stack (native dialplan baseline)
#   make bench-cluster  what Kamailio adds (CPU, latency) and failover, on a 2-node cluster
#   make soak   30 minutes at 30 calls/s through the demo flows: RSS, fds, tasks... stay flat
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
APP := $(VENV)/bin/agi-app
APT_PACKAGES := debootstrap sip-tester kamailio espeak-ng libespeak-ng1 graphviz sox postgresql-15 python3-venv \
  chromium chromium-driver fonts-wqy-microhei
PYTEST_ARGS ?=

.PHONY: help setup packages venv run cluster test test-unit check lint types stop bench bench-cluster \
  bench-smoke soak clean

help:
	@sed -n '2,9p' Makefile | sed 's/^# *//'

packages:
	@echo "==> Checking system packages: $(APT_PACKAGES)"
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "==> Installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "==> System packages present"; fi

$(VENV)/.installed: pyproject.toml requirements-qa.txt
	@echo "==> Creating the virtualenv in $(VENV)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@$(PY) -m pip install -q --require-hashes --only-binary :all: -r requirements-qa.txt
	@touch $@

venv: $(VENV)/.installed

setup: packages venv
	@$(APP) stack setup
	@$(APP) prompts render | tail -1

run: setup
	@$(APP) run --with-stack

NODES ?= 2
cluster: setup
	@$(APP) stack stop >/dev/null 2>&1; $(APP) stack start --nodes $(NODES)

test: setup
	@$(APP) flows check
	@$(APP) dialplan check
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 0 ]; then echo "==> bench smoke"; $(APP) bench --smoke; rc=$$?; fi; \
	  $(APP) stack stop >/dev/null 2>&1; exit $$rc

test-unit: venv
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: venv
	@$(VENV)/bin/ruff format --check agi_app tests
	@$(VENV)/bin/ruff check agi_app tests
	@$(VENV)/bin/lint-imports --no-cache

types: venv
	@$(VENV)/bin/mypy agi_app tests

check: lint types test

stop:
	@test -x $(APP) && $(APP) stack stop || true

bench: setup
	@$(APP) stack stop >/dev/null 2>&1; $(APP) bench --output docs/BENCHMARKS.md; rc=$$?; \
	  $(APP) stack stop >/dev/null 2>&1; exit $$rc

CLUSTER_ARGS ?=
bench-cluster: setup
	@$(APP) stack stop >/dev/null 2>&1; $(APP) bench cluster $(CLUSTER_ARGS) --output docs/BENCHMARKS.md; \
	  rc=$$?; \
	  $(APP) stack stop >/dev/null 2>&1; exit $$rc

SOAK_ARGS ?=
soak: setup
	@$(APP) stack stop >/dev/null 2>&1; $(APP) bench soak $(SOAK_ARGS) --output docs/BENCHMARKS.md; \
	  rc=$$?; \
	  $(APP) stack stop >/dev/null 2>&1; exit $$rc

bench-smoke: setup
	@$(APP) bench --smoke; rc=$$?; $(APP) stack stop >/dev/null 2>&1; exit $$rc

clean: stop
	@test -x $(APP) && $(APP) stack purge || true
	rm -rf $(VENV) var build *.egg-info
