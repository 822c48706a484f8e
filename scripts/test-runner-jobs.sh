#!/usr/bin/env bash
# Workflow jobs, every step, each in a NEW runner container (ci/tests/test_runner_jobs.py):
#   stack   ci-test test-model-gate and test-promote-candidate, cd-master image-build and deliver
#           (ci/tests/test_runner_stack_jobs.py); make test runs it in the background beside the
#           README first run, which mostly waits (docs/cicd-tests.md)
#   ci-dev  ci-dev dev-checks and workflow-jobs (ci/tests/test_runner_ci_dev_jobs.py); make test runs
#           eslint, tsc, the unit tests and the workflow-job lab only there
# after installing what the test itself uses: node (the runner's setup-node tool cache), the OCI
# registry, a Docker engine, the CI tools. The jobs install everything else themselves, inside
# their containers.
# Usage: scripts/test-runner-jobs.sh stack|ci-dev [PYTEST_ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${RPS_CI_VENV:-$ROOT/.rps/venv-ci}"

case "${1:-}" in
  stack) module=ci/tests/test_runner_stack_jobs.py gate=RPS_RUNNER_STACK_JOBS prefix=rps-ci-runner ;;
  ci-dev) module=ci/tests/test_runner_ci_dev_jobs.py gate=RPS_RUNNER_CI_DEV_JOBS prefix=rps-ci-runner-dev ;;
  *) echo "usage: $0 stack|ci-dev [PYTEST_ARGS...]" >&2; exit 2 ;;
esac
shift

scripts/install-node-deps.sh
scripts/install-registry.sh
scripts/docker-engine.sh ensure
scripts/install-ci-tools.sh
# Its own image names and pytest temp dir: it may run beside another test of this clone.
export RPS_CI_TEST_IMAGE_PREFIX="${RPS_CI_TEST_IMAGE_PREFIX:-$prefix}" "$gate=1"
basetemp="$(mktemp -d "${TMPDIR:-/tmp}/rps-runner-jobs.XXXXXX")"
trap 'rm -rf "$basetemp"' EXIT
"$VENV/bin/python" -m pytest -p no:cacheprovider --basetemp "$basetemp/pytest" "$module" -q "$@"
