#!/usr/bin/env bash
# MinIO server binary for the local stack. MinIO's community edition ships source only (the
# repository is archived), so it is built with `go install` at a pinned pseudo-version into
# ${RPS_TOOLS_BIN:-.rps/tools/bin}. Nothing to do when a `minio` is already on PATH (the tools
# folder is searched first). A cold build takes a few minutes and ~1 GB of Go module/build cache.
# Usage: scripts/install-minio.sh
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

MINIO_MODULE="github.com/minio/minio"
MINIO_VERSION="${RPS_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

if command -v minio >/dev/null 2>&1; then
  exit 0
fi
command -v go >/dev/null 2>&1 || die "minio not found and Go is not installed: install Go >= 1.24 (https://go.dev/dl/) or put a minio binary on PATH"
go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
[[ "$go_minor" =~ ^[0-9]+$ && "$go_minor" -ge 24 ]] || die "MinIO needs Go >= 1.24, found $(go env GOVERSION)"

mkdir -p "$RPS_TOOLS_BIN"
exec 9> "$RPS_TOOLS_BIN/.minio-install.lock"
flock 9
if command -v minio >/dev/null 2>&1; then exit 0; fi   # another run built it while we waited

# A build of the same module already running (another shell, CI warm-up) fills the same Go cache:
# wait for it instead of competing for the two cores, then ours only links.
waited=0
while pgrep -f "go install $MINIO_MODULE" >/dev/null 2>&1; do
  if ((waited == 0)); then log "another 'go install $MINIO_MODULE' is running; waiting for it"; fi
  if ((waited >= 1800)); then die "gave up waiting 30 min for the other MinIO build"; fi
  sleep 5
  waited=$((waited + 5))
done

log "building MinIO $MINIO_VERSION with $(go env GOVERSION) (cold: several minutes)"
start=$SECONDS
GOBIN="$RPS_TOOLS_BIN" go install "$MINIO_MODULE@$MINIO_VERSION" >&2 ||
  die "go install $MINIO_MODULE@$MINIO_VERSION failed (needs the Go module proxy or a warm module cache)"
[[ -x "$RPS_TOOLS_BIN/minio" ]] || die "go install finished but $RPS_TOOLS_BIN/minio is missing"
log "built $RPS_TOOLS_BIN/minio in $((SECONDS - start))s: $("$RPS_TOOLS_BIN/minio" --version 2>/dev/null | head -n 1)"
