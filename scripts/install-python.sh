#!/usr/bin/env bash
# Python tools of the local stack (MLflow, DVC + S3, boto3) in one virtualenv, ${RPS_VENV:-.rps/venv},
# pinned in scripts/requirements-stack.txt. Skipped (in well under a second) when the requirements
# file and the Python are unchanged since the last successful install (stamp file inside the venv).
# Usage: scripts/install-python.sh [--force]
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REQ="$ROOT/scripts/requirements-stack.txt"
PYTHON="${RPS_PYTHON:-python3}"
stamp="$RPS_VENV/.rps-requirements.stamp"
force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "usage: $0 [--force]" ;;
esac

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; MLflow 3 needs Python >= 3.10 (set RPS_PYTHON)"
py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' ||
  die "Python $py_version is too old for MLflow 3 (needs >= 3.10; set RPS_PYTHON)"
want="python-$py_version $(sha256sum "$REQ" | cut -d' ' -f1)"

is_current() {
  [[ $force == 0 && -x "$RPS_VENV/bin/mlflow" && -x "$RPS_VENV/bin/dvc" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]
}
if is_current; then exit 0; fi

# One installer at a time per venv (make up and make test may race).
mkdir -p "$(dirname "$RPS_VENV")"
exec 9> "$RPS_VENV.lock"
flock 9
if is_current; then exit 0; fi   # another run finished it while we waited

# A venv made by another Python cannot be upgraded in place reliably: start over.
if [[ -f "$stamp" && "$(cut -d' ' -f1 "$stamp")" != "python-$py_version" ]]; then
  log "Python changed, recreating $RPS_VENV"
  rm -rf "$RPS_VENV"
fi
if [[ ! -x "$RPS_VENV/bin/python" ]]; then
  log "creating virtualenv $RPS_VENV (Python $py_version)"
  "$PYTHON" -m venv "$RPS_VENV"
fi

log "pip install -r scripts/requirements-stack.txt (first time: a few minutes)"
rm -f "$stamp"
"$RPS_VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$REQ" >&2
"$RPS_VENV/bin/python" -m pip check >&2
# Fail here, not at the first start, if an entry point or the S3 plugins are missing.
"$RPS_VENV/bin/python" -c 'import boto3, dvc_s3, mlflow.server' >&2
echo "$want" > "$stamp"
log "$("$RPS_VENV/bin/mlflow" --version 2>/dev/null), dvc $("$RPS_VENV/bin/dvc" --version 2>/dev/null), boto3 $("$RPS_VENV/bin/python" -c 'import boto3; print(boto3.__version__)') in $RPS_VENV"
