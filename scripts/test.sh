#!/usr/bin/env bash
# make test: lint, type check, then every test suite. Exits non-zero on the first failing stage.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"
echo "== lint (eslint)" >&2
npx eslint .
echo "== type check (tsc --noEmit)" >&2
npx tsc --noEmit -p .
echo "== mocha" >&2
npx mocha
