#!/usr/bin/env bash
# make test: install what the tests need, then lint, type check and every test suite:
# mocha (unit + integration with real MinIO, MLflow, DVC, Prometheus, Alertmanager, Chromium),
# the monitoring config tests, the Airflow DAG tests and the CI/CD checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"

stage() { echo "== $*" >&2; }
# Logs without a terminal (CI) get no colour codes from the tools that honour NO_COLOR.
if [[ ! -t 2 && -z "${FORCE_COLOR:-}" ]]; then export NO_COLOR="${NO_COLOR:-1}"; fi

stage "install: Python tools (MLflow, DVC), schemathesis, MinIO, Chromium, Prometheus + Alertmanager"
scripts/install-python.sh
scripts/install-schemathesis.sh
scripts/install-minio.sh
scripts/install-chromium.sh
scripts/install-monitoring.sh

# The delivery tests build and run the images for real: an engine (started here when there is
# none and this is root on Debian/Ubuntu; otherwise the reason, and the suite fails) and a registry.
stage "install: Docker engine, local OCI registry"
scripts/docker-engine.sh ensure
scripts/install-registry.sh

stage "lint (eslint) and type check (tsc --noEmit)"
npx eslint .
npx tsc --noEmit -p .

stage "mocha: unit and integration"
# mocha colours its marks even into a log file under CI=true: plain text off a terminal.
mocha_flags=()
[[ -t 1 ]] || mocha_flags=(--no-color)
npx mocha "${mocha_flags[@]}"

stage "monitoring: promtool/amtool checks, rule tests, alert delivery"
scripts/test-monitoring.sh

if [[ -x scripts/test-airflow.sh ]]; then
  stage "airflow: DAG integrity and real runs"
  scripts/test-airflow.sh
fi

stage "CI/CD: actionlint, hadolint, shellcheck, compose validation, workflow and script tests, jobs in runner containers"
scripts/test-ci.sh

stage "CI/CD: the model-gate, image-build and deliver jobs run for real against the stack"
scripts/test-workflow-jobs.sh

stage "compose: docker compose up end to end (first run trains, serve, scrape, alert, live errors)"
scripts/test-compose.sh

stage "README first run on a fresh clone: its make up, /predict requests and make down, every address it lists"
python3 scripts/readme_first_run.py
