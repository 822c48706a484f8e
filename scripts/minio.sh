#!/usr/bin/env bash
# Local MinIO (S3 API) for datasets, the DVC remote and MLflow artifacts.
# Usage: scripts/minio.sh start|stop|status
#   start   start on 127.0.0.1:$RPS_MINIO_PORT (console $RPS_MINIO_CONSOLE_PORT), data in
#           $RPS_STATE_DIR/minio, wait until ready (60 s), create $RPS_S3_BUCKET and
#           $RPS_MLFLOW_BUCKET if absent. Already running and ready: nothing to do.
#   stop    stop it (TERM, KILL after 15 s). Data stays.
#   status  exit 0 running and ready, 1 running but not ready, 3 stopped.
# Needs scripts/install-minio.sh (binary) and scripts/install-python.sh (boto3 for the buckets).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NAME=minio
LOCAL_ENDPOINT="http://127.0.0.1:$RPS_MINIO_PORT"
DATA_DIR="$RPS_STATE_DIR/minio"
READY_URL="$LOCAL_ENDPOINT/minio/health/ready"
READY_TIMEOUT="${RPS_MINIO_READY_TIMEOUT:-60}"

ensure_buckets() {
  require_venv
  local out
  # The buckets go to this MinIO, whatever RPS_S3_ENDPOINT says.
  if ! out="$(RPS_S3_ENDPOINT="$LOCAL_ENDPOINT" "$(rps_python)" "$ROOT/scripts/s3_buckets.py" "$RPS_S3_BUCKET" "$RPS_MLFLOW_BUCKET")"; then
    die "could not create the buckets at $LOCAL_ENDPOINT (are AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY the ones MinIO was first started with?)"
  fi
  while read -r bucket state; do log "bucket $bucket: $state"; done <<< "$out"
}

start() {
  local bin pid
  warn_default_creds
  if pid="$(pid_of "$NAME")"; then
    running_with "$NAME" "--address 127.0.0.1:$RPS_MINIO_PORT" ||
      die "$NAME is running (pid $pid) with other settings than $RPS_STATE_DIR asks for now (ports changed?): scripts/minio.sh stop, then start"
    if curl -fsS -o /dev/null --max-time 2 "$READY_URL" 2>/dev/null; then
      log "already running (pid $pid) and ready at $LOCAL_ENDPOINT"
      return 0
    fi
    log "running (pid $pid) but not ready yet; waiting"
    wait_http "$READY_URL" "$READY_TIMEOUT" "$NAME" || { show_log_tail "$NAME"; die "MinIO (pid $pid) is not ready; try scripts/minio.sh stop && scripts/minio.sh start"; }
    ensure_buckets
    return 0
  fi
  if port_open "$RPS_MINIO_PORT" || port_open "$RPS_MINIO_CONSOLE_PORT"; then
    die "port $RPS_MINIO_PORT or $RPS_MINIO_CONSOLE_PORT on 127.0.0.1 is taken by a process rps did not start (set RPS_MINIO_PORT / RPS_MINIO_CONSOLE_PORT)"
  fi
  bin="$(command -v minio)" || die "minio not found: run scripts/install-minio.sh"
  require_venv
  mkdir -p "$DATA_DIR"
  # Credentials travel in the environment, never on the command line; --anonymous keeps them
  # (and other sensitive details) out of the startup banner written to the log.
  MINIO_ROOT_USER="$AWS_ACCESS_KEY_ID" MINIO_ROOT_PASSWORD="$AWS_SECRET_ACCESS_KEY" \
    MINIO_UPDATE=off \
    start_bg "$NAME" "$bin" server "$DATA_DIR" --anonymous \
    --address "127.0.0.1:$RPS_MINIO_PORT" --console-address "127.0.0.1:$RPS_MINIO_CONSOLE_PORT"
  if ! wait_http "$READY_URL" "$READY_TIMEOUT" "$NAME"; then
    show_log_tail "$NAME"
    stop_bg "$NAME" || true
    die "MinIO did not become ready (timeout ${READY_TIMEOUT}s; log tail above)"
  fi
  log "ready at $LOCAL_ENDPOINT (console http://127.0.0.1:$RPS_MINIO_CONSOLE_PORT)"
  ensure_buckets
}

status() {
  local pid
  if ! pid="$(pid_of "$NAME")"; then
    echo "minio: stopped"
    return 3
  fi
  if ! running_with "$NAME" "--address 127.0.0.1:$RPS_MINIO_PORT"; then
    echo "minio: running (pid $pid) with other ports than configured now: $(cmdline_of "$NAME")"
    return 1
  fi
  if curl -fsS -o /dev/null --max-time 2 "$READY_URL" 2>/dev/null; then
    echo "minio: running (pid $pid), ready, API $LOCAL_ENDPOINT, console http://127.0.0.1:$RPS_MINIO_CONSOLE_PORT, data $DATA_DIR"
    return 0
  fi
  echo "minio: running (pid $pid) but not ready at $READY_URL (log $(log_file "$NAME"))"
  return 1
}

case "${1:-}" in
  start) lock_service "$NAME" && start ;;
  stop) lock_service "$NAME" && stop_bg "$NAME" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
