#!/usr/bin/env bash
# docker-compose.yml end to end (make test-compose; scripts/test.sh after the CI/CD stages): the
# project images and the local stand-ins of the third-party images (scripts/local-images.sh) are
# built (once: content tags and the layer cache), then `docker compose up` of every service but
# Grafana (its image cannot be built here; its provisioning is checked by scripts/lint-infra.sh)
# under a project name of its own, with no host port published (the test reaches the containers on
# their compose network addresses, so it never collides with `make up` or another run), and asserts:
#   1. the first start trains a model by itself: airflow-first-run exits 0 after its DAG run;
#   2. rps-serve becomes ready (/ready 200) and /predict answers the example of /model;
#   3. Prometheus scrapes rps-serve (target health "up", its HTTP API) and has found Alertmanager;
#   4. a firing test alert posted to Alertmanager reaches the alerts-sink file (alerts.jsonl): so
#      Alertmanager sent the sink's bearer token (a compose secret), and a POST without it is 401;
#   5. live errors: a second DAG run (the champion exists now) has its forecast task write
#      reports/live/live-errors.json in the shared volume, and rps-serve's /metrics exports
#      rps_live_error_* from it. The first run cannot score forecasts: its forecast task runs before
#      train (no champion yet: it exits 0), and a forecast is scored only once the hour it forecasts
#      has been observed, so after the second run the file holds zero scored samples; asserted: the
#      update timestamp and the samples gauges.
# `docker compose down -v` always runs at the end (trap): only this project's containers, networks
# and volumes go; images stay for the next run. Each phase prints its wall time.
# Env: RPS_COMPOSE_PROJECT (default rps-compose-test-<pid>), RPS_COMPOSE_BACKFILL_DAYS (history of
# the first run, default 120), RPS_COMPOSE_TIMEOUT (seconds for the first run, default 1500),
# RPS_COMPOSE_KEEP=1 (leave the stack up for debugging; then `docker compose -p NAME down -v`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"
PROJECT="${RPS_COMPOSE_PROJECT:-rps-compose-test-$$}"
TIMEOUT="${RPS_COMPOSE_TIMEOUT:-1500}"
STATE="${RPS_STATE_DIR:-$ROOT/.rps/state}/compose-test"
IMG_PREFIX=rps-compose-test

