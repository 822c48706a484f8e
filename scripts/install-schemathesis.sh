#!/usr/bin/env bash
# schemathesis in its own virtualenv, ${RPS_SCHEMATHESIS_VENV:-.rps/venv-schemathesis}, pinned in
# scripts/requirements-schemathesis.txt; skipped when the requirements and the Python are unchanged.
# test/commands/serve-schemathesis.test.ts runs it (and this script) against a real rps serve.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REQ="$ROOT/scripts/requirements-schemathesis.txt"
VENV="${RPS_SCHEMATHESIS_VENV:-$ROOT/.rps/venv-schemathesis}"
PYTHON="${RPS_PYTHON:-python3}"
stamp="$VENV/.rps-requirements.stamp"

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set RPS_PYTHON)"
want="python-$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') $(sha256sum "$REQ" | cut -d' ' -f1)"
is_current() { [[ -x "$VENV/bin/schemathesis" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; }
if is_current; then exit 0; fi

mkdir -p "$(dirname "$VENV")"
exec 9> "$VENV.lock"
flock 9
if is_current; then exit 0; fi
rm -rf "$VENV"
log "creating $VENV, pip install -r scripts/requirements-schemathesis.txt"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$REQ" >&2
"$VENV/bin/python" -m pip check >&2
echo "$want" > "$stamp"
log "$("$VENV/bin/schemathesis" --version) in $VENV"
