#!/bin/sh
# Entrypoint of the Grafana container of docker-compose.yml: the provisioning files of grafana/
# address Prometheus and Alertmanager on 127.0.0.1 (one host, `make up`); here each service has its
# own network namespace. Copy them, rewrite those addresses (RPS_RENDER_REPLACE, "FROM=TO ..."),
# and leave out alerting/: in compose the one alert path is Prometheus -> Alertmanager ->
# alerts-sink, so no alert reaches the sink twice. Then exec Grafana's own entrypoint.
set -eu
src=/etc/rps/grafana/provisioning
out=/tmp/rps-grafana-provisioning
rm -rf "$out"
mkdir -p "$out"
for sub in datasources dashboards plugins; do
  if [ -d "$src/$sub" ]; then cp -R "$src/$sub" "$out/$sub"; fi
done
mkdir -p "$out/alerting"
for pair in ${RPS_RENDER_REPLACE:-}; do
  from=$(printf '%s' "${pair%%=*}" | sed -e 's/[]\\#&.*^$[]/\\&/g')
  to=$(printf '%s' "${pair#*=}" | sed -e 's/[\\#&]/\\&/g')
  find "$out" -type f -name '*.yml' -exec sed -i "s#$from#$to#g" {} +
done
export GF_PATHS_PROVISIONING="$out"
exec /run.sh "$@"
