#!/usr/bin/env bash
# make up: run the main job end to end on the offline default (the replay source).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"
source="${RPS_SOURCE:-replay}"
echo "== rps fetch --source $source" >&2
rps fetch --source "$source"
echo "== rps check --source $source" >&2
rps check --source "$source"
echo "make up: done. Raw data and quality reports are under data/raw/$source/." >&2
