#!/bin/bash
# Entrypoint of the local Postgres stand-in (scripts/local-images.sh): what docker-compose.yml uses
# of the official image's docker-entrypoint.sh. On an empty $PGDATA: initdb with POSTGRES_USER and
# POSTGRES_PASSWORD (scram-sha-256 over TCP, trust on the local socket), create POSTGRES_DB, run
# /docker-entrypoint-initdb.d/*.sql and *.sh against it; then exec postgres listening on every
# address. Started as root it fixes the data directory's owner and drops to the postgres user.
set -euo pipefail
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [[ "${1:-postgres}" != postgres ]]; then exec "$@"; fi
if [[ "$(id -u)" == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec runuser -u postgres -- /bin/bash "$0" "$@"
fi
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  [[ -n "${POSTGRES_PASSWORD:-}" ]] || { echo "postgres: POSTGRES_PASSWORD is not set (the official image refuses too)" >&2; exit 1; }
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 -q --username "$user" --no-password)
  if [[ "$db" != postgres ]]; then "${psql[@]}" --dbname postgres -c "CREATE DATABASE \"$db\""; fi
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "$f" ]] || continue
    case "$f" in
      *.sql) echo "postgres: running $f"; "${psql[@]}" --dbname "$db" -f "$f" ;;
      *.sh) echo "postgres: sourcing $f"; # shellcheck disable=SC1090
        . "$f" ;;
      *) echo "postgres: ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres: initialized $PGDATA (user $user, database $db)"
fi
shift || true
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
