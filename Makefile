# One-command entry points; see README "Quick start".
SHELL := /bin/bash
PYTHON ?= python3
LEVEL ?= 1
VENV := .venv
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup tools synth test bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

## promtool and amtool (Debian packages) validate the Level 3 Prometheus rules in the tests.
tools:
	bash scripts/install_prometheus_tools.sh

## Synthesize maturity level $(LEVEL) (1..3) with the real CDK CLI into cdk.out/.
synth: setup
	rm -rf cdk.out
	cdk synth --quiet --no-notices -c level=$(LEVEL)
	python scripts/stacks_written.py cdk.out

## Run the whole test suite (unit, snapshot, cdk-nag, cfn-lint, CLI).
test: setup tools
	python -m pytest -q

## Handler overhead, cold import and synth-time benchmark.
bench: setup
	python benchmarks/bench_handler.py
	python benchmarks/bench_synth.py

clean:
	rm -rf cdk.out .pytest_cache
