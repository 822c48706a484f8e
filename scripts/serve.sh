#!/usr/bin/env bash
# The API and the alert receiver for the local stack: `rps serve` (@champion from the registry,
# polled for new versions) on 127.0.0.1:$RPS_API_PORT and `rps alerts-sink` on $RPS_ALERT_SINK_PORT.
# The sink requires RPS_ALERT_SINK_TOKEN (from .env, else generated into .rps/state/secrets; see
# ensure_alert_sink_token in lib/common.sh), the one scripts/monitoring.sh gives Alertmanager.
# Usage: scripts/serve.sh start|stop|status
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
export RPS_API_PORT="${RPS_API_PORT:-8000}"
export RPS_ALERT_SINK_PORT="${RPS_ALERT_SINK_PORT:-9095}"
export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-http://127.0.0.1:${RPS_MLFLOW_PORT}}"
RPS="$ROOT/bin/rps"

case "${1:-}" in
  start)
    if ! is_running rps-serve; then
      start_bg rps-serve "$RPS" serve --port "$RPS_API_PORT" --poll-seconds "${RPS_SERVE_POLL_SECONDS:-30}"
    fi
    wait_http "http://127.0.0.1:$RPS_API_PORT/ready" 60 rps-serve || { show_log_tail rps-serve; exit 1; }
    if ! is_running rps-alerts-sink; then
      ensure_alert_sink_token
      start_bg rps-alerts-sink "$RPS" alerts-sink --port "$RPS_ALERT_SINK_PORT" --file "$RPS_STATE_DIR/alerts.jsonl"
    fi
    wait_http "http://127.0.0.1:$RPS_ALERT_SINK_PORT/health" 30 rps-alerts-sink || { show_log_tail rps-alerts-sink; exit 1; }
    log "API http://127.0.0.1:$RPS_API_PORT (docs /openapi.json), alerts sink http://127.0.0.1:$RPS_ALERT_SINK_PORT/alerts"
    ;;
  stop)
    stop_bg rps-alerts-sink
    stop_bg rps-serve
    ;;
  status)
    rc=0
    for name in rps-serve rps-alerts-sink; do
      if is_running "$name"; then log "$name running (pid $(pid_of "$name"))"; else log "$name stopped"; rc=3; fi
    done
    exit "$rc"
    ;;
  *) echo "usage: scripts/serve.sh start|stop|status" >&2; exit 2 ;;
esac
