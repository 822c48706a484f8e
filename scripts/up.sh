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
# Random local secrets (MinIO root, Postgres, the alerts sink's token, ...) into .env, mode 600, the
# first time; never a value the file already has. Before common.sh, which reads the file.
scripts/env-file.sh
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
export RPS_SOURCE="${RPS_SOURCE:-replay}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:${RPS_MLFLOW_PORT}}"
export RPS_PROJECT_DIR="${RPS_PROJECT_DIR:-$ROOT}"
# rps push (a DAG task) commits dvc.lock to the project's current branch; RPS_COMMIT_DATA=0 leaves it
# modified and uncommitted. The Airflow services pass it to the tasks (set it before they start).
export RPS_COMMIT_DATA="${RPS_COMMIT_DATA:-1}"
# The DAG commits only where asked (production workers record data versions in S3 + MLflow alone):
# on this single host, make up asks for it unless RPS_COMMIT_DATA=0.
if [[ "$RPS_COMMIT_DATA" == 1 ]]; then export RPS_DAG_GIT_COMMIT="${RPS_DAG_GIT_COMMIT:-true}"; fi
# Logs without a terminal (CI, `make up > log`) get no colour codes from the tools that honour NO_COLOR.
if [[ ! -t 2 && -z "${FORCE_COLOR:-}" ]]; then export NO_COLOR="${NO_COLOR:-1}"; fi
warn_default_creds   # once here: the marker it exports keeps the scripts below quiet

branch="$(git -C "$RPS_PROJECT_DIR" rev-parse --abbrev-ref HEAD 2>/dev/null || echo '?')"
head_before="$(git -C "$RPS_PROJECT_DIR" rev-parse -q --verify HEAD 2>/dev/null || true)"
if [[ "$RPS_COMMIT_DATA" == 1 ]]; then
  log "the pipeline run commits dvc.lock (\"data: dataset ... (rps push)\") to branch $branch of $RPS_PROJECT_DIR; RPS_COMMIT_DATA=0 leaves it uncommitted"
else
  log "RPS_COMMIT_DATA=$RPS_COMMIT_DATA: dvc.lock stays uncommitted (git status shows it modified)"
fi

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
# A second make up within the same hour follows that hour's run (RPS_AIRFLOW_FOLLOW_EXISTING).
RPS_AIRFLOW_PAUSE_AFTER="${RPS_AIRFLOW_PAUSE_AFTER:-1}" RPS_AIRFLOW_FOLLOW_EXISTING=1 scripts/airflow.sh trigger-and-wait

scripts/serve.sh start
scripts/monitoring.sh start

# The closing summary: every address with what to open there and how to log in.
experiment_url="$MLFLOW_TRACKING_URI"
experiment_id="$("$RPS_VENV/bin/python" - "${RPS_PARAMS:-$ROOT/params.yaml}" "$MLFLOW_TRACKING_URI" <<'PY' 2>/dev/null || true
import json, sys, urllib.parse, urllib.request
import yaml
name = yaml.safe_load(open(sys.argv[1]))["model"]["experiment"]
url = sys.argv[2].rstrip("/") + "/api/2.0/mlflow/experiments/get-by-name?" + urllib.parse.urlencode({"experiment_name": name})
print(json.load(urllib.request.urlopen(url, timeout=5))["experiment"]["experiment_id"])
PY
)"
# MLflow 3 opens an experiment on its GenAI (traces) tab; the runs table has its own route.
if [[ -n "$experiment_id" ]]; then experiment_url="${MLFLOW_TRACKING_URI%/}/#/experiments/$experiment_id/runs"; fi
if [[ "$AWS_SECRET_ACCESS_KEY" == "$_RPS_DEFAULT_SECRET_KEY" ]]; then minio_password="$AWS_SECRET_ACCESS_KEY"; else minio_password='the value of AWS_SECRET_ACCESS_KEY'; fi
data_commit=""
head_after="$(git -C "$RPS_PROJECT_DIR" rev-parse -q --verify HEAD 2>/dev/null || true)"
if [[ -n "$head_after" && "$head_after" != "$head_before" ]]; then
  data_commit="$(git -C "$RPS_PROJECT_DIR" log --format='%h %s' "${head_before:+$head_before..}$head_after" -- dvc.lock | head -n 3 | paste -sd ';' -)"
fi
if [[ -n "$data_commit" ]]; then
  data_commit+=" on branch $branch"
elif [[ "$RPS_COMMIT_DATA" == 1 ]]; then
  data_commit="none (the dataset did not change)"
else
  data_commit="none (RPS_COMMIT_DATA=$RPS_COMMIT_DATA: dvc.lock left uncommitted)"
fi
# The forecast task writes its page only with a champion: a first run trains one after forecasting.
forecast_page="reports/live/forecast.html"
[[ -f "$RPS_PROJECT_DIR/$forecast_page" ]] || forecast_page+=" (none yet: this run forecast before its first champion; the next run writes it)"
api="http://127.0.0.1:${RPS_API_PORT:-8000}"
cat >&2 <<SUMMARY
make up: done (stack and pipeline run: $((SECONDS / 60)) min $((SECONDS % 60)) s).
  API             $api/model  (the served model; also /predict /health /ready /metrics /openapi.json)
                  try: curl -s -X POST $api/predict -H 'content-type: application/json' -d @docs/examples/predict-observations.json
  Airflow UI      http://127.0.0.1:${RPS_AIRFLOW_PORT:-8080}/dags/rps_pipeline  (no login: local simple auth, everyone admin;
                  the red "Triggerer" badge is expected: no rps task is deferrable, so no triggerer runs)
  MLflow runs     $experiment_url  (models: ${MLFLOW_TRACKING_URI%/}/#/models)
  MinIO console   http://127.0.0.1:${RPS_MINIO_CONSOLE_PORT}  (login $AWS_ACCESS_KEY_ID / $minio_password)
  Prometheus      http://127.0.0.1:${RPS_PROMETHEUS_PORT:-9090}/classic/alerts  (Debian's Prometheus has the classic UI only: /classic/graph, /classic/targets)
  Alertmanager    http://127.0.0.1:${RPS_ALERTMANAGER_PORT:-9093}/api/v2/alerts  (Debian's Alertmanager has no web UI: JSON API, or amtool)
  Alerts sink     http://127.0.0.1:${RPS_ALERT_SINK_PORT:-9095}/alerts  (received alerts: ${RPS_STATE_DIR}/alerts.jsonl)
  Reports         reports/drift/drift.html  reports/profile.html  reports/compare/report.md
  Forecast page   $forecast_page  (the last 48 h and the next hours with their bands)
  Data commit     $data_commit
  Stop everything with: make down   (data stays; the next make up reuses it)
SUMMARY
