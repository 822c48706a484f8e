#!/usr/bin/env bash
# The secrets docker-compose.yml requires (and `make up` uses), in a .env file only its owner can
# read: creates the file with mode 600 when it is missing, tightens an existing one to 600, and for
# each variable below that the file does not set (absent or empty) writes a random value. A value
# already in the file is never changed (MinIO, Postgres and Grafana keep the credentials their data
# volumes were created with). Values are printed nowhere.
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   MinIO root user (S3 clients, the DVC remote)
#   POSTGRES_PASSWORD                           Postgres of MLflow and Airflow (POSTGRES_USER: rps)
#   AIRFLOW_JWT_SECRET                          Airflow's [api_auth] jwt_secret (one for all components)
#   GRAFANA_ADMIN_PASSWORD                      Grafana's admin (GRAFANA_ADMIN_USER: admin)
#   RPS_ALERT_SINK_TOKEN                        bearer token of `rps alerts-sink` (Alertmanager sends it)
# Usage: scripts/env-file.sh [FILE]        (default: $RPS_ENV_FILE, else .env in the repository)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FILE="${1:-${RPS_ENV_FILE:-$ROOT/.env}}"
umask 077

log() { printf 'env-file: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# The generator of each variable: MinIO accepts access keys of 3-20 and secret keys of 8-40 characters.
declare -A GENERATE=(
  [AWS_ACCESS_KEY_ID]="rps-$(hex 8)"
  [AWS_SECRET_ACCESS_KEY]="$(hex 20)"
  [POSTGRES_PASSWORD]="$(hex 24)"
  [AIRFLOW_JWT_SECRET]="$(hex 32)"
  [GRAFANA_ADMIN_PASSWORD]="$(hex 16)"
  [RPS_ALERT_SINK_TOKEN]="$(hex 32)"
)
ORDER=(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY POSTGRES_PASSWORD AIRFLOW_JWT_SECRET GRAFANA_ADMIN_PASSWORD RPS_ALERT_SINK_TOKEN)

if [[ "$FILE" == /dev/null ]]; then
  log "the env file is /dev/null (RPS_ENV_FILE): nothing to generate"
  exit 0
fi
# Never write through a symlink or into something that is not a regular file.
[[ ! -L "$FILE" ]] || die "$FILE is a symbolic link: refusing to write secrets through it"
[[ ! -e "$FILE" || -f "$FILE" ]] || die "$FILE exists and is not a regular file"
if [[ ! -e "$FILE" ]]; then
  mkdir -p "$(dirname "$FILE")"
  # noclobber: fails instead of following anything created at that path since the check above.
  (set -C && printf '# rps secrets and settings (mode 600, git-ignored): scripts/env-file.sh; see .env.example\n' > "$FILE") ||
    die "could not create $FILE"
  log "created $FILE (mode 600)"
fi
if [[ "$(stat -c %a "$FILE")" != 600 ]]; then
  chmod 600 "$FILE"
  log "$FILE was readable by others: now mode 600"
fi

# value_in FILE NAME: the value the file gives NAME (first assignment, as scripts/lib/common.sh
# reads it; quotes removed), empty when it gives none.
value_in() {
  sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$2=(.*)$/\\2/p" "$1" | head -n 1 |
    sed -E -e 's/[[:space:]]+#.*$//' -e 's/[[:space:]]+$//' -e "s/^\"(.*)\"$/\\1/" -e "s/^'(.*)'$/\\1/"
}

added=()
tmp="$(mktemp "$(dirname "$FILE")/.env-file.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cp "$FILE" "$tmp"
for name in "${ORDER[@]}"; do
  [[ -z "$(value_in "$tmp" "$name")" ]] || continue
  value="${GENERATE[$name]}"
  if grep -qE "^[[:space:]]*(export[[:space:]]+)?$name=" "$tmp"; then
    # Set but empty (e.g. copied from .env.example): filled in place, so no later line shadows it.
    sed -i -E "0,/^[[:space:]]*(export[[:space:]]+)?$name=.*$/s//$name=$value/" "$tmp"
  else
    [[ -z "$(tail -c 1 "$tmp")" ]] || echo >> "$tmp"
    printf '%s=%s\n' "$name" "$value" >> "$tmp"
  fi
  added+=("$name")
done
if ((${#added[@]})); then
  mv -f "$tmp" "$FILE"
  log "generated ${added[*]} in $FILE"
fi
for name in AWS_SECRET_ACCESS_KEY POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD; do
  case "$(value_in "$FILE" "$name")" in
    rps-local-secret-change-me | rps-local-change-me) log "warning: $name in $FILE is the published example value: replace it (and recreate that service's data) before this stack leaves loopback" ;;
  esac
done
