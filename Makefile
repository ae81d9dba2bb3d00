# One-command entry points; see README "Quick start".
SHELL := /bin/bash
PYTHON ?= python3
LEVEL ?= 1
VENV := .venv
## Extra context for the cdk commands: ALARM_EMAIL=oncall@example.com, CONTEXT='-c model_id=... -c key=value'.
ALARM_EMAIL ?=
CONTEXT ?=
CDK_CONTEXT = -c level=$(LEVEL) $(if $(ALARM_EMAIL),-c alarm_email=$(ALARM_EMAIL)) $(CONTEXT)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup tools synth bootstrap deploy diff destroy test test-fast docs bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed

## promtool and amtool (Debian packages) validate the Level 3 Prometheus rules in the tests; checkov (in its own
## virtual environment, .tools/checkov) checks the synthesized templates; headless Chromium and ChromeDriver (Debian
## packages) load the HTML report and the dashboard previews in the browser tests.
tools:
	bash scripts/install_prometheus_tools.sh
	bash scripts/install_checkov.sh
	bash scripts/install_chromium.sh

## Synthesize maturity level $(LEVEL) (1..3) with the real CDK CLI into cdk.out/.
synth: setup
	rm -rf cdk.out
	cdk synth --quiet --no-notices $(CDK_CONTEXT)
	python scripts/stacks_written.py cdk.out

## Once per account and region, before the first deploy: the CDK's own bucket and roles (`cdk bootstrap`).
bootstrap: setup
	cdk bootstrap --no-notices $(CDK_CONTEXT)

## Deploy the stacks of levels 1..$(LEVEL) with your AWS credentials (asks before IAM changes).
deploy: setup
	cdk deploy --all --no-notices $(CDK_CONTEXT)

## What a deploy of levels 1..$(LEVEL) would change in the account (needs credentials).
diff: setup
	cdk diff --all --no-notices $(CDK_CONTEXT)

## Delete the stacks of levels 1..$(LEVEL); first lists what deleting keeps, then `cdk destroy` asks to confirm.
destroy: setup
	rm -rf cdk.out
	cdk synth --quiet --no-notices $(CDK_CONTEXT)
	python scripts/kept_on_destroy.py cdk.out $(CDK_CONTEXT)
	cdk destroy --all --no-notices $(CDK_CONTEXT)

## Run the whole test suite (unit, snapshot, cdk-nag, cfn-lint, CLI).
test: setup tools
	python -m pytest -q

## The everyday run: everything but the tests marked slow (real CDK CLI, fresh-clone set-up). Bytecode is written
## even where PYTHONDONTWRITEBYTECODE is set, so pytest's rewritten test modules are cached (collection: 17 s -> 6 s).
test-fast: setup tools
	PYTHONDONTWRITEBYTECODE= python -m pytest -q -m "not slow"

## Regenerate the generated blocks of README.md and docs/ (configuration and cost tables, dashboard pictures) from the code.
docs: setup
	python scripts/generate_docs.py
	python scripts/generate_previews.py

## Handler and runtime overhead, cold imports and synth-time benchmark.
bench: setup
	python benchmarks/bench_handler.py
	python benchmarks/bench_runtime.py
	python benchmarks/bench_synth.py

clean:
	rm -rf cdk.out .pytest_cache
