# cdk-ml-data-jobs: everything a fresh machine needs is installed from here.
# Requires only Python 3.11+, Node and npm on PATH.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
CDK := node_modules/.bin/cdk

# No telemetry, no notices, no version check, no instance-metadata look-ups, no jsii EOL banner.
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export AWS_EC2_METADATA_DISABLED := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1
export CDK_HOME := $(CURDIR)/.cdk
export CHECKOV := $(CURDIR)/$(CHECKOV_VENV)/bin/checkov

.PHONY: help deps synth test deploy destroy bench wheel diagrams clean local local-up local-down iam-report

help:
	@echo "make synth   - install everything (first run) and synthesize the sample app into cdk.out/"
	@echo "make test    - run the whole test suite with its quality gates"
	@echo "make deploy  - deploy the sample app with your AWS credentials (real account)"
	@echo "make local   - deploy the sample app into a local AWS emulator (127.0.0.1), run both workflows, tear down"
	@echo "make local-up / local-down - keep the emulator and the deployed stack running for exploration / stop them"
	@echo "make iam-report - every AWS call the handlers make and every service path, evaluated with the IAM simulator: principal, action, resource, decision, decisive statement"
	@echo "make bench   - polling benchmark on a virtual clock (report in .bench/)"
	@echo "make wheel   - build the wheel into dist/"
	@echo "make diagrams - redraw docs/ (architecture and state machines) from the synthesized template (needs graphviz)"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov lives in its own venv: installing it beside boto3 would downgrade boto3/botocore.
$(CHECKOV_VENV)/.installed:
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==3.3.30
	touch $@

deps: $(BIN)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed

synth: $(BIN)/.installed node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth --quiet --no-notices
	$(BIN)/python -m cdk_ml_data_jobs.summary cdk.out

test: deps
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

deploy: $(BIN)/.installed node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy --no-notices $(CDK_ARGS)

destroy: $(BIN)/.installed node_modules/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) destroy --no-notices $(CDK_ARGS)

# Local AWS emulator (moto server on 127.0.0.1, see tests/harness/server.py): no account, no credentials, no Docker.
local: $(BIN)/.installed node_modules/.installed
	$(BIN)/python -m tests.harness.local_deploy run

local-up: $(BIN)/.installed node_modules/.installed
	$(BIN)/python -m tests.harness.local_deploy up

local-down: $(BIN)/.installed
	$(BIN)/python -m tests.harness.local_deploy down

# The IAM evaluation as a table (tests/iam/report.py; the simulator is the pinned dev-only npm package).
iam-report: $(BIN)/.installed node_modules/.installed
	$(BIN)/python -m tests.iam.report

bench: $(BIN)/.installed
	$(BIN)/python -m tests.bench.run $(BENCH_ARGS)

wheel: $(BIN)/.installed
	$(BIN)/python -m pip wheel --no-deps --wheel-dir dist .

# Any dataset groups draw the same batch state machine (its picture shows states, not the groups' ARNs).
QUEUE_DIAGRAM_GROUPS := arn:aws:personalize:us-east-1:123456789012:dataset-group/shop,arn:aws:personalize:us-east-1:123456789012:dataset-group/news

diagrams: synth
	@command -v dot >/dev/null || { echo "Graphviz's dot is needed: apt-get install graphviz"; exit 1; }
	$(BIN)/python -m cdk_ml_data_jobs.diagrams cdk.out/CdkMlDataJobs.template.json docs
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth --quiet --no-notices -o cdk.out.queue \
		-c requestQueueDatasetGroupArns=$(QUEUE_DIAGRAM_GROUPS)
	$(BIN)/python -m cdk_ml_data_jobs.diagrams cdk.out.queue/CdkMlDataJobs.template.json docs --queue

clean:
	rm -rf cdk.out cdk.out.queue dist build .bench
