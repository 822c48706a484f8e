#!/usr/bin/env bash
# One-shot service of docker-compose.yml: the first `docker compose up` trains a model without
# manual steps. When rps_pipeline has no successful run yet, trigger one with a year of history
# (RPS_FIRST_RUN_BACKFILL_DAYS, default 365) and follow it to the end (scripts/airflow_trigger_wait.py,
# the same helper as `scripts/airflow.sh trigger-and-wait`); it unpauses the DAG, so the hourly
# runs follow. Otherwise nothing to do. Exit status: the run's.
set -euo pipefail
base="${AIRFLOW__API__BASE_URL:?}"
dag=rps_pipeline
succeeded="$(python3 - "$base" "$dag" <<'PY'
import json, sys, urllib.request
base, dag = sys.argv[1].rstrip("/"), sys.argv[2]
token = json.load(urllib.request.urlopen(urllib.request.Request(
    f"{base}/auth/token", data=b'{"username": "rps", "password": "rps"}',
    headers={"Content-Type": "application/json"}), timeout=30))["access_token"]
request = urllib.request.Request(f"{base}/api/v2/dags/{dag}/dagRuns?state=success&limit=1",
                                 headers={"Authorization": f"Bearer {token}"})
try:
    print(json.load(urllib.request.urlopen(request, timeout=30))["total_entries"])
except urllib.error.HTTPError as error:
    print(0 if error.code == 404 else sys.exit(f"first-run: {error}"))
PY
)"
if [[ "$succeeded" != 0 ]]; then
  echo "first-run: $dag already has a successful run; nothing to do"
  exit 0
fi
echo "first-run: no successful run of $dag yet: triggering one with ${RPS_FIRST_RUN_BACKFILL_DAYS:-365} days of history"
RPS_BACKFILL_DAYS="${RPS_FIRST_RUN_BACKFILL_DAYS:-365}" exec python3 /etc/rps/scripts/airflow_trigger_wait.py "$dag"
