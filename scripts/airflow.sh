#!/usr/bin/env bash
# Local Airflow 3: api-server, scheduler and dag-processor in the background, loopback only.
# Usage: scripts/airflow.sh start|stop|status|trigger-and-wait [LOGICAL_DATE]
#        scripts/airflow.sh start-worker NAME QUEUES | stop-worker NAME      (CeleryExecutor only)
#   start             install the Airflow venv if needed (scripts/install-airflow.sh), `airflow db
#                     migrate`, start the three services, wait until the scheduler and the DAG
#                     processor report healthy. Already running and healthy: nothing to do. With
#                     AIRFLOW__CORE__EXECUTOR=CeleryExecutor it first starts the broker, a Redis on
#                     127.0.0.1:$RPS_REDIS_PORT (scripts/install-redis.sh), and runs no task itself.
#   start-worker      a Celery worker NAME consuming the comma-separated QUEUES, one task at a time,
#                     in the caller's environment: its own RPS_PROJECT_DIR (a separate checkout) is
#                     where its tasks run; waits until the worker answers a ping.
#   stop              stop the workers, then all three (TERM to each process group; KILL after
#                     RPS_AIRFLOW_STOP_TIMEOUT, default 30 s: a scheduler waits for a running task
#                     before it exits), then Redis.
#   status            one line per service; exit 0 all up and healthy, 3 all stopped, else 1.
#   trigger-and-wait  unpause rps_pipeline, trigger a run with an explicit logical date (argument
#                     or RPS_LOGICAL_DATE, ISO 8601; default: the current UTC hour), print a line per
#                     task state change, exit 0 on success; on failure print the failed task's log
#                     tail and exit 1. With RPS_BACKFILL_DAYS=N the run's fetch also gets N days of
#                     history (run conf {"backfill_days": N}; 365 for a first run). The DAG stays
#                     unpaused (hourly runs) unless RPS_AIRFLOW_PAUSE_AFTER=1. Needs `start`.
# Settings: scripts/airflow-env.sh (RPS_AIRFLOW_PORT, default 8080; AIRFLOW_HOME under
# $RPS_STATE_DIR/airflow). Logs: $RPS_STATE_DIR/logs/airflow-*.log; pids: $RPS_STATE_DIR/run/.
# The tasks run in the services' environment: RPS_PROJECT_DIR (default: this repository; `rps push`
# commits dvc.lock there), RPS_SOURCE, RPS_S3_*, AWS_*, MLFLOW_TRACKING_URI (default: the local stack).
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=scripts/airflow-env.sh
source "$ROOT/scripts/airflow-env.sh"

DAG_ID="${RPS_DAG_ID:-rps_pipeline}"
SERVICES=(airflow-api-server airflow-scheduler airflow-dag-processor)
AIRFLOW="$RPS_AIRFLOW_VENV/bin/airflow"
PY="$RPS_AIRFLOW_VENV/bin/python"
BASE_URL="$AIRFLOW__API__BASE_URL"
HEALTH_URL="$BASE_URL/api/v2/monitor/health"
HEALTH_TIMEOUT="${RPS_AIRFLOW_HEALTH_TIMEOUT:-120}"
# The tasks call MLflow; default to the local stack's server, as rps does by hand.
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:$RPS_MLFLOW_PORT}"

# healthy: the metadatabase, the scheduler and the DAG processor all report healthy.
healthy() {
  local body
  body="$(curl -fsS --max-time 3 "$HEALTH_URL" 2>/dev/null)" || return 1
  "$PY" -c '
import json, sys
h = json.loads(sys.argv[1])
ok = all((h.get(k) or {}).get("status") == "healthy" for k in ("metadatabase", "scheduler", "dag_processor"))
sys.exit(0 if ok else 1)' "$body"
}

all_running() {
  local s
  for s in "${SERVICES[@]}"; do is_running "$s" || return 1; done
}

