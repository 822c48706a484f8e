#!/usr/bin/env bash
# The local storage/tracking stack, no Docker: MinIO (S3) then MLflow (tracking + registry).
# Usage: scripts/stack.sh up|down|status [minio|mlflow ...]
#   up      install what is missing (Python venv, MinIO binary), then start the services in order
#           and print their URLs. Safe to repeat: running services are left alone.
#   down    stop the services in reverse order (data under $RPS_STATE_DIR stays).
#   status  one line per service; exit 0 when all are up, else 3 (stopped) or 1 (unhealthy).
# Services default to all; state in ${RPS_STATE_DIR:-.rps/state} (logs/, run/, minio/, mlflow/).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

ALL=(minio mlflow)
usage() { echo "usage: $0 up|down|status [minio|mlflow ...]" >&2; exit 2; }

action="${1:-}"
[[ -n "$action" ]] || usage
shift
services=()
if (($# == 0)); then
  services=("${ALL[@]}")
else
  # Keep the canonical order (MinIO before MLflow) whatever order the arguments came in.
  for s in "${ALL[@]}"; do
    for arg in "$@"; do [[ "$arg" == "$s" ]] && services+=("$s") && break; done
  done
  for arg in "$@"; do [[ " ${ALL[*]} " == *" $arg "* ]] || { log "unknown service: $arg"; usage; }; done
fi
has() { [[ " ${services[*]} " == *" $1 "* ]]; }

case "$action" in
  up)
    warn_default_creds
    "$ROOT/scripts/install-python.sh"
    if has minio; then "$ROOT/scripts/install-minio.sh"; fi
    for s in "${services[@]}"; do "$ROOT/scripts/$s.sh" start; done
    echo "rps stack up:"
    if has minio; then
      echo "  MinIO API      http://127.0.0.1:$RPS_MINIO_PORT  (buckets $RPS_S3_BUCKET, $RPS_MLFLOW_BUCKET)"
      echo "  MinIO console  http://127.0.0.1:$RPS_MINIO_CONSOLE_PORT  (login: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
    fi
    if has mlflow; then
      echo "  MLflow UI/API  http://127.0.0.1:$RPS_MLFLOW_PORT  (MLFLOW_TRACKING_URI=http://127.0.0.1:$RPS_MLFLOW_PORT)"
    fi
    echo "  logs           $RPS_LOG_DIR"
    ;;
  down)
    for ((i = ${#services[@]} - 1; i >= 0; i--)); do "$ROOT/scripts/${services[i]}.sh" stop; done
    ;;
  status)
    rc=0
    for s in "${services[@]}"; do
      code=0
      "$ROOT/scripts/$s.sh" status || code=$?
      if ((code != 0 && (rc == 0 || code == 1))); then rc=$code; fi
    done
    exit "$rc"
    ;;
  *) usage ;;
esac
