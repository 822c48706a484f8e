#!/usr/bin/env bash
# make up: install what is missing, start the local stack (MinIO, MLflow, Airflow), run the
# pipeline once as an Airflow DAG run on the offline default (the replay source):
# fetch -> check -> featurize -> profile -> push -> forecast -> drift -> train -> compare -> promote
# (train..promote only when the drift gate finds a retrain due: always on the first run), then
# serve the champion with Prometheus + Alertmanager watching it. A second `make up` reuses all state.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
export RPS_SOURCE="${RPS_SOURCE:-replay}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:${RPS_MLFLOW_PORT}}"
export RPS_PROJECT_DIR="${RPS_PROJECT_DIR:-$ROOT}"

scripts/stack.sh up
scripts/dvc-remote.sh
scripts/install-monitoring.sh
scripts/airflow.sh start

# A new location starts with a year of history; later runs fetch the recent hours only.
processed="${RPS_DATA_DIR:-$RPS_PROJECT_DIR/data}/processed"
if [[ ! -f "$processed/CURRENT" && ! -f "$processed/observations.parquet" ]]; then
  export RPS_BACKFILL_DAYS="${RPS_BACKFILL_DAYS:-365}"
fi
# One run now; the DAG is paused again afterwards so the laptop does not commit dvc.lock every
# hour (unpause rps_pipeline in the Airflow UI, or set RPS_AIRFLOW_PAUSE_AFTER=0, for hourly runs).
RPS_AIRFLOW_PAUSE_AFTER="${RPS_AIRFLOW_PAUSE_AFTER:-1}" scripts/airflow.sh trigger-and-wait

scripts/serve.sh start
scripts/monitoring.sh start
cat >&2 <<URLS
make up: done.
  API            http://127.0.0.1:${RPS_API_PORT:-8000}  (/predict /health /ready /model /metrics /openapi.json)
  Airflow UI     http://127.0.0.1:${RPS_AIRFLOW_PORT:-8080}  (DAG rps_pipeline)
  MLflow UI      ${MLFLOW_TRACKING_URI}
  MinIO console  http://127.0.0.1:${RPS_MINIO_CONSOLE_PORT}
  Prometheus     http://127.0.0.1:${RPS_PROMETHEUS_PORT:-9090}  Alertmanager http://127.0.0.1:${RPS_ALERTMANAGER_PORT:-9093}
  Stop everything with: make down
URLS
