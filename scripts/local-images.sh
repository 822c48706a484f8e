#!/usr/bin/env bash
# Local stand-ins for the third-party images of docker-compose.yml that cannot be pulled here (no
# Docker Hub: air gap, this project's CI): Postgres, MinIO, Prometheus, Alertmanager, Redis, built
# on the offline Debian base of scripts/base-images.sh from Debian's packages (postgresql,
# prometheus, prometheus-alertmanager, redis-server) and, for MinIO, the binary
# scripts/install-minio.sh builds. They behave like the official images as far as
# docker-compose.yml uses them: same ports, data directories, command lines (/bin/prometheus,
# /bin/alertmanager, `minio server ...`, `redis-server`), POSTGRES_USER/PASSWORD/DB and
# /docker-entrypoint-initdb.d (docker/local-images/postgres-entrypoint.sh), and the tools of the
# healthchecks (pg_isready, wget, redis-cli; MinIO has no `mc`: see RPS_MINIO_HEALTHCHECK below).
# Usage: scripts/local-images.sh [ensure] [postgres|minio|prometheus|alertmanager|redis]...
#        (default: all five). Prints the compose variables that select them, one per line:
#          RPS_POSTGRES_IMAGE=rps-local/postgres:<tag>
#          RPS_MINIO_IMAGE=rps-local/minio:<tag>
#          RPS_MINIO_HEALTHCHECK=wget -q -O /dev/null http://127.0.0.1:9000/minio/health/ready
#          ...
#        so `set -a; source <(scripts/local-images.sh); set +a; docker compose up` uses them; without
#        them the official images stay the defaults.
# Tags are content hashes (the recipe below, the base image, the MinIO binary): an existing tag is
# reused (about a second), otherwise the image is built once. Needs a Docker engine and the Debian
# package archive (apt inside the build, as scripts/base-images.sh's python image).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="${RPS_STATE_DIR:-$ROOT/.rps/state}/local-images"
PREFIX="${RPS_LOCAL_IMAGE_PREFIX:-rps-local}"

log() { printf 'local-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
content_tag() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

# The Dockerfile of each image (FROM the Debian base); extra build-context files are listed by
# context_files. Debian package versions are not pinned: bookworm point releases replace them.
dockerfile() {
  case "$1" in
    postgres) cat <<'DF'
RUN mkdir -p /etc/postgresql-common/createcluster.d \
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/rps.conf \
 && apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/bash", "/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
DF
    ;;
    minio) cat <<'DF'
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wget ca-certificates \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data
COPY minio /usr/bin/minio
ENV MINIO_UPDATE=off
EXPOSE 9000 9001
VOLUME /data
ENTRYPOINT ["/usr/bin/minio"]
CMD ["server", "/data"]
DF
    ;;
    prometheus) cat <<'DF'
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus wget \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown 65534:65534 /prometheus \
 && test -x /bin/prometheus
USER 65534:65534
WORKDIR /prometheus
EXPOSE 9090
VOLUME /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
DF
    ;;
    alertmanager) cat <<'DF'
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus-alertmanager wget \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/prometheus-alertmanager /bin/alertmanager \
 && mkdir -p /alertmanager && chown 65534:65534 /alertmanager
USER 65534:65534
WORKDIR /alertmanager
EXPOSE 9093
VOLUME /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
DF
    ;;
    redis) cat <<'DF'
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
VOLUME /data
# The official image turns protected mode off when it runs without a config file: other containers
# of the compose network connect without a password.
ENTRYPOINT ["redis-server", "--protected-mode", "no", "--dir", "/data"]
DF
    ;;
    *) die "unknown image '$1' (postgres, minio, prometheus, alertmanager, redis)" ;;
  esac
}

minio_binary() {
  local m
  m="$(PATH="$ROOT/.rps/tools/bin:$PATH" command -v minio || true)"
  if [[ -z "$m" ]]; then
    "$ROOT/scripts/install-minio.sh" >&2 || die "no MinIO binary (scripts/install-minio.sh)"
    m="$ROOT/.rps/tools/bin/minio"
  fi
  printf '%s\n' "$m"
}

context_sum() {
  case "$1" in
    postgres) sha256sum <"$ROOT/docker/local-images/postgres-entrypoint.sh" ;;
    minio) sha256sum <"$(minio_binary)" ;;
    *) echo - ;;
  esac
}

image_name() { printf '%s/%s:%s\n' "$PREFIX" "$1" "$(content_tag "$DEBIAN_IMAGE" "$(dockerfile "$1")" "$(context_sum "$1")")"; }

build() {
  local what="$1" name ctx start
  name="$(image_name "$what")"
  if ! have_image "$name"; then
    ctx="$STATE/$what-ctx.$$"
    rm -rf "$ctx" && mkdir -p "$ctx"
    { echo "FROM $DEBIAN_IMAGE"; dockerfile "$what"; } >"$ctx/Dockerfile"
    case "$what" in
      postgres) cp "$ROOT/docker/local-images/postgres-entrypoint.sh" "$ctx/" ;;
      minio) cp "$(minio_binary)" "$ctx/minio" ;;
    esac
    log "building $name"
    start=$SECONDS
    docker build -q -t "$name" "$ctx" >/dev/null 2>"$STATE/$what-build.log" \
      || { tail -n 30 "$STATE/$what-build.log" >&2; die "building $name failed (see $STATE/$what-build.log)"; }
    rm -rf "$ctx"
    log "built $name in $((SECONDS - start))s"
  fi
  case "$what" in
    postgres) echo "RPS_POSTGRES_IMAGE=$name" ;;
    minio) echo "RPS_MINIO_IMAGE=$name"
      echo "RPS_MINIO_HEALTHCHECK=wget -q -O /dev/null http://127.0.0.1:9000/minio/health/ready" ;;
    prometheus) echo "RPS_PROMETHEUS_IMAGE=$name" ;;
    alertmanager) echo "RPS_ALERTMANAGER_IMAGE=$name" ;;
    redis) echo "RPS_REDIS_IMAGE=$name" ;;
  esac
}

[[ "${1:-}" == ensure ]] && shift
(($#)) || set -- postgres minio prometheus alertmanager redis
for what in "$@"; do dockerfile "$what" >/dev/null; done
command -v docker >/dev/null || die "no docker client (scripts/docker-engine.sh ensure installs one)"
timeout 20 docker info >/dev/null 2>&1 || die "no Docker engine answers (scripts/docker-engine.sh ensure)"
DEBIAN_IMAGE="$("$ROOT/scripts/base-images.sh" ensure debian)" || die "cannot build the Debian base (scripts/base-images.sh)"
DEBIAN_IMAGE="${DEBIAN_IMAGE#DEBIAN_IMAGE=}"
mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9 # one build per content tag even when several runs start at once
for what in "$@"; do build "$what"; done
