# shellcheck shell=bash
# Sourced, not executed: `source scripts/airflow-env.sh`.
# Exports the Airflow 3 configuration of the local default: SQLite metadata DB under the state dir,
# LocalExecutor (the only executor Airflow 3 core ships; it runs on SQLite; with
# AIRFLOW__CORE__EXECUTOR=CeleryExecutor the broker and result backend are a local Redis on
# RPS_REDIS_PORT, default 6379: scripts/airflow.sh start runs it, start-worker adds workers),
# simple auth manager with everyone admin, api-server on 127.0.0.1 only, few processes for 2 cores.
# Every value is a default: a variable already set in the environment wins.
_rps_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export RPS_AIRFLOW_VENV="${RPS_AIRFLOW_VENV:-$_rps_root/.rps/venv-airflow}"
export RPS_STATE_DIR="${RPS_STATE_DIR:-$_rps_root/.rps/state}"
export RPS_AIRFLOW_PORT="${RPS_AIRFLOW_PORT:-8080}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$RPS_STATE_DIR/airflow}"

export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$_rps_root/airflow_dags}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export RPS_REDIS_PORT="${RPS_REDIS_PORT:-6379}"
if [[ "$AIRFLOW__CORE__EXECUTOR" == CeleryExecutor ]]; then
  export AIRFLOW__CELERY__BROKER_URL="${AIRFLOW__CELERY__BROKER_URL:-redis://127.0.0.1:$RPS_REDIS_PORT/0}"
  # Results in their own SQLite file beside the metadata DB (the provider's recommended database
  # backend; a file of its own so the workers never lock the metadata DB).
  export AIRFLOW__CELERY__RESULT_BACKEND="${AIRFLOW__CELERY__RESULT_BACKEND:-db+sqlite:///$AIRFLOW_HOME/celery-results.db}"
  # One task at a time per worker (2 cores); a task is acknowledged when it ends, so a worker that
  # dies mid-task hands it back to the broker.
  export AIRFLOW__CELERY__WORKER_CONCURRENCY="${AIRFLOW__CELERY__WORKER_CONCURRENCY:-1}"
fi
export AIRFLOW__CORE__AUTH_MANAGER="${AIRFLOW__CORE__AUTH_MANAGER:-airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS:-True}"

# api-server: loopback only. Task runners reach the Execution API through execution_api_server_url,
# whose default (http://localhost:8080/execution/) ignores [api] port, so it follows RPS_AIRFLOW_PORT.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-$RPS_AIRFLOW_PORT}"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://127.0.0.1:$AIRFLOW__API__PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://127.0.0.1:$AIRFLOW__API__PORT/execution/}"
export AIRFLOW__API__WORKERS="${AIRFLOW__API__WORKERS:-1}"
export AIRFLOW__API__EXPOSE_CONFIG="${AIRFLOW__API__EXPOSE_CONFIG:-False}"

# 2 cores. LocalExecutor forks `parallelism` worker processes up front, so keep it at the core count;
# one parser process; new DAG files picked up within 30 s.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-2}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-2}"
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL="${AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL:-0}"
# The task supervisor's wait loop blocks up to [workers] min_heartbeat_interval (default 5 s): a failed
# or skipped task took 5.2-5.5 s here instead of 0.2-1.3 s with 1 s. Cost: one heartbeat call per
# second per running task.
export AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL="${AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL:-1}"

# Quiet: no colour codes in captured logs, no access-log line per API request, and no warnings that
# land on stdout (they would corrupt `airflow ... -o json`): graphviz is only for `dags show`, the
# starlette one comes from Airflow's own import of its test client.
export AIRFLOW__LOGGING__COLORED_CONSOLE_LOG="${AIRFLOW__LOGGING__COLORED_CONSOLE_LOG:-False}"
export AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL="${AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL:-WARNING}"
export AIRFLOW__LOGGING__NAMESPACE_LEVELS="${AIRFLOW__LOGGING__NAMESPACE_LEVELS:-http.access=WARNING}"
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore:Could not import graphviz,ignore:Using \`httpx\` with \`starlette.testclient\` is deprecated}"

# The JWT secret Airflow generates into airflow.cfg is 24 characters; PyJWT warns on every token
# ("The HMAC key is 24 bytes long, which is below the minimum recommended length of 64 bytes for
# SHA512"). Keep a 64-byte one next to the DB, shared by api-server, scheduler and dag-processor.
if [[ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ]]; then
  if [[ ! -s "$AIRFLOW_HOME/jwt_secret" ]]; then
    mkdir -p "$AIRFLOW_HOME"
    (umask 077 && head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$AIRFLOW_HOME/jwt_secret")
  fi
  AIRFLOW__API_AUTH__JWT_SECRET="$(cat "$AIRFLOW_HOME/jwt_secret")"
  export AIRFLOW__API_AUTH__JWT_SECRET
fi

unset _rps_root
