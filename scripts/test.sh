#!/usr/bin/env bash
# make test: install what the tests need, then lint, type check and every test suite:
# mocha (unit + integration with real MinIO, MLflow, DVC, Prometheus, Alertmanager, Chromium),
# the monitoring config tests, the Airflow DAG tests and the CI/CD checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"

stage() { echo "== $*" >&2; }

stage "install: Python tools (MLflow, DVC), schemathesis, MinIO, Chromium, Prometheus + Alertmanager"
scripts/install-python.sh
scripts/install-schemathesis.sh
scripts/install-minio.sh
scripts/install-chromium.sh
scripts/install-monitoring.sh

stage "lint (eslint) and type check (tsc --noEmit)"
npx eslint .
npx tsc --noEmit -p .

stage "mocha: unit and integration"
npx mocha

stage "monitoring: promtool/amtool checks, rule tests, alert delivery"
scripts/test-monitoring.sh

if [[ -x scripts/test-airflow.sh ]]; then
  stage "airflow: DAG integrity and real runs"
  scripts/test-airflow.sh
fi

stage "CI/CD: actionlint, hadolint, shellcheck, compose validation, workflow and script tests"
scripts/test-ci.sh
