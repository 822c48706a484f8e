#!/usr/bin/env bash
# make down: stop everything make up started (by recorded pids), in reverse order, and the Docker
# engine when scripts/docker-engine.sh started it (make test). Data and image layers stay.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rc=0
for step in "serve.sh stop" "monitoring.sh stop" "airflow.sh stop" "stack.sh down" "docker-engine.sh stop"; do
  script="$ROOT/scripts/${step%% *}"
  [[ -x "$script" ]] || continue
  "$script" "${step#* }" || rc=1
done
exit "$rc"
