#!/usr/bin/env bash
# Airflow in its own virtualenv (${RPS_AIRFLOW_VENV:-.rps/venv-airflow}), so its pins never meet
# MLflow's or DVC's. Skipped when the requirements file and the Python are unchanged since the
# last successful install (stamp file inside the venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RPS_AIRFLOW_VENV:-$ROOT/.rps/venv-airflow}"
REQ="$ROOT/scripts/requirements-airflow.txt"
PYTHON="${RPS_PYTHON:-python3}"
stamp="$VENV/.rps-requirements.stamp"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "install-airflow: $PYTHON not found; Airflow 3.3 needs Python 3.10-3.14 (set RPS_PYTHON)" >&2
  exit 1
fi
py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 14) else 1)'; then
  echo "install-airflow: Python $py_version is not supported by Airflow 3.3 (needs 3.10-3.14; set RPS_PYTHON)" >&2
  exit 1
fi
want="python-$py_version $(sha256sum "$REQ" | cut -d' ' -f1)"

if [[ -x "$VENV/bin/airflow" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

# A venv made by another Python cannot be upgraded in place reliably: start over.
if [[ -f "$stamp" && "$(cut -d' ' -f1 "$stamp")" != "python-$py_version" ]]; then
  echo "install-airflow: Python changed, recreating $VENV" >&2
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "install-airflow: creating virtualenv $VENV (Python $py_version)" >&2
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi

echo "install-airflow: pip install -r scripts/requirements-airflow.txt" >&2
rm -f "$stamp"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$REQ" >&2
"$VENV/bin/python" -m pip check >&2
# Fail here, not at the first DAG run, if the operator the DAG uses is not importable.
"$VENV/bin/python" -c 'import airflow.sdk, airflow.providers.standard.operators.bash' >&2
echo "$want" > "$stamp"
echo "install-airflow: $("$VENV/bin/airflow" version 2>/dev/null | tail -n 1) in $VENV" >&2
