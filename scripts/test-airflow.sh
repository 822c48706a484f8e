#!/usr/bin/env bash
# The Airflow DAG tests (airflow_dags/tests, pytest in the Airflow venv):
#   structure  DagBag integrity, exact dependencies, retries, every rps command/flag exists, ruff AIR3
#   integration `airflow dags test rps_pipeline` for real on a scratch project with a real MinIO and
#              MLflow (success, losing challenger, failed gate notifying rps alerts-sink),
#              scripts/airflow.sh start / trigger-and-wait / stop with the three services, and the
#              distributed run: CeleryExecutor, a Redis broker and two workers with separate checkouts
# Usage: scripts/test-airflow.sh [PYTEST ARGS...]   e.g. -m "not integration" for the fast part only.
# Installs what is missing first: the Airflow venv + test tools, the stack venv (MLflow, DVC), MinIO,
# Redis (Debian's redis-server), and the built rps CLI. Every service is started on free loopback ports under a temp dir and
# stopped by the tests. Exits non-zero when a test fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${RPS_AIRFLOW_VENV:-$ROOT/.rps/venv-airflow}"
REQ="$ROOT/scripts/requirements-airflow-test.txt"

"$ROOT/scripts/install-node-deps.sh"
"$ROOT/scripts/install-python.sh"
"$ROOT/scripts/install-minio.sh"
"$ROOT/scripts/install-airflow.sh"
"$ROOT/scripts/install-redis.sh"
# pytest + ruff in the Airflow venv, skipped while the file and the Airflow install are unchanged.
stamp="$VENV/.rps-test-requirements.stamp"
want="$(sha256sum "$REQ" | cut -d' ' -f1) $(cat "$VENV/.rps-requirements.stamp")"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "test-airflow: pip install -r scripts/requirements-airflow-test.txt" >&2
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$REQ" >&2
  "$VENV/bin/python" -m pip check >&2
  echo "$want" > "$stamp"
fi

echo "== airflow DAG tests (pytest)" >&2
cd "$ROOT/airflow_dags"
exec "$VENV/bin/python" -m pytest "$@"
