#!/usr/bin/env bash
# Local MLflow tracking server + model registry: SQLite backend store under $RPS_STATE_DIR/mlflow,
# artifacts proxied by the server (--serve-artifacts) into s3://$RPS_MLFLOW_BUCKET/artifacts on
# MinIO, so clients need only the tracking URI, never S3 credentials.
# Usage: scripts/mlflow.sh start|stop|status
#   start   start on 127.0.0.1:$RPS_MLFLOW_PORT, wait for /health (120 s; the first start
#           creates the database). Already running and healthy: nothing to do.
#   stop    stop the server and its workers (TERM, KILL after 15 s). Data stays.
#   status  exit 0 running and healthy, 1 running but not healthy, 3 stopped.
# Needs scripts/install-python.sh; artifact uploads need MinIO (scripts/minio.sh start).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NAME=mlflow
DB_DIR="$RPS_STATE_DIR/mlflow"
URL="http://127.0.0.1:$RPS_MLFLOW_PORT"
HEALTH_URL="$URL/health"
HEALTH_TIMEOUT="${RPS_MLFLOW_HEALTH_TIMEOUT:-120}"
# MLflow >= 3.5 answers 403 to unknown Host headers (DNS-rebinding guard). Loopback names only,
# with and without the port; add more with RPS_MLFLOW_ALLOWED_HOSTS (comma-separated).
ALLOWED_HOSTS="127.0.0.1:$RPS_MLFLOW_PORT,localhost:$RPS_MLFLOW_PORT,127.0.0.1,localhost${RPS_MLFLOW_ALLOWED_HOSTS:+,$RPS_MLFLOW_ALLOWED_HOSTS}"

start() {
  local pid
  warn_default_creds
  if pid="$(pid_of "$NAME")"; then
    running_with "$NAME" "--port $RPS_MLFLOW_PORT" ||
      die "$NAME is running (pid $pid) with other settings than $RPS_STATE_DIR asks for now (ports changed?): scripts/mlflow.sh stop, then start"
    if curl -fsS -o /dev/null --max-time 2 "$HEALTH_URL" 2>/dev/null; then
      log "already running (pid $pid) and healthy at $URL"
      return 0
    fi
    log "running (pid $pid) but not healthy yet; waiting"
    wait_http "$HEALTH_URL" "$HEALTH_TIMEOUT" "$NAME" || { show_log_tail "$NAME"; die "MLflow (pid $pid) is not healthy; try scripts/mlflow.sh stop && scripts/mlflow.sh start"; }
    return 0
  fi
  if port_open "$RPS_MLFLOW_PORT"; then
    die "port $RPS_MLFLOW_PORT on 127.0.0.1 is taken by a process rps did not start (set RPS_MLFLOW_PORT)"
  fi
  require_venv
  [[ -x "$RPS_VENV/bin/mlflow" ]] || die "mlflow not installed in $RPS_VENV: run scripts/install-python.sh"
  if ! curl -fsS -o /dev/null --max-time 2 "$RPS_S3_ENDPOINT/minio/health/live" 2>/dev/null; then
    log "warning: no MinIO at $RPS_S3_ENDPOINT; the server starts, but artifact uploads fail until scripts/minio.sh start"
  fi
  mkdir -p "$DB_DIR"
  # The server process gets the S3 endpoint and credentials through its environment (exported by
  # common.sh), never as arguments. One worker: 2-core machine, SQLite backend. No job runner
  # (MLflow >= 3.x starts 1 runner + 7 huey consumers, ~400 MB, for GenAI jobs rps does not use;
  # set MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true to get them back).
  MLFLOW_S3_ENDPOINT_URL="$RPS_S3_ENDPOINT" MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}" \
    start_bg "$NAME" "$RPS_VENV/bin/mlflow" server \
    --backend-store-uri "sqlite:///$DB_DIR/mlflow.db" \
    --artifacts-destination "s3://$RPS_MLFLOW_BUCKET/artifacts" \
    --serve-artifacts \
    --host 127.0.0.1 --port "$RPS_MLFLOW_PORT" \
    --workers 1 \
    --allowed-hosts "$ALLOWED_HOSTS"
  if ! wait_http "$HEALTH_URL" "$HEALTH_TIMEOUT" "$NAME"; then
    show_log_tail "$NAME"
    stop_bg "$NAME" || true
    die "MLflow did not become healthy (timeout ${HEALTH_TIMEOUT}s; log tail above)"
  fi
  log "healthy at $URL (artifacts -> s3://$RPS_MLFLOW_BUCKET/artifacts)"
}

status() {
  local pid
  if ! pid="$(pid_of "$NAME")"; then
    echo "mlflow: stopped"
    return 3
  fi
  if ! running_with "$NAME" "--port $RPS_MLFLOW_PORT"; then
    echo "mlflow: running (pid $pid) with other ports than configured now: $(cmdline_of "$NAME")"
    return 1
  fi
  if curl -fsS -o /dev/null --max-time 2 "$HEALTH_URL" 2>/dev/null; then
    echo "mlflow: running (pid $pid), healthy, UI/API $URL, store $DB_DIR/mlflow.db, artifacts s3://$RPS_MLFLOW_BUCKET/artifacts"
    return 0
  fi
  echo "mlflow: running (pid $pid) but not healthy at $HEALTH_URL (log $(log_file "$NAME"))"
  return 1
}

case "${1:-}" in
  start) lock_service "$NAME" && start ;;
  stop) lock_service "$NAME" && stop_bg "$NAME" ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
