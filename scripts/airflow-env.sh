# Sourced, not executed: `source scripts/airflow-env.sh`.
# Exports the Airflow 3 configuration of the local default: SQLite metadata DB under the state dir,
# LocalExecutor (Airflow 3 has no SequentialExecutor; LocalExecutor is the one that runs on SQLite),
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

# 2 cores: one parser process, few concurrent tasks, new DAG files picked up within 30 s.
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW__CORE__PARALLELISM:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-4}"
export AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="${AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES:-1}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL="${AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL:-0}"

# Quiet: no colour codes in captured logs, no uvicorn access log per request, no provider chatter.
export AIRFLOW__LOGGING__COLORED_CONSOLE_LOG="${AIRFLOW__LOGGING__COLORED_CONSOLE_LOG:-False}"
export AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL="${AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL:-WARNING}"
export AIRFLOW__CORE__LAZY_LOAD_PLUGINS="${AIRFLOW__CORE__LAZY_LOAD_PLUGINS:-True}"
export AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS="${AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS:-True}"

unset _rps_root
