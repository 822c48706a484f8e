#!/usr/bin/env bash
# A stand-in for GitHub's ubuntu-24.04 runner image, for the workflow-job tests that run a job's
# steps in a fresh container (ci/tests/test_runner_jobs.py). It has only what GitHub documents for
# that image and the jobs rely on: bash, git, curl, ca-certificates, make, gcc/g++, a system
# python3 with venv and pip, xz/tar/gzip/unzip, sudo, jq. No Node, no Go, no project tools: a job gets
# those only through its own setup-* steps (emulated from a tool cache) and install scripts.
# Built without Docker Hub on the local Debian bookworm minbase (scripts/base-images.sh debian).
# Usage: scripts/runner-image.sh [ensure]   prints RUNNER_IMAGE=rps-runner:<tag>, builds it if missing
#        scripts/runner-image.sh name       the image name of this recipe, nothing built
#   <tag> is a content tag (this recipe, the Debian base's tag, the host CAs it trusts): when the
#   image exists the script only prints (about a second).
# Differences from GitHub's image, on purpose: Debian bookworm instead of Ubuntu 24.04, so the
# system python3 is 3.11 (Ubuntu's is 3.12); the jobs pick their Python with setup-python anyway.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${RPS_STATE_DIR:-$ROOT/.rps/state}/runner-image"

log() { printf 'runner-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

HOST_CA_DIR="${RPS_HOST_CA_DIR:-/usr/local/share/ca-certificates}"
host_cas() { find "$HOST_CA_DIR" -name '*.crt' -type f 2>/dev/null | sort | xargs -r cat; }

build_runner() {
  docker image inspect "$RUNNER_IMAGE" >/dev/null 2>&1 && return 0
  "$ROOT/scripts/base-images.sh" ensure debian >/dev/null
  local ctx="$STATE/ctx.$$"
  rm -rf "$ctx" && mkdir -p "$ctx"
  host_cas >"$ctx/host-ca.crt"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY host-ca.crt /usr/local/share/ca-certificates/rps-host-ca.crt
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \\
      bash ca-certificates curl git make gcc g++ libc6-dev python3 python3-venv python3-pip \\
      xz-utils tar gzip unzip sudo jq procps \\
 && update-ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir -p /opt/hostedtoolcache /home/runner/work/_temp
ENV LANG=C.UTF-8 \\
    RUNNER_TOOL_CACHE=/opt/hostedtoolcache \\
    ImageOS=ubuntu24 \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
WORKDIR /home/runner/work
CMD ["sleep", "infinity"]
EOF
  log "building $RUNNER_IMAGE on $DEBIAN_IMAGE (apt-get: git, curl, make, gcc, python3, ...)"
  docker build -q -t "$RUNNER_IMAGE" "$ctx" >/dev/null 2>"$STATE/build.log" \
    || die "building $RUNNER_IMAGE failed (see $STATE/build.log)"
  rm -rf "$ctx"
  log "built $RUNNER_IMAGE"
}

DEBIAN_IMAGE="$("$ROOT/scripts/base-images.sh" names | sed -n 1p)" # not head: SIGPIPE under pipefail
RUNNER_IMAGE="rps-runner:$(printf '%s\n' "$(declare -f build_runner)" "$DEBIAN_IMAGE" "$(host_cas | sha256sum)" | sha256sum | cut -c1-12)"

case "${1:-ensure}" in
  name) echo "$RUNNER_IMAGE"; exit 0 ;;
  ensure) ;;
  *) echo "usage: $0 [ensure|name]" >&2; exit 2 ;;
esac
command -v docker >/dev/null || die "no docker client (scripts/docker-engine.sh ensure installs one)"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/docker-engine.sh ensure)"
mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9 # one build per content tag even when several runs start at once
build_runner
echo "RUNNER_IMAGE=$RUNNER_IMAGE"