celery() { [[ "$AIRFLOW__CORE__EXECUTOR" == CeleryExecutor ]]; }

start_redis() {
  "$ROOT/scripts/install-redis.sh"
  if is_running redis && running_with redis "--port $RPS_REDIS_PORT"; then return 0; fi
  if port_open "$RPS_REDIS_PORT"; then die "port $RPS_REDIS_PORT on 127.0.0.1 is taken by a process rps did not start (set RPS_REDIS_PORT)"; fi
  mkdir -p "$RPS_STATE_DIR/redis"
  # A broker only: no persistence (queued task messages are re-sent by the scheduler after a restart).
  start_bg redis redis-server --port "$RPS_REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$RPS_STATE_DIR/redis" --protected-mode yes || die "redis did not start"
  local deadline=$((SECONDS + 20))
  until port_open "$RPS_REDIS_PORT"; do
    if ! is_running redis || ((SECONDS >= deadline)); then show_log_tail redis; die "redis not listening on $RPS_REDIS_PORT"; fi
    sleep 0.2
  done
}

worker_names() {
  local f
  for f in "$RPS_RUN_DIR"/airflow-worker-*.pid; do
    [[ -e "$f" ]] || continue
    f="${f##*/airflow-worker-}"
    echo "${f%.pid}"
  done
}

start_worker() {
  local name="${1:-}" queues="${2:-}"
  [[ "$name" =~ ^[a-z0-9-]{1,40}$ ]] || die "worker NAME must be 1-40 of [a-z0-9-], got '$name'"
  [[ "$queues" =~ ^[A-Za-z0-9_,-]{1,200}$ ]] || die "QUEUES must be comma-separated queue names, got '$queues'"
  celery || die "start-worker needs AIRFLOW__CORE__EXECUTOR=CeleryExecutor"
  if ! all_running || ! healthy; then die "Airflow is not running and healthy: scripts/airflow.sh start"; fi
  [[ -d "${RPS_PROJECT_DIR:-}" ]] || die "set RPS_PROJECT_DIR to the worker's own project checkout"
  # --skip-serve-logs: no log server on 8793 (two workers on one host would collide); task logs go to
  # the shared AIRFLOW_HOME here, and to remote logging on several hosts (docs/DEPLOY.md).
  start_bg "airflow-worker-$name" "$AIRFLOW" celery worker --queues "$queues" \
    --concurrency "$AIRFLOW__CELERY__WORKER_CONCURRENCY" --celery-hostname "$name@%h" --skip-serve-logs \
    || die "worker $name did not start"
  local deadline=$((SECONDS + HEALTH_TIMEOUT))
  until "$PY" -m celery --app airflow.providers.celery.executors.celery_executor.app inspect ping \
      -d "$name@$(hostname)" --timeout 2 >/dev/null 2>&1; do
    if ! is_running "airflow-worker-$name" || ((SECONDS >= deadline)); then
      show_log_tail "airflow-worker-$name"
      stop_bg "airflow-worker-$name"
      die "worker $name did not answer a ping within ${HEALTH_TIMEOUT}s (log tail above)"
    fi
    sleep 1
  done
  log "worker $name consumes queue(s) $queues; tasks run in $RPS_PROJECT_DIR"
}

