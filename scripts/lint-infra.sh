#!/usr/bin/env bash
# Lint of everything around the code: GitHub workflows (actionlint, with ShellCheck on their run:
# blocks), Dockerfiles (hadolint), shell scripts (ShellCheck), docker-compose.yml (`docker compose
# config`, the Compose spec validation of the real Compose binary; no Docker engine needed, with
# and without the celery profile) and the files the compose file mounts. Tools come from
# scripts/install-ci-tools.sh (pinned). One line per check, then `infra-lint: N passed, N failed`.
# Exit 1 on any finding.
# Usage: scripts/lint-infra.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/install-ci-tools.sh"
VENV="${RPS_CI_VENV:-$ROOT/.rps/venv-ci}"
export PATH="$VENV/bin:$PATH"

passed=0
failed=0
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# check NAME CMD...: run CMD; its output is shown only when it fails.
check() {
  local name="$1"
  shift
  if "$@" > "$out" 2>&1; then
    passed=$((passed + 1))
    printf 'ok    %s\n' "$name"
  else
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$name"
    sed 's/^/      /' "$out"
  fi
}

# Bash scripts without an extension (scripts/protect-branches, ...): found by their shebang.
bash_scripts=()
for f in scripts/*; do
  [[ -f "$f" && "$f" != *.* ]] || continue
  if head -n 1 "$f" | grep -Eq '^#!.*\b(ba)?sh\b'; then bash_scripts+=("$f"); fi
done

for wf in .github/workflows/*.yml; do
  check "actionlint $wf" actionlint -no-color -oneline "$wf"
done
for df in Dockerfile Dockerfile.serve docker/*.Dockerfile; do
  [[ -f "$df" ]] || continue
  check "hadolint $df" hadolint --no-color "$df"
done
for sh in scripts/*.sh scripts/lib/*.sh docker/*.sh docker/local-images/*.sh "${bash_scripts[@]}"; do
  check "shellcheck $sh" shellcheck -x "$sh"
done
check "compose config docker-compose.yml" docker-compose -f docker-compose.yml config -q
check "compose config docker-compose.yml --profile celery" docker-compose -f docker-compose.yml --profile celery config -q

# Bind-mount sources must exist: Docker would silently create an empty directory in their place.
mounts_exist() {
  local missing=0 src
  while IFS= read -r src; do
    [[ -e "$src" ]] || { echo "missing bind-mount source: ${src#"$ROOT"/}"; missing=1; }
  done < <(docker-compose -f docker-compose.yml --profile celery config --format json |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print("\n".join(sorted({v["source"] for s in c["services"].values() for v in s.get("volumes", []) if v.get("type") == "bind"})))')
  return "$missing"
}
check "compose bind-mount sources exist" mounts_exist

echo "infra-lint: $passed passed, $failed failed"
((failed == 0))
