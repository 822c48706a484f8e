#!/usr/bin/env bash
# Tools of `make bench` beyond Node and the project's venv: wrk, the HTTP load generator of the serve
# benchmark (Debian package `wrk`). Nothing to do when `wrk` is already on PATH. Needs root (apt-get).
# Usage: scripts/install-bench-tools.sh
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "wrk not found and apt-get is not available: install wrk 4 and put it on PATH (or run the serve benchmark with RPS_BENCH_LOAD=autocannon)"
[[ "$(id -u)" == 0 ]] || die "wrk not found: run 'apt-get install wrk' as root (or RPS_BENCH_LOAD=autocannon)"
machine_lock install-wrk
if command -v wrk >/dev/null 2>&1; then exit 0; fi
log "apt-get install wrk"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >&2; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk >&2
fi
command -v wrk >/dev/null 2>&1 || die "wrk still not on PATH after apt-get install"
