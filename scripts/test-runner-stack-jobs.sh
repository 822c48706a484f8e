#!/usr/bin/env bash
# The stack-bound workflow jobs (ci-test test-model-gate and test-promote-candidate, cd-master
# image-build and deliver), every step, each in a NEW runner container
# (ci/tests/test_runner_stack_jobs.py), after installing what the test itself uses: node (the
# runner's setup-node tool cache), the OCI registry, a Docker engine, the CI tools. The jobs install
# everything else themselves, inside their containers. make test runs this in the background beside
# the README first run, which mostly waits (docs/CICD.md).
# Usage: scripts/test-runner-stack-jobs.sh [PYTEST_ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${RPS_CI_VENV:-$ROOT/.rps/venv-ci}"

scripts/install-node-deps.sh
scripts/install-registry.sh
scripts/docker-engine.sh ensure
scripts/install-ci-tools.sh
# Its own image names and pytest temp dir: it may run beside another test of this clone.
export RPS_CI_TEST_IMAGE_PREFIX="${RPS_CI_TEST_IMAGE_PREFIX:-rps-ci-runner}" RPS_RUNNER_STACK_JOBS=1
basetemp="$(mktemp -d "${TMPDIR:-/tmp}/rps-runner-stack.XXXXXX")"
trap 'rm -rf "$basetemp"' EXIT
"$VENV/bin/python" -m pytest -p no:cacheprovider --basetemp "$basetemp/pytest" ci/tests/test_runner_stack_jobs.py -q "$@"
