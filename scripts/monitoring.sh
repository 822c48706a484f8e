#!/usr/bin/env bash
# Local Prometheus + Alertmanager for rps serve (no Docker, no systemd): our own configs, data under
# $RPS_STATE_DIR/monitoring, both listening on 127.0.0.1 only.
# Usage: scripts/monitoring.sh start|stop|status|render
#   start   render the configs (below), start Alertmanager then Prometheus, wait until both are ready
#           (RPS_MONITORING_READY_TIMEOUT, 60 s). Already running with the same ports: re-render and,
#           when a config changed, hot-reload it (POST /-/reload) instead of restarting.
#   stop    stop both (TERM, KILL after 15 s). Data stays.
#   status  exit 0 both running and ready, 1 partly, 3 both stopped.
#   render  only render the configs and check them with promtool/amtool; print their paths.
# Settings (environment, then .env, then default):
#   RPS_PROMETHEUS_PORT 9090, RPS_ALERTMANAGER_PORT 9093, RPS_API_PORT 8000 (scraped as
#   RPS_SCRAPE_TARGET, default 127.0.0.1:$RPS_API_PORT), RPS_ALERT_SINK_PORT 9095 (webhook receiver,
#   `rps alerts-sink`), RPS_SCRAPE_INTERVAL 15s, RPS_EVAL_INTERVAL (= scrape interval),
#   RPS_SCRAPE_TIMEOUT (= scrape interval, at most 10s), RPS_ALERT_GROUP_WAIT 10s,
#   RPS_ALERT_GROUP_INTERVAL 1m, RPS_ALERT_REPEAT_INTERVAL 4h, RPS_ALERT_RETRAIN_REPEAT_INTERVAL 1h
#   (alerts with rps_action="retrain"), RPS_PROMETHEUS_RETENTION 15d,
#   RPS_ALERT_FOR: empty = the committed rules (monitoring/rules/rps-alerts.yml); a duration (e.g. 0s)
#   = the same rules with every `for` replaced, rendered into the state dir (fast end-to-end tests).
# Needs scripts/install-monitoring.sh (Debian packages prometheus, prometheus-alertmanager) and python3.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

export RPS_PROMETHEUS_PORT="${RPS_PROMETHEUS_PORT:-9090}"
export RPS_ALERTMANAGER_PORT="${RPS_ALERTMANAGER_PORT:-9093}"
export RPS_API_PORT="${RPS_API_PORT:-8000}"
export RPS_ALERT_SINK_PORT="${RPS_ALERT_SINK_PORT:-9095}"
export RPS_SCRAPE_TARGET="${RPS_SCRAPE_TARGET:-127.0.0.1:$RPS_API_PORT}"
export RPS_SCRAPE_INTERVAL="${RPS_SCRAPE_INTERVAL:-15s}"
export RPS_EVAL_INTERVAL="${RPS_EVAL_INTERVAL:-$RPS_SCRAPE_INTERVAL}"
export RPS_ALERT_GROUP_WAIT="${RPS_ALERT_GROUP_WAIT:-10s}"
export RPS_ALERT_GROUP_INTERVAL="${RPS_ALERT_GROUP_INTERVAL:-1m}"
export RPS_ALERT_REPEAT_INTERVAL="${RPS_ALERT_REPEAT_INTERVAL:-4h}"
export RPS_ALERT_RETRAIN_REPEAT_INTERVAL="${RPS_ALERT_RETRAIN_REPEAT_INTERVAL:-1h}"
export RPS_PROMETHEUS_RETENTION="${RPS_PROMETHEUS_RETENTION:-15d}"
RPS_ALERT_FOR="${RPS_ALERT_FOR:-}"

MON_DIR="$RPS_STATE_DIR/monitoring"
PROM_BIN=/usr/bin/prometheus
AM_BIN=/usr/bin/prometheus-alertmanager
PROM_URL="http://127.0.0.1:$RPS_PROMETHEUS_PORT"
AM_URL="http://127.0.0.1:$RPS_ALERTMANAGER_PORT"
READY_TIMEOUT="${RPS_MONITORING_READY_TIMEOUT:-60}"

