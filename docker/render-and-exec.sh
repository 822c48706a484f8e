#!/bin/sh
# Entrypoint of the Prometheus and Alertmanager containers of docker-compose.yml: render one of the
# monitoring/ templates the way scripts/monitoring.sh does (each listed ${NAME} replaced by that
# environment variable, nothing else), then exec the server. POSIX sh: the images are BusyBox-based.
# The templates address their peers on 127.0.0.1 (one host, `make up`); in compose each service has
# its own network namespace, so RPS_RENDER_REPLACE ("FROM=TO ...", e.g. "127.0.0.1:9093=alertmanager:9093")
# rewrites those literal addresses after rendering.
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
for pair in ${RPS_RENDER_REPLACE:-}; do
  case "$pair" in *=*) ;; *) echo "render: RPS_RENDER_REPLACE entry '$pair' is not FROM=TO" >&2; exit 2 ;; esac
  from=$(printf '%s' "${pair%%=*}" | sed -e 's/[]\\#&.*^$[]/\\&/g')
  to=$(printf '%s' "${pair#*=}" | sed -e 's/[\\#&]/\\&/g')
  sed -i "s#$from#$to#g" "$out.tmp"
done
# shellcheck disable=SC2016 # a literal ${RPS_ in the rendered file, not an expansion
if grep -q '\${RPS_' "$out.tmp"; then
  # shellcheck disable=SC2016
  echo "render: $template still holds $(grep -o '\${RPS_[A-Z0-9_]*}' "$out.tmp" | sort -u | tr '\n' ' ')after rendering (add them to the NAME list)" >&2
  exit 1
fi
mv "$out.tmp" "$out"
exec "$@"