log() { printf 'test-compose: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
T0=$SECONDS
phase_start=$SECONDS
phase() { # phase NAME: ends the previous phase (prints its wall time), starts NAME
  if [[ -n "${phase_name:-}" ]]; then log "phase '$phase_name' took $((SECONDS - phase_start))s"; fi
  phase_name="$1"
  phase_start=$SECONDS
  [[ -n "$1" ]] && log "== $1"
  return 0
}

phase "tools: Docker engine, compose"
scripts/docker-engine.sh ensure >&2
scripts/install-ci-tools.sh >&2
COMPOSE_BIN="$ROOT/.rps/venv-ci/bin/docker-compose"
[[ -x "$COMPOSE_BIN" ]] || die "no $COMPOSE_BIN (scripts/install-ci-tools.sh)"
mkdir -p "$STATE"

phase "images: local stand-ins of Postgres, MinIO, Prometheus, Alertmanager"
env_file="$STATE/$PROJECT.env"
scripts/local-images.sh ensure postgres minio prometheus alertmanager >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"

phase "images: rps (cli), rps-airflow, rps-stack on the local bases"
node_arg="$(scripts/base-images.sh ensure node)"
python_arg="$(scripts/base-images.sh ensure python)"
build_log="$STATE/$PROJECT.build.log"
built() { # built WHAT COMMAND...: run a build into $build_log, its tail on failure
  local start=$SECONDS
  "${@:2}" >"$build_log" 2>&1 || { tail -n 40 "$build_log" >&2; die "building $1 failed"; }
  log "$1: $((SECONDS - start))s"
}
built "$IMG_PREFIX/rps (make image-cli)" env RPS_CLI_IMAGE_NAME="$IMG_PREFIX/rps" RPS_BASE_IMAGES=local scripts/docker-image.sh build-cli
app_version="v$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' package.json | head -n 1)"
built "$IMG_PREFIX/rps-airflow" docker build -f Dockerfile --target airflow --build-arg "$node_arg" -t "$IMG_PREFIX/rps-airflow:local" .
built "$IMG_PREFIX/rps-stack" docker build -f docker/stack.Dockerfile --build-arg "$python_arg" -t "$IMG_PREFIX/rps-stack:local" .
rm -f "$build_log"
{
  echo "RPS_APP_IMAGE=$IMG_PREFIX/rps:$app_version"
  echo "RPS_AIRFLOW_IMAGE=$IMG_PREFIX/rps-airflow:local"
  echo "RPS_STACK_IMAGE=$IMG_PREFIX/rps-stack:local"
  echo "RPS_FIRST_RUN_BACKFILL_DAYS=${RPS_COMPOSE_BACKFILL_DAYS:-120}"
} >>"$env_file"
# The secrets compose requires (no defaults): random ones, as make up writes them into .env.
scripts/env-file.sh "$env_file"

# No published ports: every port mapping is reset, the containers are reached on the network.
override="$STATE/$PROJECT.override.yml"
cat >"$override" <<'YML'
services:
  minio: {ports: !reset []}
  mlflow: {ports: !reset []}
  airflow-api-server: {ports: !reset []}
  rps-serve: {ports: !reset []}
  alerts-sink: {ports: !reset []}
  prometheus: {ports: !reset []}
  alertmanager: {ports: !reset []}
  grafana: {ports: !reset []}
YML
compose() { "$COMPOSE_BIN" --progress quiet --project-name "$PROJECT" --env-file "$env_file" -f docker-compose.yml -f "$override" "$@"; }

cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then
    log "logs of the failed run (last 60 lines per service):"
    compose ps -a >&2
    compose logs --no-color --tail 60 >&2
  fi
  if [[ "${RPS_COMPOSE_KEEP:-0}" == 1 ]]; then
    log "RPS_COMPOSE_KEEP=1: left up; remove with: $COMPOSE_BIN -p $PROJECT down -v"
  else
    phase "down -v"
    # Everything goes (-v), nothing to flush: 5 s to stop instead of compose's 10 per container.
    compose down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || log "compose down -v failed"
    rm -f "$env_file" "$override"
    phase ""
  fi
  log "total $((SECONDS - T0))s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVICES=(postgres minio minio-init mlflow airflow-init airflow-api-server airflow-scheduler
  airflow-dag-processor airflow-first-run rps-serve alerts-sink prometheus alertmanager)
phase "up (no build, no pull): ${SERVICES[*]}"
compose up -d --no-build --pull never "${SERVICES[@]}" >&2

ip_of() { # ip_of SERVICE: its address on the project's network, now (none while it restarts)
  local id
  id="$(compose ps -a -q "$1")"
  [[ -n "$id" ]] || die "service $1 has no container"
  docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id"
}
# http METHOD URL [BODY]: prints "STATUS BODY"; never fails (status 000 when nothing answers).
http() {
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        print(r.status, r.read().decode(errors="replace"))
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode(errors="replace"))
except Exception as e:
    print("000", e)
PY
}
wait_for() { # wait_for SECONDS WHAT COMMAND...: retry COMMAND every 3 s
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  until "$@"; do
    ((SECONDS - start < limit)) || die "$what: not within ${limit}s"
    sleep 3
  done
  log "ok: $what ($((SECONDS - start))s)"
}

phase "first run: airflow-first-run trains and promotes a model (backfill ${RPS_COMPOSE_BACKFILL_DAYS:-120} days)"
first_run="$(compose ps -a -q airflow-first-run)"
[[ -n "$first_run" ]] || die "no airflow-first-run container"
rc="$(timeout "$TIMEOUT" docker wait "$first_run")" || die "airflow-first-run still running after ${TIMEOUT}s"
docker logs "$first_run" 2>&1 | tail -n 20 >&2
[[ "$rc" == 0 ]] || die "airflow-first-run exited $rc"

