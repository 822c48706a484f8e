#!/usr/bin/env bash
# Redis server, the Celery broker of the distributed Airflow run (scripts/airflow.sh start-worker,
# airflow_dags/tests/test_dag_celery.py), from Debian's package `redis-server`. Nothing to do when a
# `redis-server` is already on PATH. Needs root (apt-get); the Debian service the package installs is
# neither enabled nor started here: scripts/redis.sh runs its own on a loopback port.
# Usage: scripts/install-redis.sh
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "redis-server not found and apt-get is not available: install Redis >= 6 and put redis-server on PATH"
[[ "$(id -u)" == 0 ]] || die "redis-server not found: run 'apt-get install redis-server' as root (or put redis-server on PATH)"
machine_lock install-redis
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
log "apt-get install redis-server"
# policy-rc.d: the package must not start (or fail to start) a system service inside containers/CI.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e "$policy" ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=1; fi
trap '[[ $added_policy == 1 ]] && rm -f "$policy"' EXIT
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >&2; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >&2
fi
command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after apt-get install"
log "$(redis-server --version)"
