#!/usr/bin/env bash
# make test: install what the tests need, then every check and test suite: mocha's integration tests
# (real MinIO, MLflow, DVC, Prometheus, Alertmanager, Chromium), the monitoring config tests, the
# Airflow DAG tests, the CI/CD checks, every workflow job in fresh runner containers (eslint, tsc
# and the unit tests run there, in ci-dev's dev-checks), compose and the README's first run.
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

# eslint, tsc and the unit tests (dist/test/lib, dist/test/commands) run only as ci-dev's
# dev-checks job, every step, in a fresh runner container; first, so that they fail fast.
stage "lint (eslint), type check (tsc), unit tests: ci-dev's dev-checks job in a fresh runner container"
scripts/test-runner-jobs.sh ci-dev -k dev_checks

stage "mocha: integration (real MinIO, MLflow, DVC, Prometheus, Alertmanager, Chromium)"
# mocha colours its marks even into a log file under CI=true: plain text off a terminal.
mocha_flags=()
[[ -t 1 ]] || mocha_flags=(--no-color)
npx mocha "${mocha_flags[@]}" --ignore 'dist/test/lib/**' --ignore 'dist/test/commands/**'

stage "monitoring: promtool/amtool checks, rule tests, alert delivery"
scripts/test-monitoring.sh

if [[ -x scripts/test-airflow.sh ]]; then
  stage "airflow: DAG integrity and real runs"
  scripts/test-airflow.sh
fi

stage "CI/CD: actionlint, hadolint, shellcheck, compose validation, workflow and script tests, jobs in runner containers"
scripts/test-ci.sh

# ci-dev's workflow-jobs job in a fresh runner container: scripts/test-workflow-jobs.sh, the
# model-gate, image-build and deliver jobs and their variants, for real against the stack and
# Docker, and in remote mode.
stage "CI/CD: ci-dev's workflow-jobs job (the workflow-job lab) in a fresh runner container"
scripts/test-runner-jobs.sh ci-dev -k workflow_jobs

stage "compose: docker compose up end to end (first run trains, serve, scrape, alert, live errors)"
scripts/test-compose.sh

# The stack-bound jobs in fresh runner containers (about 8 minutes) run in the background beside
# the README first run, which mostly waits on its stack (the CPU ~30 % busy): side by side they
# fit make test's budget, one after the other they would not (docs/CICD.md). Its log follows.
stage "CI/CD, in the background: the model-gate, promote-candidate, image-build and deliver jobs in fresh runner containers"
stack_jobs_log="$(mktemp "${TMPDIR:-/tmp}/rps-runner-stack-jobs.XXXXXX")"
# Its own process group, so that an interrupted make test stops its pytest and containers' clients too.
setsid scripts/test-runner-jobs.sh stack >"$stack_jobs_log" 2>&1 &
stack_jobs_pid=$!
trap 'kill -- "-$stack_jobs_pid" 2>/dev/null || true' EXIT
# A SIGKILL of make test runs no trap: this watcher (a session of its own) stops the group then.
setsid scripts/stop-group-when-gone.sh "$$" "$stack_jobs_pid" >/dev/null 2>&1 &

stage "README first run on a fresh clone: its make up, /predict requests and make down, every address it lists"
readme_rc=0
python3 scripts/readme_first_run.py || readme_rc=$?

stack_jobs_rc=0
wait "$stack_jobs_pid" || stack_jobs_rc=$?
trap - EXIT
stage "CI/CD: the stack-bound jobs in fresh runner containers (ran beside the README first run): exit $stack_jobs_rc"
cat "$stack_jobs_log"
rm -f "$stack_jobs_log"
if ((readme_rc != 0 || stack_jobs_rc != 0)); then
  echo "make test: FAILED: README first run exit $readme_rc, runner stack jobs exit $stack_jobs_rc" >&2
  exit 1
fi