phase "rps-serve: /ready and /predict with the example of /model"
# rps-serve exits while there is no champion and is restarted with Docker's growing back-off (at
# most a minute): it has no address between two starts, so ask for it on every try.
ready() { serve="$(ip_of rps-serve)" && [[ -n "$serve" && "$(http GET "http://$serve:8000/ready")" == 200* ]]; }
wait_for 180 "rps-serve /ready 200" ready
model="$(http GET "http://$serve:8000/model")"
[[ "$model" == 200* ]] || die "GET /model: $model"
body="$(python3 -c 'import json,sys; print(json.dumps({"instances": [json.loads(sys.argv[1].split(" ",1)[1])["example"]]}))' "$model")"
answer="$(http POST "http://$serve:8000/predict" "$body")"
[[ "$answer" == 200* ]] || die "POST /predict: $answer"
python3 -c 'import json,math,sys; p=json.loads(sys.argv[1].split(" ",1)[1])["predictions"]; assert len(p)==1 and math.isfinite(p[0]["prediction"]), p' "$answer" \
  || die "/predict answered without one finite prediction: $answer"
log "ok: /predict -> ${answer#200 }"

phase "prometheus: rps-serve scraped, alertmanager found"
prom="$(ip_of prometheus)"
target_up() {
  http GET "http://$prom:9090/api/v1/targets" | python3 -c '
import json, sys
status, body = sys.stdin.read().split(" ", 1)
targets = json.loads(body)["data"]["activeTargets"] if status == "200" else []
sys.exit(0 if any("rps-serve:8000" in t["scrapeUrl"] and t["health"] == "up" for t in targets) else 1)'
}
wait_for 120 "Prometheus target rps-serve:8000 up" target_up
am_found() { http GET "http://$prom:9090/api/v1/alertmanagers" | grep -q 'alertmanager:9093'; }
wait_for 60 "Prometheus sends alerts to alertmanager:9093" am_found

phase "alerts: a firing test alert reaches the alerts-sink file"
am="$(ip_of alertmanager)"
alert_name="RpsComposeTest$$"
alert="[{\"labels\": {\"alertname\": \"$alert_name\", \"severity\": \"info\"}, \"annotations\": {\"summary\": \"scripts/test-compose.sh\"}}]"
posted="$(http POST "http://$am:9093/api/v2/alerts" "$alert")"
[[ "$posted" == 200* ]] || die "POST alertmanager /api/v2/alerts: $posted"
in_sink() { compose exec -T alerts-sink cat /app/data/alerts/alerts.jsonl 2>/dev/null | grep -q "\"$alert_name\""; }
wait_for 90 "alert $alert_name in alerts-sink's alerts.jsonl" in_sink
unauthenticated="$(http POST "http://$(ip_of alerts-sink):9095/alerts" "{\"alerts\": []}")"
[[ "$unauthenticated" == 401* ]] || die "alerts-sink answered a POST without its token: $unauthenticated"

phase "live errors: a second DAG run's forecast reaches rps-serve's /metrics"
# An explicit logical date (now, to the second): the first run holds this hour's.
compose run --rm --no-deps -T --entrypoint python3 -e RPS_BACKFILL_DAYS= airflow-first-run \
  /etc/rps/scripts/airflow_trigger_wait.py rps_pipeline "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" >&2 \
  || die "the second DAG run failed"
compose exec -T rps-serve cat /app/reports/live/live-errors.json >/dev/null 2>&1 \
  || die "no reports/live/live-errors.json in the rps-reports volume after the second run"
live_metrics() { http GET "http://$serve:8000/metrics" | grep -E '^rps_live_error_(updated_timestamp_seconds|samples)' >"$STATE/$PROJECT.live"; }
wait_for 60 "rps_live_error_* in rps-serve's /metrics" live_metrics
grep -q '^rps_live_error_updated_timestamp_seconds' "$STATE/$PROJECT.live" || die "no rps_live_error_updated_timestamp_seconds"
sed 's/^/  /' "$STATE/$PROJECT.live" >&2
rm -f "$STATE/$PROJECT.live"
phase ""
log "PASS: compose end to end"
