# Steward: `make demo` shows it working locally; `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON313 := $(shell scripts/find-python313)
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
SAM := $(TOOLS)/bin/sam
PIP_FLAGS := --quiet --disable-pip-version-check --require-hashes

# Local runs never reach AWS: dummy credentials, a fixed region, no instance metadata, no telemetry. Bytecode is
# written (a clean clone has none): without it every test process and `steward` command compiles Steward, devtools and
# the tests from source again, and pytest rewrites every test module's asserts again in each worker.
LOCAL_ENV := env -u AWS_PROFILE -u AWS_ENDPOINT_URL -u PYTHONDONTWRITEBYTECODE AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing \
	AWS_DEFAULT_REGION=eu-central-1 AWS_REGION=eu-central-1 AWS_EC2_METADATA_DISABLED=true \
	SAM_CLI_TELEMETRY=0 POWERTOOLS_TRACE_DISABLED=true
# sam build's python3.13 workflow needs python3.13 on PATH.
BUILD_PATH := $(dir $(PYTHON313)):$(PATH)

.PHONY: help venv tools scanners lint unit pytest test validate audit build bytecode demo sandbox bench clean lock org-package

help:
	@echo "make demo   - a day in the life of the reference platform, against local stand-ins"
	@echo "make test   - lint, type-check, all tests, sam validate --lint, checkov, pip-audit and an arm64 sam build"
	@echo "make sandbox - a local moto with the reference platform, and sandbox.env for the steward command"
	@echo "make lint | make audit | make build | make bench | make clean"
	@echo "make org-package - after make build: one expanded template and code zips for a StackSet (.aws-sam/org)"

$(VENV)/.installed: requirements/dev.lock
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is required" >&2; exit 1; }
	rm -rf $(VENV) && $(PYTHON313) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -r requirements/dev.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation --editable . 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(PY) -c "import steward, devtools, aws_lambda_powertools, pydantic, slack_sdk, moto, pytest"
	touch $@

$(TOOLS)/.installed: requirements/tools.lock
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is required" >&2; exit 1; }
	rm -rf $(TOOLS) && $(PYTHON313) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install $(PIP_FLAGS) -r requirements/tools.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
	$(SAM) --version
	touch $@

CHECKOV := .venv-checkov
$(CHECKOV)/.installed: requirements/checkov.lock
	@test -n "$(PYTHON313)" || { echo "Python 3.13 is required" >&2; exit 1; }
	rm -rf $(CHECKOV) && $(PYTHON313) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install $(PIP_FLAGS) -r requirements/checkov.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
	touch $@

venv: $(VENV)/.installed
tools: $(TOOLS)/.installed
scanners: $(CHECKOV)/.installed

lint: venv
	$(VENV)/bin/ruff check functions tests bench scripts devtools
	$(VENV)/bin/ruff format --check functions tests bench scripts devtools
	$(VENV)/bin/mypy

unit: venv
	$(LOCAL_ENV) $(PY) -m pytest tests/unit

validate: tools scanners
	$(LOCAL_ENV) $(SAM) validate --lint --template template.yaml
	$(LOCAL_ENV) $(SAM) validate --lint --template org-digest.yaml
	$(LOCAL_ENV) $(TOOLS)/bin/cfn-lint templates/*.yaml org-digest.yaml
	$(LOCAL_ENV) $(CHECKOV)/bin/checkov --file template.yaml --file org-digest.yaml $(addprefix --file ,$(wildcard templates/*.yaml)) \
		--framework cloudformation --quiet --compact --skip-download

# pip-audit over every lock file; a known vulnerability fails it (AUDIT_STRICT=1: so does a package it cannot audit).
audit: venv
	$(LOCAL_ENV) $(PY) -m devtools.audit

build: tools
	$(LOCAL_ENV) PATH="$(BUILD_PATH)" $(SAM) build --template template.yaml --parallel
	$(MAKE) --no-print-directory bytecode DIRS=".aws-sam/build/DependenciesLayer/python $$(echo .aws-sam/build/*Function)"

# Lambda cannot write __pycache__ beside its read-only code: without shipped bytecode every cold start compiles every
# module it imports (boto3, pydantic, Powertools, Steward). Hash-based .pyc files stay valid whatever timestamps the
# deployment zip gives the sources; unchecked ones are not compared with their source at import (a deployed function's
# code never changes without a new build, and compileall always rewrites hash-based files), which saves reading and
# hashing every imported source on each cold start. `make bench` compiles its replica of the layer with this target.
bytecode:
	@test -n "$(DIRS)" || { echo "usage: make bytecode DIRS='dir ...'" >&2; exit 2; }
	$(PYTHON313) -m compileall -q -j 0 --invalidation-mode unchecked-hash $(DIRS) > /dev/null

# Service-managed StackSets run no transform: template.yaml expanded locally (SAM's transform, nested stacks inlined),
# the built code zipped by content hash, all in .aws-sam/org (README: Rolling out to an organisation). Offline.
ORG := .aws-sam/org
org-package: tools scanners
	$(LOCAL_ENV) $(TOOLS)/bin/python -m devtools.org_package --build .aws-sam/build --out $(ORG)
	$(LOCAL_ENV) $(TOOLS)/bin/cfn-lint $(ORG)/steward-org.json
	$(LOCAL_ENV) $(CHECKOV)/bin/checkov --file $(ORG)/steward-org.json --framework cloudformation --quiet --compact \
		--skip-download

# One pytest worker per core (a test file stays whole on one worker: --dist loadfile in pyproject.toml). Lint, the
# audit (mostly waiting on the vulnerability service), the template checks and the build run beside the tests; each
# one's output stays in one piece, and any one failing fails `make test`.
test: venv tools scanners
	$(MAKE) --no-print-directory -j 5 --output-sync=target lint pytest audit validate build

pytest: venv
	$(LOCAL_ENV) $(PY) -m pytest -n auto

demo: venv
	$(LOCAL_ENV) $(PY) -m devtools.demo

# Runs until Ctrl-C; in another shell `source sandbox.env` and every README steward example works as written.
sandbox: venv
	$(LOCAL_ENV) $(PY) -m devtools.sandbox

bench: venv tools
	$(MAKE) --no-print-directory build
	$(LOCAL_ENV) $(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam demo-output sandbox.env .mypy_cache .ruff_cache .pytest_cache

# Re-pin every dependency (hashes included) after editing requirements/*.in.
lock: venv
	$(VENV)/bin/uv pip compile --python-version 3.13 --generate-hashes -q requirements/layer.in -o layers/deps/requirements.txt
	$(VENV)/bin/uv pip compile --python-version 3.13 --python-platform linux --generate-hashes -q requirements/dev.in -o requirements/dev.lock
	$(VENV)/bin/uv pip compile --python-version 3.13 --python-platform linux --generate-hashes -q requirements/tools.in -o requirements/tools.lock
	$(VENV)/bin/uv pip compile --python-version 3.13 --python-platform linux --generate-hashes -q requirements/checkov.in -o requirements/checkov.lock
