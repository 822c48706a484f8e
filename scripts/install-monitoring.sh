#!/usr/bin/env bash
# Prometheus and Alertmanager from Debian (bookworm: Prometheus 2.42, Alertmanager 0.25) for
# scripts/monitoring.sh. Nothing to do (well under a second) when /usr/bin/prometheus, promtool,
# prometheus-alertmanager and amtool are all there. Otherwise `apt-get install` them, after one
# `apt-get update` when apt does not know the packages yet.
#
# The packages' maintainer scripts want to start system services (Prometheus on :9090,
# Alertmanager on :9093, as user prometheus, with /etc/prometheus configs). rps starts its own
# instances (scripts/monitoring.sh), so the install runs under a policy-rc.d that forbids service
# starts (a temporary one when the machine has none; Docker-style images already have one), and
# anything the packages started anyway is stopped afterwards by pid. Recommends (node-exporter, another
# service) are not installed.
# Usage: scripts/install-monitoring.sh
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

BINARIES=(/usr/bin/prometheus /usr/bin/promtool /usr/bin/prometheus-alertmanager /usr/bin/amtool)
PACKAGES=(prometheus prometheus-alertmanager)
POLICY=/usr/sbin/policy-rc.d

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$b" ]] || return 1; done
}
if have_all; then exit 0; fi

[[ "$(id -u)" == 0 ]] || die "missing ${BINARIES[*]}; run as root (apt-get install ${PACKAGES[*]})"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Prometheus >= 2.42 and Alertmanager >= 0.25 so that ${BINARIES[*]} exist"

mkdir -p "$RPS_RUN_DIR"
exec 9> "$RPS_RUN_DIR/install-monitoring.lock"
flock -w 600 9 || die "another install-monitoring.sh holds $RPS_RUN_DIR/install-monitoring.lock"
if have_all; then exit 0; fi   # another run installed them while we waited

# Pids of Prometheus/Alertmanager processes that exist now: those are not ours to touch later.
service_pids() {
  local p exe
  for p in /proc/[0-9]*; do
    exe="$(readlink "$p/exe" 2>/dev/null)" || continue
    case "$exe" in
      /usr/bin/prometheus | /usr/bin/prometheus-alertmanager | /usr/bin/prometheus-node-exporter) echo "${p#/proc/}" ;;
    esac
  done
}
before=" $(service_pids | tr '\n' ' ') "

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
need_update=0
for p in "${PACKAGES[@]}"; do
  c="$(candidate "$p")"
  if [[ -z "$c" || "$c" == "(none)" ]]; then need_update=1; fi
done
start=$SECONDS
# apt's and dpkg's progress, debconf and needrestart lines go to a log shown only on failure.
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
apt_log="$(mktemp)"
apt_quiet() {
  if ! apt-get "$@" > "$apt_log" 2>&1; then
    tail -n 40 "$apt_log" >&2
    return 1
  fi
}
if ((need_update)); then
  log "apt-get update (package lists do not know ${PACKAGES[*]} yet)"
  apt_quiet update -qq || die "apt-get update failed (output above)"
fi

made_policy=0
if [[ ! -e "$POLICY" ]]; then
  printf '#!/bin/sh\n# temporary, from rps scripts/install-monitoring.sh: no service starts during the install\nexit 101\n' > "$POLICY"
  chmod 755 "$POLICY"
  made_policy=1
  trap 'rm -f "$POLICY"' EXIT
fi

log "apt-get install ${PACKAGES[*]}"
apt_quiet install -y -qq --no-install-recommends "${PACKAGES[@]}" ||
  die "apt-get install ${PACKAGES[*]} failed (output above)"
rm -f "$apt_log"
if ((made_policy)); then rm -f "$POLICY"; trap - EXIT; fi

# Whatever the packages started despite the policy: stop it (by pid) and keep it from starting
# at boot on machines with an init system.
for pid in $(service_pids); do
  [[ "$before" == *" $pid "* ]] && continue
  log "stopping $(readlink "/proc/$pid/exe" 2>/dev/null) (pid $pid) started by the package install"
  kill -TERM "$pid" 2>/dev/null || true
done
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl disable --now prometheus.service prometheus-alertmanager.service >&2 2>/dev/null || true
elif command -v update-rc.d >/dev/null 2>&1; then
  for s in prometheus prometheus-alertmanager; do
    if [[ -e "/etc/init.d/$s" ]]; then update-rc.d "$s" disable >/dev/null 2>&1 || true; fi
  done
fi

have_all || die "apt-get install finished but one of ${BINARIES[*]} is missing"
log "installed in $((SECONDS - start))s: $(/usr/bin/prometheus --version 2>&1 | head -n 1); $(/usr/bin/prometheus-alertmanager --version 2>&1 | head -n 1)"
