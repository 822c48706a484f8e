#!/usr/bin/env bash
# Headless Chromium (Debian package) for the profile report's screenshot test.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [[ $(id -u) -ne 0 ]]; then echo "install-chromium: run as root or install the 'chromium' package yourself" >&2; exit 1; fi
echo "install: apt-get install chromium" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
