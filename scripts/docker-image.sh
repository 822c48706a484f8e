#!/usr/bin/env bash
# Docker delivery of rps (docs/cicd-delivery.md): the CLI image (Dockerfile) and the serving image
# (Dockerfile.serve, the exported @champion baked in). Tags come from package.json's version.
# Usage: scripts/docker-image.sh [--dry-run] COMMAND
#   build-cli    docker build -f Dockerfile --target cli -t rps:vX.Y.Z .
#   build-serve  docker build -f Dockerfile.serve with the model directory $RPS_MODEL_DIR
#                (default build/model, from `rps export-model`, which also writes registry.json
#                {name, version, alias}), tags app:vX.Y.Z and app:sha-<short commit>, labels
#                org.opencontainers.image.{revision,version}, model.name, model.version,
#                model.data_version (docs/cicd-delivery.md, "Container images")
#   run-serve    (re)start container rps-serve from app:vX.Y.Z: docker run -d -p 127.0.0.1:8000:8000
#   push-serve   push app:vX.Y.Z and app:sha-<short> to $RPS_IMAGE_REGISTRY (default Docker Hub,
#                docker.io/$DOCKERHUB_USERNAME); refuses to replace an existing vX.Y.Z that holds
#                another image (a release is never overwritten). Prints the pushed REF@sha256:DIGEST
#                on stdout and writes it to $RPS_IMAGE_DIGEST_FILE when set.
#   logs-serve   the container's health state and log (for a failed job)
#   --dry-run    print the docker commands instead of running them
# Base images: the official ones (NODE_IMAGE's default in the Dockerfiles) when present or
# pullable; otherwise (no Docker Hub: air gap, this CI) the local ones of scripts/base-images.sh,
# said on stderr. RPS_BASE_IMAGES=official|local forces one; RPS_NODE_IMAGE=IMAGE (a mirror's)
# overrides both. Real runs first make sure an engine answers (scripts/docker-engine.sh ensure).
# Env: RPS_IMAGE_NAME (default app), RPS_CLI_IMAGE_NAME (default rps), RPS_MODEL_DIR,
# RPS_MODEL_VERSION (default: read from the model directory), RPS_SERVE_CONTAINER (default
# rps-serve), RPS_SERVE_PORT (default 8000), RPS_SERVE_HOST (published on, default 127.0.0.1),
# RPS_IMAGE_REGISTRY (host[:port][/namespace]), DOCKERHUB_USERNAME (its default).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IMAGE="${RPS_IMAGE_NAME:-app}"
CLI_IMAGE="${RPS_CLI_IMAGE_NAME:-rps}"
MODEL_DIR="${RPS_MODEL_DIR:-build/model}"
CONTAINER="${RPS_SERVE_CONTAINER:-rps-serve}"
PORT="${RPS_SERVE_PORT:-8000}"
HOST="${RPS_SERVE_HOST:-127.0.0.1}"

