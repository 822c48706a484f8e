#!/usr/bin/env bash
# CI (ci-test.yml): one `airflow dags test` run of rps_pipeline on the replay clock RPS_REPLAY_AT,
# with compare and promote marked successful without running, so the run ends with a new
# @challenger that the separate `make ci-compare` step scores against @champion.
# Run conf: backfill_days = RPS_BACKFILL_DAYS, and retrain = "always": a pull request is judged by
# the model its code trains, so CI never lets a drift gate skip training (the DAG's drift task then
# forces the retrain; triggered_by = "ci" is what the drift report and a promotion record), and
# candidate_alias = RPS_CANDIDATE_ALIAS (pr-<number>, merge-<run id> after a merge): the DAG's train registers the
# model under that alias, so a CI run never moves @challenger or @champion (docs/cicd-workflows.md).
# Env: RPS_REPLAY_AT (required, ISO 8601 with offset), RPS_CANDIDATE_ALIAS (required, not challenger,
# champion or previous-champion), RPS_BACKFILL_DAYS (history for the fetch),
# and the stack's MLFLOW_TRACKING_URI / RPS_S3_* / AWS_* (scripts/stack.sh defaults); in remote mode
# RPS_DVC_S3_ENDPOINT / _BUCKET / RPS_DVC_ACCESS_KEY_ID / RPS_DVC_SECRET_ACCESS_KEY (the shared DVC
# remote the push task pushes the data version to: scripts/dvc-remote.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
: "${RPS_REPLAY_AT:?set RPS_REPLAY_AT to the logical date of the run (ISO 8601 with offset)}"
backfill_days="${RPS_BACKFILL_DAYS:-0}"
[[ "$backfill_days" =~ ^[0-9]+$ ]] || { echo "dag-test-ci: RPS_BACKFILL_DAYS must be a whole number of days, got '$backfill_days'" >&2; exit 2; }
: "${RPS_CANDIDATE_ALIAS:?set RPS_CANDIDATE_ALIAS to the candidate alias of the pull request, e.g. pr-42 (ci-test.yml does)}"
if [[ ! "$RPS_CANDIDATE_ALIAS" =~ ^[A-Za-z0-9_-]{1,100}$ || "$RPS_CANDIDATE_ALIAS" =~ ^(challenger|champion|previous-champion)$ ]]; then
  echo "dag-test-ci: RPS_CANDIDATE_ALIAS='$RPS_CANDIDATE_ALIAS': a CI run registers its model under its own alias (letters, digits, _ and -; not challenger, champion or previous-champion)" >&2
  exit 2
fi
scripts/install-airflow.sh
scripts/dvc-remote.sh
if [[ "${RPS_SHARED_REGISTRY:-}" == true && -z "${RPS_DVC_S3_ENDPOINT:-}" ]]; then
  echo "::warning title=Data version not shared::The candidate goes to the shared registry, but its data version is pushed to this runner's MinIO only (variable RPS_DVC_S3_ENDPOINT or secret RPS_DVC_ACCESS_KEY_ID unset): its rps.data_version will not resolve anywhere else. docs/cicd-delivery.md, Remote mode."
fi
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:${RPS_MLFLOW_PORT}}"
export RPS_PROJECT_DIR="${RPS_PROJECT_DIR:-$ROOT}"
# shellcheck source=scripts/airflow-env.sh
source scripts/airflow-env.sh
export PATH="$RPS_AIRFLOW_VENV/bin:$PATH"
airflow db migrate >/dev/null
conf="{\"backfill_days\": $((10#$backfill_days)), \"retrain\": \"always\", \"triggered_by\": \"ci\", \"candidate_alias\": \"$RPS_CANDIDATE_ALIAS\"}"
exec airflow dags test rps_pipeline "$RPS_REPLAY_AT" --conf "$conf" --mark-success-pattern '^(compare|promote)$'
