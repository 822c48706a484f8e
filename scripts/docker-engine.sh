#!/usr/bin/env bash
# A Docker engine for the image builds and container tests (make test, make image-*, compose).
# Usage: scripts/docker-engine.sh ensure|status|stop
#   ensure  exit 0 when `docker info` answers (DOCKER_HOST or the default socket). Otherwise, as
#           root with apt-get (Debian/Ubuntu): installs docker.io when dockerd is missing, starts
#           dockerd on the default socket (/var/run/docker.sock, so a plain `docker` finds it) with
#           its data under $RPS_STATE_DIR/docker (default .rps/state/docker), records its pid there
#           and waits until it answers. With no engine and no way to get one: exit 1 and the reason
#           on stderr (callers fail with it; nothing is skipped).
#   status  one line: reachable or not, and whether this script started the running dockerd.
#   stop    stops the dockerd this script started (recorded pid, checked to still be dockerd) and
#           nothing else; exit 0 when there was nothing to stop.
# The engine is shared by every checkout on the machine: ensure reuses whatever answers, and one
# engine started here keeps running (image layers stay cached) until `stop` or `make down`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${RPS_STATE_DIR:-$ROOT/.rps/state}/docker"
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"
START_TIMEOUT="${RPS_DOCKERD_START_TIMEOUT:-90}"

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

reachable() { command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; }

where() { printf '%s' "${DOCKER_HOST:-unix:///var/run/docker.sock}"; }

server_version() { timeout 20 docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'; }

# The pid of the dockerd this script started, when it is still that dockerd.
our_pid() {
  local pid
  [[ -f "$PIDFILE" ]] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dockerd ]] || return 1
  printf '%s\n' "$pid"
}

install_engine() {
  [[ "$(id -u)" == 0 ]] || die "no Docker engine reachable at $(where), dockerd is not installed and this is not root: install Docker (https://docs.docker.com/engine/install/) or set DOCKER_HOST to a running engine"
  command -v apt-get >/dev/null || die "no Docker engine reachable at $(where) and no apt-get to install one (not Debian/Ubuntu): install Docker or set DOCKER_HOST to a running engine"
  log "installing docker.io with apt-get (dockerd, containerd, runc)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends docker.io iptables >&2; then
    apt-get update -q >&2 || die "apt-get update failed: cannot install docker.io"
    apt-get install -y -q --no-install-recommends docker.io iptables >&2 || die "apt-get install docker.io failed"
  fi
}

start_engine() {
  [[ -z "${DOCKER_HOST:-}" || "$DOCKER_HOST" == unix:///var/run/docker.sock ]] \
    || die "DOCKER_HOST=$DOCKER_HOST does not answer (docker info failed); not starting a local engine in its place"
  command -v dockerd >/dev/null || install_engine
  command -v dockerd >/dev/null || die "dockerd still missing after installing docker.io"
  [[ "$(id -u)" == 0 ]] || die "no Docker engine reachable at $(where) and dockerd needs root to start: start it (sudo dockerd) or set DOCKER_HOST"
  mkdir -p "$STATE/data"
  # Containers get the MTU of the route out (1400 on this kind of VM): docker0's default 1500 over
  # a smaller link is a known cause of downloads in builds hanging (packets too big, dropped).
  local dev mtu opts=()
  dev="$(ip -o route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')"
  mtu="$(cat "/sys/class/net/${dev:-none}/mtu" 2>/dev/null || true)"
  if [[ "$mtu" =~ ^[0-9]+$ ]] && ((mtu < 1500)); then opts+=(--mtu "$mtu"); fi
  log "starting dockerd ${opts[*]} (data $STATE/data, log $LOG)"
  # setsid: the engine outlives this shell and make's process group; containerd is its child.
  setsid dockerd "${opts[@]}" --data-root "$STATE/data" --pidfile "$STATE/dockerd.run.pid" \
    --host unix:///var/run/docker.sock >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE.tmp" && mv -f "$PIDFILE.tmp" "$PIDFILE"
  local waited=0
  until reachable; do
    if ! our_pid >/dev/null; then
      rm -f "$PIDFILE"
      die "dockerd exited while starting; last lines of $LOG: $(tail -n 5 "$LOG" | tr '\n' ' ')"
    fi
    ((waited < START_TIMEOUT)) || die "dockerd did not answer within ${START_TIMEOUT}s (see $LOG)"
    sleep 1
    waited=$((waited + 1))
  done
  log "dockerd $(server_version) started (pid $(cat "$PIDFILE")) after ${waited}s"
}

ensure() {
  if reachable; then
    log "engine at $(where) answers (server $(server_version))"
    return 0
  fi
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  flock 9 # concurrent ensure calls start one engine
  if reachable; then
    log "engine at $(where) answers (server $(server_version))"
    return 0
  fi
  if pid="$(our_pid)"; then
    die "the dockerd started here (pid $pid) runs but does not answer (see $LOG); scripts/docker-engine.sh stop, then ensure"
  fi
  start_engine
}

status() {
  local pid started="not started by this script"
  if pid="$(our_pid)"; then started="started by this script (pid $pid, data $STATE/data)"; fi
  if reachable; then
    echo "docker-engine: reachable at $(where), server $(server_version); dockerd $started"
  else
    echo "docker-engine: no engine answers at $(where); dockerd $started"
    return 1
  fi
}

stop() {
  local pid waited=0
  if ! pid="$(our_pid)"; then
    rm -f "$PIDFILE"
    log "no dockerd started by this script is running; nothing to stop"
    return 0
  fi
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  while [[ -d "/proc/$pid" ]] && ((waited < 60)); do sleep 1; waited=$((waited + 1)); done
  if [[ -d "/proc/$pid" ]]; then die "dockerd (pid $pid) still runs 60s after SIGTERM (see $LOG)"; fi
  rm -f "$PIDFILE"
  log "dockerd stopped"
}

case "${1:-}" in
  ensure) ensure ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: $0 ensure|status|stop" >&2; exit 2 ;;
esac
