#!/usr/bin/env bash
# Headless Chromium (Debian package) for the profile report's screenshot test.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then echo "install-chromium: run as root or install the 'chromium' package yourself" >&2; exit 1; fi
echo "install: apt-get install chromium (only \`make test\` needs it: the profile report's screenshot test)" >&2
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
# apt's and dpkg's progress, debconf and needrestart lines go to a log shown only on failure.
apt_log="$(mktemp)"
trap 'rm -f "$apt_log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } > "$apt_log" 2>&1; then
  tail -n 40 "$apt_log" >&2
  echo "install-chromium: apt-get install chromium failed (output above)" >&2
  exit 1
fi
