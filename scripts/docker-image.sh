#!/usr/bin/env bash
# Docker delivery of rps (docs/CICD.md): the CLI image (Dockerfile) and the serving image
# (Dockerfile.serve, the exported @champion baked in). Tags come from package.json's version.
# Usage: scripts/docker-image.sh [--dry-run] COMMAND
#   build-cli    docker build -f Dockerfile -t rps:vX.Y.Z .
#   build-serve  docker build -f Dockerfile.serve with the model directory $RPS_MODEL_DIR
#                (default build/model, from `rps export-model`, which also writes registry.json
#                {name, version, alias}), tags app:vX.Y.Z and
#                app:vX.Y.Z-model.N, labels model.name, model.version, OCI version/revision
#   run-serve    (re)start container rps-serve from app:vX.Y.Z: docker run -d -p 8000:8000
#   push-serve   tag both serve tags as $DOCKERHUB_USERNAME/app:... and push them
#   logs-serve   the container's health state and log (for a failed job)
#   --dry-run    print the docker commands instead of running them
# Env: RPS_IMAGE_NAME (default app), RPS_CLI_IMAGE_NAME (default rps), RPS_MODEL_DIR,
# RPS_MODEL_VERSION (default: read from the model directory), RPS_SERVE_CONTAINER (default
# rps-serve), RPS_SERVE_PORT (default 8000), DOCKERHUB_USERNAME (push-serve).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

IMAGE="${RPS_IMAGE_NAME:-app}"
CLI_IMAGE="${RPS_CLI_IMAGE_NAME:-rps}"
MODEL_DIR="${RPS_MODEL_DIR:-build/model}"
CONTAINER="${RPS_SERVE_CONTAINER:-rps-serve}"
PORT="${RPS_SERVE_PORT:-8000}"

log() { printf 'docker-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

dry_run=0
if [[ "${1:-}" == --dry-run ]]; then dry_run=1; shift; fi
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

build_cli() {
  local v
  v="$(app_version)"
  docker_cmd build -f Dockerfile \
    --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.revision=$(revision)" \
    -t "$CLI_IMAGE:$v" .
}

build_serve() {
  local v mv
  [[ "$MODEL_DIR" != /* && "$MODEL_DIR" != ..* ]] || die "RPS_MODEL_DIR must be a relative path inside the build context (the repository), got $MODEL_DIR"
  [[ -f "$MODEL_DIR/model.json" ]] || die "$MODEL_DIR is not an exported model (no model.json): run rps export-model --alias champion --out $MODEL_DIR"
  v="$(app_version)"
  mv="$(model_version)"
  docker_cmd build -f Dockerfile.serve \
    --build-arg "MODEL_DIR=$MODEL_DIR" \
    --label "model.name=$(model_name)" \
    --label "model.version=$mv" \
    --label "org.opencontainers.image.version=$v" \
    --label "org.opencontainers.image.revision=$(revision)" \
    -t "$IMAGE:$v" -t "$IMAGE:$v-model.$mv" .
}

run_serve() {
  local v
  v="$(app_version)"
  if ((dry_run == 0)) && docker container inspect "$CONTAINER" >/dev/null 2>&1; then
    docker rm -f "$CONTAINER" >/dev/null
  fi
  docker_cmd run -d --name "$CONTAINER" -p "$PORT:8000" "$IMAGE:$v"
}

push_serve() {
  local v mv user="${DOCKERHUB_USERNAME:-}" tag
  [[ -n "$user" ]] || die "DOCKERHUB_USERNAME is not set (repository secret DOCKERHUB_USERNAME, with DOCKERHUB_TOKEN for docker login)"
  v="$(app_version)"
  mv="$(model_version)"
  for tag in "$v" "$v-model.$mv"; do
    docker_cmd tag "$IMAGE:$tag" "$user/$IMAGE:$tag"
    docker_cmd push "$user/$IMAGE:$tag"
  done
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
