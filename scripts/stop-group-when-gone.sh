#!/usr/bin/env bash
# Stops process group PGID (SIGTERM to the group) once process PID is gone, and exits by itself
# when the group ends first. scripts/test.sh starts it with setsid beside its background jobs: a
# SIGKILL of make test runs no EXIT trap, and a kill of make's process group would take a watcher
# in that group along, so it has its own session.
# Usage: setsid scripts/stop-group-when-gone.sh PID PGID &
set -uo pipefail
[[ $# == 2 && "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] || { echo "usage: $0 PID PGID" >&2; exit 2; }
pid=$1 pgid=$2
while kill -0 "$pid" 2>/dev/null; do
  kill -0 -- "-$pgid" 2>/dev/null || exit 0
  sleep 2
done
kill -- "-$pgid" 2>/dev/null
exit 0