log() { printf 'docker-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

dry_run=0
if [[ "${1:-}" == --dry-run ]]; then dry_run=1; shift; fi
# Real runs need an engine; scripts/docker-engine.sh starts one when it can or says why not.
if ((dry_run == 0)) && [[ "${1:-}" =~ ^(build-cli|build-serve|run-serve|push-serve)$ ]]; then
  "$ROOT/scripts/docker-engine.sh" ensure || exit 1
fi
docker_cmd() {
  if ((dry_run)); then
    printf '+ docker'
    printf ' %q' "$@"
    printf '\n'
  else
    docker "$@"
  fi
}

json_field() { # json_field FILE KEY.PATH -> value or nothing
  python3 - "$1" "$2" <<'PY'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(0)
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
if v is not None and not isinstance(v, (dict, list)):
    print(v)
PY
}

app_version() {
  local v
  v="$(json_field package.json version)"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "package.json has no semver version (found '$v')"
  printf 'v%s\n' "$v"
}

# The registry version of the exported model: RPS_MODEL_VERSION, else the registry.json that
# rps export-model writes next to the model ({"name", "version", "alias"}).
model_version() {
  local v="${RPS_MODEL_VERSION:-}"
  [[ -n "$v" ]] || v="$(json_field "$MODEL_DIR/registry.json" version)"
  [[ -n "$v" ]] || die "cannot tell the model version of $MODEL_DIR: no registry.json with a version (rps export-model writes it; or set RPS_MODEL_VERSION)"
  [[ "$v" =~ ^[0-9A-Za-z._-]+$ ]] || die "model version '$v' is not usable in an image tag"
  printf '%s\n' "$v"
}

model_name() {
  local n
  n="$(json_field "$MODEL_DIR/registry.json" name)"
  [[ -n "$n" ]] || n="$(json_field "$MODEL_DIR/model.json" name)"
  printf '%s\n' "${n:-unknown}"
}

revision() { git rev-parse HEAD 2>/dev/null || printf '%s\n' "${GITHUB_SHA:-unknown}"; }

short_revision() {
  local r
  r="$(revision)"
  [[ "$r" =~ ^[0-9a-f]{7,}$ ]] || die "no commit to tag the image with (not a git checkout and no GITHUB_SHA)"
  printf 'sha-%s\n' "${r:0:7}"
}

# The NODE_IMAGE build argument, or nothing for the Dockerfiles' official default.
node_image_args() {
  local official mode="${RPS_BASE_IMAGES:-auto}" local_image
  official="$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile.serve | head -n 1)"
  if [[ -n "${RPS_NODE_IMAGE:-}" ]]; then
    log "base image $RPS_NODE_IMAGE (RPS_NODE_IMAGE)"
    printf '%s\n' --build-arg "NODE_IMAGE=$RPS_NODE_IMAGE"
    return
  fi
  case "$mode" in
    official) return ;;
    local) ;;
    auto)
      if ((dry_run)); then return; fi
      if docker image inspect "$official" >/dev/null 2>&1 || docker pull -q "$official" >/dev/null 2>&1; then return; fi
      log "the official base $official cannot be pulled (no Docker Hub here): building on the local base of scripts/base-images.sh"
      ;;
    *) die "RPS_BASE_IMAGES must be official, local or auto, got '$mode'" ;;
  esac
  if ((dry_run)); then
    local_image="$(scripts/base-images.sh names | sed -n 's/^rps-base\/node:/&/p')"
    printf '%s\n' --build-arg "NODE_IMAGE=$local_image"
    return
  fi
  local_image="$(scripts/base-images.sh ensure node)" || die "cannot build the local base image (scripts/base-images.sh)"
  log "base image ${local_image#NODE_IMAGE=}"
  printf '%s\n' --build-arg "$local_image"
}

# Pushes go to RPS_IMAGE_REGISTRY/IMAGE, or Docker Hub's DOCKERHUB_USERNAME/IMAGE.
remote_repo() {
  if [[ -n "${RPS_IMAGE_REGISTRY:-}" ]]; then
    printf '%s/%s\n' "${RPS_IMAGE_REGISTRY%/}" "$IMAGE"
  elif [[ -n "${DOCKERHUB_USERNAME:-}" ]]; then
    printf '%s/%s\n' "$DOCKERHUB_USERNAME" "$IMAGE"
  else
    die "DOCKERHUB_USERNAME is not set (repository secret DOCKERHUB_USERNAME, with DOCKERHUB_TOKEN for docker login), nor RPS_IMAGE_REGISTRY"
  fi
}

build_cli() {
  local v args
  v="$(app_version)"
  mapfile -t args < <(node_image_args)
  docker_cmd build -f Dockerfile --target cli "${args[@]}" \
    --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.revision=$(revision)" \
    -t "$CLI_IMAGE:$v" .
}

