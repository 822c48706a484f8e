#!/usr/bin/env bash
# npm ci + build, skipped when package-lock.json, the Node version and the sources are unchanged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/bootstrap-node.sh"
export PATH="$ROOT/.rps/tools/bin:$PATH"
mkdir -p .rps
stamp=".rps/npm-ci.stamp"
want="$(node --version) $(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -d node_modules || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "install: npm ci (Node $(node --version))" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  # npm under an old Node silently skips polars' native package: fail here, not at first use.
  node -e "import('nodejs-polars').catch((e) => { console.error('install: nodejs-polars native module missing: ' + e.message); process.exit(1) })"
  echo "$want" > "$stamp"
fi
npm run -s build
