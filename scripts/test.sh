#!/usr/bin/env bash
# make test: install what the tests need, then lint, type check and every test suite.
# Exits non-zero on the first failing stage.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.rps/tools/bin:$ROOT/bin:$PATH"

stage() { echo "== $*" >&2; }

stage "install: Python tools (MLflow, DVC), MinIO, Chromium"
scripts/install-python.sh
scripts/install-minio.sh
scripts/install-chromium.sh

stage "lint (eslint)"
npx eslint .
stage "type check (tsc --noEmit)"
npx tsc --noEmit -p .
stage "mocha (unit + integration with real MinIO, MLflow, DVC, Chromium)"
npx mocha
