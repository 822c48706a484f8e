#!/usr/bin/env bash
# make down: stop what make up started (nothing long-running yet besides the stack scripts).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -x "$ROOT/scripts/stack.sh" ]]; then "$ROOT/scripts/stack.sh" down; fi
