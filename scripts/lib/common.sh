# shellcheck shell=bash
# Sourced, not executed: `source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"`.
# Shared settings and helpers of the local stack scripts (MinIO, MLflow, DVC), no Docker.
#
# Every setting below is a default: a variable already set in the environment wins, then a value
# from the git-ignored .env file (RPS_ENV_FILE, default $ROOT/.env; only variables not already set
# are taken from it), then the local default. State lives under $RPS_STATE_DIR (git-ignored .rps/):
#   $RPS_STATE_DIR/logs/<name>.log   output of each background service
#   $RPS_STATE_DIR/run/<name>.pid    "<pid> <start-time>" of each background service
# Messages go to stderr; nothing here ever prints a secret.

if [[ -n "${_RPS_COMMON_LOADED:-}" ]]; then return 0; fi
_RPS_COMMON_LOADED=1

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RPS_LOG_PREFIX="${RPS_LOG_PREFIX:-rps $(basename "${BASH_SOURCE[-1]:-$0}" .sh)}"

log() { printf '%s: %s\n' "$RPS_LOG_PREFIX" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# KEY=VALUE lines of the .env file, for variables not set yet. No shell expansion, no command
# substitution: the file is data, not a script. Surrounding single or double quotes are removed.
_rps_load_env_file() {
  local file="$1" line key value
  [[ -f "$file" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key="${BASH_REMATCH[2]}"
    value="${BASH_REMATCH[3]}"
    if [[ "$value" =~ ^\"(.*)\"[[:space:]]*$ || "$value" =~ ^\'(.*)\'[[:space:]]*$ ]]; then
      value="${BASH_REMATCH[1]}"
    else
      value="${value%%[[:space:]]#*}"                      # trailing comment
      value="${value%"${value##*[![:space:]]}"}"           # trailing blanks
    fi
    if [[ -z "${!key+x}" ]]; then
      printf -v "$key" '%s' "$value"
      export "${key?}"
    fi
  done < "$file"
}
_rps_load_env_file "${RPS_ENV_FILE:-$ROOT/.env}"

export RPS_STATE_DIR="${RPS_STATE_DIR:-$ROOT/.rps/state}"
export RPS_LOG_DIR="$RPS_STATE_DIR/logs"
export RPS_RUN_DIR="$RPS_STATE_DIR/run"
export RPS_VENV="${RPS_VENV:-$ROOT/.rps/venv}"
export RPS_TOOLS_BIN="${RPS_TOOLS_BIN:-$ROOT/.rps/tools/bin}"
export PATH="$RPS_TOOLS_BIN:$PATH"

export RPS_MINIO_PORT="${RPS_MINIO_PORT:-9000}"
export RPS_MINIO_CONSOLE_PORT="${RPS_MINIO_CONSOLE_PORT:-9001}"
export RPS_MLFLOW_PORT="${RPS_MLFLOW_PORT:-5000}"
export RPS_S3_ENDPOINT="${RPS_S3_ENDPOINT:-http://127.0.0.1:$RPS_MINIO_PORT}"
export RPS_S3_BUCKET="${RPS_S3_BUCKET:-rps-data}"          # datasets + the DVC remote (prefix dvc/)
export RPS_MLFLOW_BUCKET="${RPS_MLFLOW_BUCKET:-rps-mlflow}" # MLflow artifacts (prefix artifacts/)
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export DVC_NO_ANALYTICS=1

# Local-only credentials: fine on 127.0.0.1, never anywhere else. Scripts that hand them to a
# service or a tool call warn_default_creds, which warns once per process tree (the marker is
# exported so that scripts called by scripts stay quiet).
_RPS_DEFAULT_ACCESS_KEY=rps-local
_RPS_DEFAULT_SECRET_KEY=rps-local-secret-change-me
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-$_RPS_DEFAULT_ACCESS_KEY}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-$_RPS_DEFAULT_SECRET_KEY}"
warn_default_creds() {
  [[ -z "${_RPS_DEFAULTS_WARNED:-}" ]] || return 0
  if [[ "$AWS_ACCESS_KEY_ID" == "$_RPS_DEFAULT_ACCESS_KEY" || "$AWS_SECRET_ACCESS_KEY" == "$_RPS_DEFAULT_SECRET_KEY" ]]; then
    log "warning: using the built-in local-only S3 credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); set your own in .env for anything but this machine"
    export _RPS_DEFAULTS_WARNED=1
  fi
}

# random_secret: 64 hex characters from the kernel's CSPRNG (no openssl needed).
random_secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# ensure_alert_sink_token: export RPS_ALERT_SINK_TOKEN, the bearer token `rps alerts-sink` requires
# and Alertmanager sends, and mirror it into $RPS_ALERT_SINK_TOKEN_FILE ($RPS_STATE_DIR/secrets/
# alert-sink-token, mode 600; Alertmanager's credentials_file). From the environment or .env
# (scripts/env-file.sh writes one); without either, the file's token, generated once: so the sink
# (scripts/serve.sh) and Alertmanager (scripts/monitoring.sh) agree even without a .env.
ensure_alert_sink_token() {
  local file="$RPS_STATE_DIR/secrets/alert-sink-token" tmp
  (umask 077 && mkdir -p "${file%/*}")
  tmp="$(umask 077 && mktemp "${file%/*}/.alert-sink-token.XXXXXX")"
  if [[ -n "${RPS_ALERT_SINK_TOKEN:-}" ]]; then
    if [[ ! -f "$file" || "$(cat "$file")" != "$RPS_ALERT_SINK_TOKEN" ]]; then
      printf '%s' "$RPS_ALERT_SINK_TOKEN" > "$tmp"
      mv -f "$tmp" "$file"
    fi
  else
    random_secret > "$tmp"
    # ln fails when the file exists: concurrent first starts end up with one token, not two.
    ln "$tmp" "$file" 2>/dev/null || true
    RPS_ALERT_SINK_TOKEN="$(cat "$file")"
  fi
  rm -f "$tmp"
  export RPS_ALERT_SINK_TOKEN RPS_ALERT_SINK_TOKEN_FILE="$file"
}

# machine_lock NAME: take an exclusive lock on fd 9 shared by every checkout on this machine (the
# apt-get installs: one dpkg per machine). Root only. The lock file sits in /run/rps, a directory only
# root can write (checked), never at a fixed /tmp path where anyone could plant a symlink that a
# root `exec 9>` would follow and truncate.
machine_lock() {
  local dir=/run/rps
  [[ -e "$dir" || -L "$dir" ]] || mkdir -m 700 "$dir" 2>/dev/null || true
  [[ -d "$dir" && ! -L "$dir" && -O "$dir" ]] || die "$dir is not a directory owned by $(id -un): refusing to lock there"
  [[ "$(stat -c %a "$dir")" == 700 ]] || chmod 700 "$dir"
  exec 9> "$dir/$1.lock"
  flock 9
}

# Tool paths: the project's own binaries first.
rps_python() { printf '%s\n' "$RPS_VENV/bin/python"; }
require_venv() {
  [[ -x "$RPS_VENV/bin/python" ]] || die "no Python environment at $RPS_VENV: run scripts/install-python.sh"
}

# wait_http URL TIMEOUT_S [NAME]: poll URL until it answers 2xx. With NAME, give up as soon as that
# background service has exited. Returns 1 on timeout or death.
wait_http() {
  local url="$1" timeout="$2" name="${3:-}" deadline
  deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
    if [[ -n "$name" ]] && ! is_running "$name"; then
      log "$name exited while waiting for $url"
      return 1
    fi
    sleep 0.5
  done
  log "timed out after ${timeout}s waiting for $url"
  return 1
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_rps_pid_file() { printf '%s/%s.pid\n' "$RPS_RUN_DIR" "$1"; }
_rps_log_file() { printf '%s/%s.log\n' "$RPS_LOG_DIR" "$1"; }
# Start time of a process (clock ticks since boot, /proc/PID/stat field 22): with the pid it
# identifies one process even after the pid is reused (e.g. after a reboot left a stale pid file).
_rps_start_time() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"              # fields after "pid (comm) "; comm may hold spaces
  # shellcheck disable=SC2086
  set -- $stat
  [[ "$1" != Z ]] || return 1      # a zombie is dead
  printf '%s\n' "${20}"
}
# pid_of NAME: the recorded pid if that process is still alive, else nothing (and status 1).
pid_of() {
  local file pid started now
  file="$(_rps_pid_file "$1")"
  [[ -f "$file" ]] || return 1
  read -r pid started < "$file" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  now="$(_rps_start_time "$pid")" || return 1
  [[ -z "${started:-}" || "$now" == "$started" ]] || return 1
  printf '%s\n' "$pid"
}
is_running() { pid_of "$1" >/dev/null; }
# cmdline_of NAME: the running service's command line, arguments separated by single spaces.
cmdline_of() {
  local pid
  pid="$(pid_of "$1")" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline"
}
# running_with NAME TEXT: NAME runs and its command line contains TEXT (e.g. its listen address),
# i.e. it is the instance the current settings describe, not one started with other ports.
running_with() {
  local cmd
  cmd="$(cmdline_of "$1")" || return 1
  [[ " $cmd " == *" $2 "* ]]
}
log_file() { _rps_log_file "$1"; }

# start_bg NAME CMD...: run CMD detached (own session, stdin closed, output appended to the log),
# record its pid. Refuses (status 1) when NAME is already running. Environment is inherited, so
# secrets are passed as variables, never as arguments.
start_bg() {
  local name="$1" pid_file log_file pid started i
  shift
  pid_file="$(_rps_pid_file "$name")"
  log_file="$(_rps_log_file "$name")"
  if pid="$(pid_of "$name")"; then
    log "$name is already running (pid $pid); not starting another"
    return 1
  fi
  mkdir -p "$RPS_RUN_DIR" "$RPS_LOG_DIR"
  rm -f "$pid_file"
  printf '==== %s start %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$*" >> "$log_file"
  # The child writes its own pid after setsid (which may fork) and before exec (which keeps it).
  # It must not inherit the lock descriptors (8, 9) of lock_service / the installers.
  # shellcheck disable=SC2016
  nohup setsid bash -c 'echo "$$" > "$0.new" && mv -f "$0.new" "$0" && exec "$@"' \
    "$pid_file" "$@" >> "$log_file" 2>&1 < /dev/null 8>&- 9>&- &
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pid_file" ]] && break
    sleep 0.05
  done
  [[ -s "$pid_file" ]] || { log "$name did not start (see $log_file)"; return 1; }
  read -r pid < "$pid_file"
  started="$(_rps_start_time "$pid")" || { log "$name exited at once (see $log_file)"; rm -f "$pid_file"; return 1; }
  printf '%s %s\n' "$pid" "$started" > "$pid_file"
  log "$name started (pid $pid, log $log_file)"
}

# _rps_alive NAME TARGET: the service, or (TARGET -PGID) any non-zombie member of its group, lives.
_rps_alive() {
  is_running "$1" && return 0
  # ps state column, not pgrep: pgrep also lists zombies (exited, not yet reaped).
  # shellcheck disable=SC2009
  [[ "$2" == -* ]] && ps -o stat= -g "${2#-}" 2>/dev/null | grep -qv '^Z'
}

# stop_bg NAME: TERM its whole process group (servers fork workers), wait up to
# RPS_STOP_TIMEOUT (15) seconds, then KILL. Removes the pid file. Stopping a stopped service is fine.
stop_bg() {
  local name="$1" pid_file pid target deadline
  pid_file="$(_rps_pid_file "$name")"
  if ! pid="$(pid_of "$name")"; then
    rm -f "$pid_file"
    log "$name is not running"
    return 0
  fi
  # start_bg made it a session (and process group) leader; signal the group only if that still holds.
  target="$pid"
  if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" == "$pid" ]]; then target="-$pid"; fi
  log "stopping $name (pid $pid)"
  kill -TERM -- "$target" 2>/dev/null || true
  # Wait for the leader and, for a group, every member (workers finish their shutdown too).
  deadline=$((SECONDS + ${RPS_STOP_TIMEOUT:-15}))
  while _rps_alive "$name" "$target" && ((SECONDS < deadline)); do sleep 0.2; done
  if _rps_alive "$name" "$target"; then
    log "$name did not exit within ${RPS_STOP_TIMEOUT:-15}s; sending KILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pid_file"
  log "$name stopped"
}

# lock_service NAME: hold an exclusive lock on NAME until this script exits, so that two
# concurrent `start`s (make up in two shells) cannot both launch it. Uses file descriptor 8.
lock_service() {
  mkdir -p "$RPS_RUN_DIR"
  exec 8> "$RPS_RUN_DIR/$1.lock"
  flock -w "${RPS_LOCK_TIMEOUT:-300}" 8 || die "another start/stop of $1 holds $RPS_RUN_DIR/$1.lock"
}

# show_log_tail NAME [LINES]: the end of a service log, for failures.
show_log_tail() {
  local file
  file="$(_rps_log_file "$1")"
  [[ -f "$file" ]] || return 0
  log "last ${2:-40} lines of $file:"
  tail -n "${2:-40}" "$file" | sed 's/^/    /' >&2
}
