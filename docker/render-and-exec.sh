#!/bin/sh
# Entrypoint of the Prometheus and Alertmanager containers of docker-compose.yml: render one of the
# monitoring/ templates the way scripts/monitoring.sh does (each listed ${NAME} replaced by that
# environment variable, nothing else), then exec the server. POSIX sh: the images are BusyBox-based.
# Usage: render-and-exec.sh TEMPLATE OUT "NAME ..." COMMAND [ARG...]
set -eu
if [ "$#" -lt 4 ]; then
  echo "usage: $0 TEMPLATE OUT \"NAME ...\" COMMAND [ARG...]" >&2
  exit 2
fi
template=$1
out=$2
names=$3
shift 3
cp "$template" "$out.tmp"
for name in $names; do
  case "$name" in *[!A-Z0-9_]* | "") echo "render: bad variable name '$name'" >&2; exit 2 ;; esac
  value=$(printenv "$name") || { echo "render: $name is not set" >&2; exit 1; }
  # Escape the sed replacement: backslash, the delimiter and &.
  escaped=$(printf '%s' "$value" | sed -e 's/[\\#&]/\\&/g')
  sed -i "s#\${$name}#$escaped#g" "$out.tmp"
done
mv "$out.tmp" "$out"
exec "$@"
