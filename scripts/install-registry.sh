#!/usr/bin/env bash
# A real OCI registry for the image tests (push, pull by digest, release-tag refusal): the
# `registry` command of go-containerregistry, built with `go install` at a pinned version into
# ${RPS_TOOLS_BIN:-.rps/tools/bin}. Serves plain HTTP (`registry -port N`), which Docker accepts on
# loopback without any daemon configuration. Nothing to do when it is already there.
# Usage: scripts/install-registry.sh
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REGISTRY_MODULE="github.com/google/go-containerregistry/cmd/registry"
REGISTRY_VERSION="v0.22.1"

if [[ -x "$RPS_TOOLS_BIN/registry" ]]; then
  exit 0
fi
command -v go >/dev/null 2>&1 || die "the OCI registry for the image tests is built with Go, which is not installed: install Go >= 1.24 (https://go.dev/dl/)"
mkdir -p "$RPS_TOOLS_BIN"
exec 9>"$RPS_TOOLS_BIN/.registry-install.lock"
flock 9
if [[ -x "$RPS_TOOLS_BIN/registry" ]]; then exit 0; fi
log "building the OCI registry $REGISTRY_MODULE@$REGISTRY_VERSION"
GOBIN="$RPS_TOOLS_BIN" go install "$REGISTRY_MODULE@$REGISTRY_VERSION" >&2 ||
  die "go install $REGISTRY_MODULE@$REGISTRY_VERSION failed (needs the Go module proxy or a warm module cache)"
[[ -x "$RPS_TOOLS_BIN/registry" ]] || die "go install finished but $RPS_TOOLS_BIN/registry is missing"
