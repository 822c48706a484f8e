#!/usr/bin/env bash
# make up: install what is missing, start the local stack and run the main job end to end on the
# offline default (the replay source): fetch -> check -> featurize -> profile -> push -> train ->
# compare -> promote.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
export RPS_SOURCE="${RPS_SOURCE:-replay}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:${RPS_MLFLOW_PORT}}"

scripts/stack.sh up
scripts/dvc-remote.sh

step() { echo "== rps $*" >&2; rps "$@"; }
# A new location starts with a year of history; later runs fetch the recent hours only.
backfill=()
if [[ ! -f data/processed/observations.parquet ]]; then backfill=(--backfill-days 365); fi
step fetch --source "$RPS_SOURCE" "${backfill[@]}"
step check --source "$RPS_SOURCE"
step featurize --source "$RPS_SOURCE"
step profile
step push
step train
set +e
rps compare
compare_status=$?
set -e
if [[ $compare_status -eq 0 ]]; then
  step promote
elif [[ $compare_status -eq 10 ]]; then
  echo "make up: the challenger lost to the champion; the champion stays (report: reports/compare/report.md)" >&2
else
  exit "$compare_status"
fi

scripts/install-monitoring.sh
scripts/serve.sh start
scripts/monitoring.sh start
cat >&2 <<URLS
make up: done.
  API            http://127.0.0.1:${RPS_API_PORT:-8000}  (/predict /health /ready /model /metrics /openapi.json)
  MLflow UI      ${MLFLOW_TRACKING_URI}
  MinIO console  http://127.0.0.1:${RPS_MINIO_CONSOLE_PORT}
  Prometheus     http://127.0.0.1:${RPS_PROMETHEUS_PORT:-9090}  Alertmanager http://127.0.0.1:${RPS_ALERTMANAGER_PORT:-9093}
  Stop everything with: make down
URLS
