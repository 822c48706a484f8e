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
# Compose requires its secrets (no defaults): validated with freshly generated ones, never the
# developer's .env; and without any, it must refuse and name each missing variable.
secrets_dir="$(mktemp -d)"
trap 'rm -f "$out"; rm -rf "$secrets_dir"' EXIT
scripts/env-file.sh "$secrets_dir/compose.env" 2>/dev/null
compose_cfg() { env -i PATH="$PATH" HOME="$HOME" docker-compose --env-file "$secrets_dir/compose.env" -f docker-compose.yml "$@"; }
check "compose config docker-compose.yml" compose_cfg config -q
check "compose config docker-compose.yml --profile celery" compose_cfg --profile celery config -q
compose_refuses_without_secrets() {
  local err name missing=0
  if err="$(env -i PATH="$PATH" HOME="$HOME" docker-compose --env-file /dev/null -f docker-compose.yml config -q 2>&1)"; then
    echo "docker compose config passed without any secret"
    return 1
  fi
  # shellcheck disable=SC2016 # a literal ${ to find in the file
  for name in $(grep -o '\${[A-Z0-9_]*:?' docker-compose.yml | sort -u | tr -dc 'A-Z0-9_\n'); do
    grep -qF "required variable $name is missing a value: $name is required: run scripts/env-file.sh or make up" <<< "$err" ||
      { echo "no error names $name"; missing=1; }
    grep -q "^$name=" "$secrets_dir/compose.env" || { echo "scripts/env-file.sh does not generate $name"; missing=1; }
  done
  return "$missing"
}
check "compose refuses to start without its secrets, naming each (scripts/env-file.sh generates them)" compose_refuses_without_secrets

# Bind-mount sources must exist: Docker would silently create an empty directory in their place.
mounts_exist() {
  local missing=0 src
  while IFS= read -r src; do
    [[ -e "$src" ]] || { echo "missing bind-mount source: ${src#"$ROOT"/}"; missing=1; }
  done < <(compose_cfg --profile celery config --format json |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print("\n".join(sorted({v["source"] for s in c["services"].values() for v in s.get("volumes", []) if v.get("type") == "bind"})))')
  return "$missing"
}
check "compose bind-mount sources exist" mounts_exist

echo "infra-lint: $passed passed, $failed failed"
((failed == 0))
