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

stage "install: Python tools (MLflow, DVC), Airflow, schemathesis, MinIO, Chromium, Prometheus + Alertmanager"
scripts/install-python.sh
# Here, not inside a test: the alert -> retrain test starts Airflow in a hook with a time limit, and a
# first pip install of Airflow on a busy machine takes longer than that limit.
scripts/install-airflow.sh
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

# Two long stages run in the background, each beside a stage that mostly waits (the CPU about half
# idle: the compose stack's start, the README first run's): side by side they fit make test's
# budget, one after the other they would not (docs/cicd-tests.md). Each runs in a process group of its
# own (setsid), so that an interrupted make test stops it (the EXIT trap; after a SIGKILL, which
# runs no trap, a watcher in a session of its own); its log follows when it is waited for.
declare -A bg_pid bg_log
start_background() {  # NAME COMMAND...
  local name=$1
  shift
  bg_log[$name]="$(mktemp "${TMPDIR:-/tmp}/rps-test-$name.XXXXXX")"
  setsid "$@" >"${bg_log[$name]}" 2>&1 &
  bg_pid[$name]=$!
  setsid scripts/stop-group-when-gone.sh "$$" "${bg_pid[$name]}" >/dev/null 2>&1 &
}
finish_background() {  # NAME: waits for it, prints its log; its exit code
  local name=$1 rc=0
  wait "${bg_pid[$name]}" || rc=$?
  unset "bg_pid[$name]"
  stage "$name (ran in the background): exit $rc"
  cat "${bg_log[$name]}"
  rm -f "${bg_log[$name]}"
  return "$rc"
}
stop_background() {
  local pid
  for pid in "${bg_pid[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap stop_background EXIT

# The base images both use, built once here (about a second when present), not by both at once.
scripts/base-images.sh >/dev/null

# ci-dev's workflow-jobs job in a fresh runner container: scripts/test-workflow-jobs.sh, the
# model-gate, image-build and deliver jobs and their variants, for real against the stack and
# Docker, and in remote mode.
stage "CI/CD, in the background: ci-dev's workflow-jobs job (the workflow-job lab) in a fresh runner container"
start_background workflow-jobs scripts/test-runner-jobs.sh ci-dev -k workflow_jobs

stage "compose: docker compose up end to end (first run trains, serve, scrape, alert, live errors)"
compose_rc=0
scripts/test-compose.sh || compose_rc=$?
workflow_jobs_rc=0
finish_background workflow-jobs || workflow_jobs_rc=$?
if ((compose_rc != 0 || workflow_jobs_rc != 0)); then
  echo "make test: FAILED: compose exit $compose_rc, workflow-jobs exit $workflow_jobs_rc" >&2
  exit 1
fi

# The stack-bound jobs, every step, each in a fresh runner container.
stage "CI/CD, in the background: the model-gate, promote-candidate, image-build and deliver jobs in fresh runner containers"
start_background stack-jobs scripts/test-runner-jobs.sh stack

stage "README first run on a fresh clone: its make up, /predict requests and make down, every address it lists"
readme_rc=0
python3 scripts/readme_first_run.py || readme_rc=$?
stack_jobs_rc=0
finish_background stack-jobs || stack_jobs_rc=$?
trap - EXIT
if ((readme_rc != 0 || stack_jobs_rc != 0)); then
  echo "make test: FAILED: README first run exit $readme_rc, runner stack jobs exit $stack_jobs_rc" >&2
  exit 1
fi
