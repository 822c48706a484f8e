# rps: the two commands are `make up` and `make test`; everything else is a building block
# (the GitHub workflows call the targets below, never their own copies of the commands).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ROOT := $(CURDIR)
export PATH := $(ROOT)/.rps/tools/bin:$(ROOT)/bin:$(PATH)

.PHONY: help up down pull test install lint typecheck unit integration bench stack-up lint-infra test-ci \
	test-monitoring test-airflow test-compose ci-build dag-test-ci ci-champion ci-compare ci-report compare-gate ci-promote \
	image-cli image-serve serve-container image-push serve-logs test-workflow-jobs test-runner-stack-jobs test-runner-ci-dev-jobs clean

help:
	@echo "make up    - install what is missing, start the stack, run the pipeline on the offline replay source, serve"
	@echo "make test  - install what is missing, run lint, type check and every test"
	@echo "make down  - stop everything make up started"
	@echo "make pull  - in another clone: configure the DVC remote and pull the versioned dataset"

install:
	@scripts/install-node-deps.sh

# Not `install`: that always recompiles (rm -rf dist), which would pull the CLI from under a running
# pipeline or server when make up runs again; ci-build.sh compiles only when a source changed.
up:
	@scripts/ci-build.sh
	@scripts/up.sh

down:
	@scripts/down.sh

pull:
	@scripts/pull.sh

test: install
	@scripts/test.sh

# eslint, then the import rule of src (no cycles, src/lib layers: .dependency-cruiser.cjs, docs/architecture.md).
lint: install
	npx eslint .
	npx depcruise src --config .dependency-cruiser.cjs --output-type err-long

typecheck: install
	npx tsc --noEmit -p .

# Tests that need no services beyond what they start in-process (fake APIs, rps subprocesses):
# dist/test/lib and dist/test/commands. Selected with --ignore: mocha adds a command-line --spec to
# the spec of .mocharc.json (every test) instead of replacing it, so --spec cannot narrow the run.
unit: install
	npx mocha --ignore 'dist/test/integration/**'

# Tests against real MinIO, MLflow, DVC, Prometheus, Alertmanager and Chromium.
integration: install
	scripts/install-python.sh && scripts/install-minio.sh && scripts/install-chromium.sh && scripts/install-monitoring.sh
	npx mocha --ignore 'dist/test/lib/**' --ignore 'dist/test/commands/**'

bench: install
	scripts/install-python.sh && scripts/install-bench-tools.sh
	npm run -s bench

# MinIO + MLflow only (Python and the MinIO binary): nothing to compile.
stack-up:
	scripts/stack.sh up

lint-infra:
	scripts/lint-infra.sh

test-ci:
	scripts/test-ci.sh

test-workflow-jobs:
	scripts/test-workflow-jobs.sh

# The stack-bound jobs, every step, in fresh runner containers (make test runs it beside the README test).
test-runner-stack-jobs:
	scripts/test-runner-jobs.sh stack

# ci-dev's dev-checks and workflow-jobs, every step, in fresh runner containers (make test runs
# eslint, tsc, the unit tests and the workflow-job lab there).
test-runner-ci-dev-jobs:
	scripts/test-runner-jobs.sh ci-dev

# docker compose up end to end (local stand-ins of the third-party images: scripts/local-images.sh).
test-compose:
	scripts/test-compose.sh

test-monitoring:
	scripts/install-monitoring.sh
	scripts/test-monitoring.sh

test-airflow: install
	scripts/test-airflow.sh

# The model-gate steps need the built CLI; after `make install` (the workflow's first step) they
# do not compile again unless a source changed (scripts/ci-build.sh).
ci-build:
	@scripts/ci-build.sh

dag-test-ci: ci-build
	scripts/dag-test-ci.sh

ci-champion: ci-build
	scripts/ci-champion.sh

ci-compare: ci-build
	scripts/ci-compare.sh run

# The CML comment of the report: a comment that cannot be posted (fork PRs) is a warning, never the verdict.
ci-report:
	scripts/ci-compare.sh publish

compare-gate:
	scripts/ci-compare.sh gate

# A merged pull request's candidate (@pr-<n>) through rps promote's gate (scripts/ci-promote.sh).
ci-promote: ci-build
	scripts/ci-promote.sh

image-cli:
	scripts/docker-image.sh build-cli

image-serve:
	scripts/docker-image.sh build-serve

serve-container:
	scripts/docker-image.sh run-serve

image-push:
	scripts/docker-image.sh push-serve

serve-logs:
	scripts/docker-image.sh logs-serve

clean:
	rm -rf dist .rps/npm-ci.stamp