build_serve() {
  local v mv sha args
  [[ "$MODEL_DIR" != /* && "$MODEL_DIR" != ..* ]] || die "RPS_MODEL_DIR must be a relative path inside the build context (the repository), got $MODEL_DIR"
  [[ "$MODEL_DIR" == build/model || "$MODEL_DIR" == build/model/* ]] || die "RPS_MODEL_DIR must be build/model or below it: .dockerignore keeps every other path out of the build context (got $MODEL_DIR)"
  [[ -f "$MODEL_DIR/model.json" ]] || die "$MODEL_DIR is not an exported model (no model.json): run rps export-model --alias champion --out $MODEL_DIR"
  v="$(app_version)"
  mv="$(model_version)"
  sha="$(short_revision)"
  mapfile -t args < <(node_image_args)
  docker_cmd build -f Dockerfile.serve "${args[@]}" \
    --build-arg "MODEL_DIR=$MODEL_DIR" \
    --label "model.name=$(model_name)" \
    --label "model.version=$mv" \
    --label "model.data_version=$(json_field "$MODEL_DIR/model.json" dataVersion)" \
    --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.revision=$(revision)" \
    -t "$IMAGE:$v" -t "$IMAGE:$sha" .
}

run_serve() {
  local v
  v="$(app_version)"
  if ((dry_run == 0)) && docker container inspect "$CONTAINER" >/dev/null 2>&1; then
    docker rm -f "$CONTAINER" >/dev/null
  fi
  docker_cmd run -d --name "$CONTAINER" -p "$HOST:$PORT:8000" "$IMAGE:$v"
}

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null; }

# Refuses when REF already exists in the registry and holds another image than LOCAL: pulls it
# (Docker's own auth and TLS) and compares the image ids (config digests).
refuse_overwrite() {
  local ref="$1" local_ref="$2" err ours theirs
  if ((dry_run)); then docker_cmd pull "$ref"; return; fi
  ours="$(image_id "$local_ref")" || die "no local image $local_ref: build it first (make image-serve)"
  if ! err="$(docker pull -q "$ref" 2>&1 >/dev/null)"; then
    if grep -qiE 'manifest unknown|not found|does not exist' <<<"$err"; then return 0; fi
    die "cannot tell whether $ref already exists: docker pull said: $err"
  fi
  theirs="$(image_id "$ref")"
  if [[ "$theirs" != "$ours" ]]; then
    die "refusing to push $ref: the registry already has this release with another image ($(docker image inspect --format '{{join .RepoDigests " "}}' "$ref"), image $theirs; this build is image $ours). A release tag is never overwritten: bump the version in package.json"
  fi
  log "$ref already holds this very image: pushing again changes nothing"
}

push_serve() {
  local v sha repo digest
  repo="$(remote_repo)"
  v="$(app_version)"
  sha="$(short_revision)"
  refuse_overwrite "$repo:$v" "$IMAGE:$v"
  docker_cmd tag "$IMAGE:$v" "$repo:$v"
  docker_cmd push "$repo:$v"
  docker_cmd tag "$IMAGE:$v" "$repo:$sha"
  docker_cmd push "$repo:$sha"
  ((dry_run)) && return
  digest="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$repo:$v" | grep -F "$repo@" | head -n 1)"
  [[ -n "$digest" ]] || die "pushed $repo:$v but docker reports no digest for it"
  if [[ -n "${RPS_IMAGE_DIGEST_FILE:-}" ]]; then
    printf '%s\n' "$digest" >"$RPS_IMAGE_DIGEST_FILE.tmp" && mv -f "$RPS_IMAGE_DIGEST_FILE.tmp" "$RPS_IMAGE_DIGEST_FILE"
  fi
  log "pushed $repo:$v and $repo:$sha"
  printf '%s\n' "$digest"
}

logs_serve() {
  docker_cmd inspect --format '{{json .State.Health}}' "$CONTAINER"
  docker_cmd logs --tail 200 "$CONTAINER"
}

case "${1:-}" in
  build-cli) build_cli ;;
  build-serve) build_serve ;;
  run-serve) run_serve ;;
  push-serve) push_serve ;;
  logs-serve) logs_serve ;;
  *) echo "usage: $0 [--dry-run] build-cli|build-serve|run-serve|push-serve|logs-serve" >&2; exit 2 ;;
esac