is_duration() { [[ "$1" =~ ^([0-9]+(ms|s|m|h|d|w|y))+$ ]]; }
is_port() { [[ "$1" =~ ^[0-9]+$ ]] && (("$1" > 0 && "$1" < 65536)); }

# Scrape timeout: the scrape interval, capped at 10 s (Prometheus rejects a timeout above the interval).
default_timeout() {
  local secs
  secs="$(python3 -c 'import re,sys
m={"ms":0.001,"s":1,"m":60,"h":3600,"d":86400,"w":604800,"y":31536000}
print(sum(int(n)*m[u] for n,u in re.findall(r"(\d+)(ms|s|m|h|d|w|y)", sys.argv[1])))' "$RPS_SCRAPE_INTERVAL")"
  if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 10 else 1)' "$secs"; then echo 10s; else echo "$RPS_SCRAPE_INTERVAL"; fi
}

validate_settings() {
  local v problems=()
  for v in RPS_PROMETHEUS_PORT RPS_ALERTMANAGER_PORT RPS_API_PORT RPS_ALERT_SINK_PORT; do
    is_port "${!v}" || problems+=("$v=${!v} is not a port")
  done
  for v in RPS_SCRAPE_INTERVAL RPS_EVAL_INTERVAL RPS_ALERT_GROUP_WAIT RPS_ALERT_GROUP_INTERVAL \
    RPS_ALERT_REPEAT_INTERVAL RPS_ALERT_RETRAIN_REPEAT_INTERVAL RPS_PROMETHEUS_RETENTION; do
    is_duration "${!v}" || problems+=("$v=${!v} is not a duration (like 15s, 1m)")
  done
  [[ -z "$RPS_ALERT_FOR" ]] || is_duration "$RPS_ALERT_FOR" || problems+=("RPS_ALERT_FOR=$RPS_ALERT_FOR is not a duration")
  [[ "$RPS_SCRAPE_TARGET" =~ ^[A-Za-z0-9.:_-]+:[0-9]+$ ]] || problems+=("RPS_SCRAPE_TARGET=$RPS_SCRAPE_TARGET is not host:port")
  [[ "$RPS_PROMETHEUS_PORT" != "$RPS_ALERTMANAGER_PORT" ]] || problems+=("RPS_PROMETHEUS_PORT and RPS_ALERTMANAGER_PORT are both $RPS_PROMETHEUS_PORT")
  if ((${#problems[@]})); then
    printf '%s\n' "${problems[@]}" | sed "s/^/$RPS_LOG_PREFIX: error: /" >&2
    exit 1
  fi
}

# render_template TEMPLATE OUT NAME...: TEMPLATE with each ${NAME} replaced by the variable's value.
# Only the listed names; any other ${...} left outside comments is an error.
render_template() {
  local template="$1" out="$2" text name line
  shift 2
  text="$(cat "$template")"
  for name in "$@"; do
    text="${text//\$\{$name\}/${!name}}"
  done
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*# ]] && continue
    # shellcheck disable=SC2016 # a literal ${
    [[ "$line" == *'${'* ]] && die "$template: unknown placeholder left after rendering: $line"
  done <<< "$text"
  printf '# RENDERED by scripts/monitoring.sh from %s: edit that template, not this copy.\n%s\n' \
    "${template#"$ROOT"/}" "$text" > "$out.new"
  mv -f "$out.new" "$out"
}

# render: write $MON_DIR/{prometheus,alertmanager}.yml (and the rules when RPS_ALERT_FOR is set),
# check them. Prints nothing; records in CHANGED_prometheus / CHANGED_alertmanager (0/1) whether
# what that server reads differs from the previous rendering.
# shellcheck disable=SC2034 # read indirectly, as ${!changed} in start_one
CHANGED_prometheus=0 CHANGED_alertmanager=0
RENDER_TMP=
render() {
  validate_settings
  command -v python3 >/dev/null 2>&1 || die "python3 not found (renders the test rules and checks intervals)"
  [[ -x /usr/bin/promtool && -x /usr/bin/amtool ]] || die "promtool/amtool not found: run scripts/install-monitoring.sh"
  mkdir -p "$MON_DIR"
  export RPS_SCRAPE_TIMEOUT="${RPS_SCRAPE_TIMEOUT:-$(default_timeout)}"
  export RPS_RULES_FILE="$ROOT/monitoring/rules/rps-alerts.yml"
  local tmp f
  tmp="$(mktemp -d "$MON_DIR/.render.XXXXXX")"
  RENDER_TMP="$tmp"
  trap 'rm -rf "$RENDER_TMP"' EXIT
  if [[ -n "$RPS_ALERT_FOR" ]]; then
    mkdir -p "$MON_DIR/rules"
    RPS_RULES_FILE="$MON_DIR/rules/rps-alerts.yml"
    python3 "$ROOT/scripts/alert_rules.py" --prometheus-out "$tmp/rps-alerts.yml" --for "$RPS_ALERT_FOR" ||
      die "could not render the alert rules with for=$RPS_ALERT_FOR"
  fi
  render_template "$ROOT/monitoring/prometheus.yml" "$tmp/prometheus.yml" RPS_SCRAPE_INTERVAL \
    RPS_SCRAPE_TIMEOUT RPS_EVAL_INTERVAL RPS_RULES_FILE RPS_ALERTMANAGER_PORT RPS_PROMETHEUS_PORT RPS_SCRAPE_TARGET
  ensure_alert_sink_token
  render_template "$ROOT/monitoring/alertmanager.yml" "$tmp/alertmanager.yml" RPS_ALERT_SINK_PORT RPS_ALERT_SINK_TOKEN_FILE \
    RPS_ALERT_GROUP_WAIT RPS_ALERT_GROUP_INTERVAL RPS_ALERT_REPEAT_INTERVAL RPS_ALERT_RETRAIN_REPEAT_INTERVAL
  # Checks run on the new files (with the rules where Prometheus will find them) before they replace
  # the running ones, so a bad setting never reaches a running server.
  if [[ -n "$RPS_ALERT_FOR" ]]; then
    sed -i "s#$RPS_RULES_FILE#$tmp/rps-alerts.yml#" "$tmp/prometheus.yml"
  fi
  local out
  out="$(promtool check config "$tmp/prometheus.yml" 2>&1)" || { printf '%s\n' "$out" >&2; die "rendered Prometheus config is invalid"; }
  out="$(amtool check-config "$tmp/alertmanager.yml" 2>&1)" || { printf '%s\n' "$out" >&2; die "rendered Alertmanager config is invalid"; }
  if [[ -n "$RPS_ALERT_FOR" ]]; then
    sed -i "s#$tmp/rps-alerts.yml#$RPS_RULES_FILE#" "$tmp/prometheus.yml"
    if ! cmp -s "$tmp/rps-alerts.yml" "$MON_DIR/rules/rps-alerts.yml"; then
      mv -f "$tmp/rps-alerts.yml" "$MON_DIR/rules/rps-alerts.yml"
      # shellcheck disable=SC2034 # read indirectly
      CHANGED_prometheus=1
    fi
  fi
  for f in prometheus alertmanager; do
    if ! cmp -s "$tmp/$f.yml" "$MON_DIR/$f.yml"; then
      mv -f "$tmp/$f.yml" "$MON_DIR/$f.yml"
      printf -v "CHANGED_$f" 1
    fi
  done
}

ready() { curl -fsS -o /dev/null --max-time 2 "$1/-/ready" 2>/dev/null; }

# refuse_other_instance NAME LISTEN: NAME, if running, must listen where the settings say.
refuse_other_instance() {
  local pid
  if pid="$(pid_of "$1")" && ! running_with "$1" "--web.listen-address=$2"; then
    die "$1 is running (pid $pid) with other ports than configured now: scripts/monitoring.sh stop, then start"
  fi
  return 0
}

start_one() {
  local name="$1" url="$2" listen="$3" pid changed
  shift 3
  changed="CHANGED_$name"
  if pid="$(pid_of "$name")"; then
    if ((${!changed})); then
      log "$name: configuration changed, reloading"
      curl -fsS -o /dev/null --max-time 10 -X POST "$url/-/reload" || die "$name (pid $pid) refused the new configuration (see $(log_file "$name"))"
    fi
  else
    port_open "${listen##*:}" && die "port ${listen##*:} on 127.0.0.1 is taken by a process rps did not start (set RPS_PROMETHEUS_PORT / RPS_ALERTMANAGER_PORT)"
    start_bg "$name" "$@"
  fi
  if ! wait_http "$url/-/ready" "$READY_TIMEOUT" "$name"; then
    show_log_tail "$name"
    stop_bg "$name" || true
    die "$name did not become ready at $url (timeout ${READY_TIMEOUT}s; log tail above)"
  fi
}

start() {
  [[ -x "$PROM_BIN" && -x "$AM_BIN" ]] || die "Prometheus/Alertmanager not installed: run scripts/install-monitoring.sh"
  refuse_other_instance alertmanager "127.0.0.1:$RPS_ALERTMANAGER_PORT"
  refuse_other_instance prometheus "127.0.0.1:$RPS_PROMETHEUS_PORT"
  render
  mkdir -p "$MON_DIR/prometheus-data" "$MON_DIR/alertmanager-data"
  # --cluster.listen-address= turns off Alertmanager's gossip cluster, which would otherwise listen on
  # 0.0.0.0:9094 (and clash with any other Alertmanager on this machine).
  start_one alertmanager "$AM_URL" "127.0.0.1:$RPS_ALERTMANAGER_PORT" "$AM_BIN" \
    --config.file="$MON_DIR/alertmanager.yml" --storage.path="$MON_DIR/alertmanager-data" \
    --web.listen-address="127.0.0.1:$RPS_ALERTMANAGER_PORT" --web.external-url="$AM_URL" \
    --cluster.listen-address=
  start_one prometheus "$PROM_URL" "127.0.0.1:$RPS_PROMETHEUS_PORT" "$PROM_BIN" \
    --config.file="$MON_DIR/prometheus.yml" --storage.tsdb.path="$MON_DIR/prometheus-data" \
    --storage.tsdb.retention.time="$RPS_PROMETHEUS_RETENTION" \
    --web.listen-address="127.0.0.1:$RPS_PROMETHEUS_PORT" --web.external-url="$PROM_URL" \
    --web.enable-lifecycle
  log "ready: Prometheus $PROM_URL (scraping $RPS_SCRAPE_TARGET every $RPS_SCRAPE_INTERVAL), Alertmanager $AM_URL (webhook http://127.0.0.1:$RPS_ALERT_SINK_PORT/alerts)"
}

status() {
  local name url listen pid up=0 ok=0
  for name in prometheus alertmanager; do
    if [[ $name == prometheus ]]; then url="$PROM_URL"; listen="127.0.0.1:$RPS_PROMETHEUS_PORT"; else url="$AM_URL"; listen="127.0.0.1:$RPS_ALERTMANAGER_PORT"; fi
    if ! pid="$(pid_of "$name")"; then
      echo "$name: stopped"
      continue
    fi
    up=$((up + 1))
    if ! running_with "$name" "--web.listen-address=$listen"; then
      echo "$name: running (pid $pid) with other ports than configured now: $(cmdline_of "$name")"
    elif ready "$url"; then
      echo "$name: running (pid $pid), ready at $url"
      ok=$((ok + 1))
    else
      echo "$name: running (pid $pid) but not ready at $url (log $(log_file "$name"))"
    fi
  done
  ((ok == 2)) && return 0
  ((up == 0)) && return 3
  return 1
}

stop() {
  stop_bg prometheus
  stop_bg alertmanager
}

case "${1:-}" in
  start) lock_service monitoring && start ;;
  stop) lock_service monitoring && stop ;;
  status) status ;;
  render) lock_service monitoring && render && printf '%s\n' "$MON_DIR/prometheus.yml" "$MON_DIR/alertmanager.yml" ;;
  *) echo "usage: $0 start|stop|status|render" >&2; exit 2 ;;
esac