start() {
  local pid
  "$ROOT/scripts/install-airflow.sh"
  if celery; then start_redis; fi
  # (Airflow rewrites its process titles, so the port is checked through the health URL.)
  if all_running && healthy; then
    log "already running and healthy at $BASE_URL"
    return 0
  fi
  # A partial set (one died), or services not healthy at this port: start over cleanly.
  for s in "${SERVICES[@]}"; do
    if pid="$(pid_of "$s")"; then
      log "$s runs (pid $pid) but Airflow is not healthy at $BASE_URL; restarting all"
      stop_all
      break
    fi
  done
  if port_open "$AIRFLOW__API__PORT"; then
    die "port $AIRFLOW__API__PORT on 127.0.0.1 is taken by a process rps did not start (set RPS_AIRFLOW_PORT)"
  fi
  mkdir -p "$AIRFLOW_HOME" "$RPS_LOG_DIR"
  log "airflow db migrate ($AIRFLOW__DATABASE__SQL_ALCHEMY_CONN)"
  if ! "$AIRFLOW" db migrate >> "$(log_file airflow-migrate)" 2>&1; then
    show_log_tail airflow-migrate
    die "airflow db migrate failed (log tail above)"
  fi
  start_bg airflow-api-server "$AIRFLOW" api-server --host 127.0.0.1 --port "$AIRFLOW__API__PORT"
  # --skip-serve-logs: no log server on 0.0.0.0:8793; the api-server reads the local log files.
  start_bg airflow-scheduler "$AIRFLOW" scheduler --skip-serve-logs
  start_bg airflow-dag-processor "$AIRFLOW" dag-processor
  local deadline=$((SECONDS + HEALTH_TIMEOUT))
  until healthy; do
    for s in "${SERVICES[@]}"; do
      if ! is_running "$s"; then
        show_log_tail "$s"
        stop_all
        die "$s exited during start-up (log tail above)"
      fi
    done
    if ((SECONDS >= deadline)); then
      for s in "${SERVICES[@]}"; do show_log_tail "$s" 20; done
      stop_all
      die "Airflow not healthy after ${HEALTH_TIMEOUT}s at $HEALTH_URL"
    fi
    sleep 0.5
  done
  log "healthy at $BASE_URL (UI and REST API; DAGs from $AIRFLOW__CORE__DAGS_FOLDER)"
}

stop_all() {
  local i w
  # Workers first (a running task finishes or is handed back), then the scheduler (no new task
  # starts), then the parser, then the API the tasks report to, then the broker.
  for w in $(worker_names); do RPS_STOP_TIMEOUT="${RPS_AIRFLOW_STOP_TIMEOUT:-30}" stop_bg "airflow-worker-$w"; done
  # Scheduler first (no new task starts), then the parser, then the API the tasks report to.
  for i in 1 2 0; do
    RPS_STOP_TIMEOUT="${RPS_AIRFLOW_STOP_TIMEOUT:-30}" stop_bg "${SERVICES[i]}"
  done
  if is_running redis; then stop_bg redis; fi
}

status() {
  local s pid up=0
  for s in "${SERVICES[@]}"; do
    if pid="$(pid_of "$s")"; then
      echo "$s: running (pid $pid, log $(log_file "$s"))"
      up=$((up + 1))
    else
      echo "$s: stopped"
    fi
  done
  if ((up == 0)); then return 3; fi
  if ((up == ${#SERVICES[@]})) && healthy; then
    echo "airflow: healthy at $BASE_URL"
    return 0
  fi
  echo "airflow: not healthy ($HEALTH_URL)"
  return 1
}

trigger_and_wait() {
  if ! all_running || ! healthy; then die "Airflow is not running and healthy: scripts/airflow.sh start"; fi
  "$PY" "$ROOT/scripts/airflow_trigger_wait.py" "$DAG_ID" "$@"
}

case "${1:-}" in
  start) lock_service airflow && start ;;
  stop) lock_service airflow && stop_all ;;
  status) status ;;
  trigger-and-wait) shift && trigger_and_wait "$@" ;;
  start-worker) shift && start_worker "$@" ;;
  stop-worker) [[ "${2:-}" =~ ^[a-z0-9-]{1,40}$ ]] || die "usage: $0 stop-worker NAME"; stop_bg "airflow-worker-$2" ;;
  *) echo "usage: $0 start|stop|status|trigger-and-wait [LOGICAL_DATE] | start-worker NAME QUEUES | stop-worker NAME" >&2; exit 2 ;;
esac
