#!/usr/bin/env bash
# CI (ci-test.yml, job test-promote-candidate, environment production-registry): code was merged
# into test; promote the candidate this same job trained from the merged code (make dag-test-ci) and
# compared with production's @champion (make ci-compare), through the same gate as any promotion
# (docs/cicd-workflows.md, docs/credentials.md):
#   bin/rps promote --from-alias $RPS_CANDIDATE_ALIAS --reason "merged into test (commit <sha>)"
# rps promote takes the version behind the alias merge-<run id> and promotes it only when the
# comparison recorded on that version passed against the registry's current @champion. Nothing a
# pull request's gate wrote is read: that gate could write nothing in production. A candidate that
# lost, or whose comparison is stale (production's champion moved since), is refused: exit 10, the
# job is red. Without a shared registry (RPS_SHARED_REGISTRY=false: the secret MLFLOW_TRACKING_URI is
# unset) the candidate lives in this job's own MLflow, gone with its runner: nothing to promote,
# said as a warning (and deliver will then train on its runner, which it says in red).
# Usage: scripts/ci-promote.sh
# Env: RPS_CANDIDATE_ALIAS (merge-<run id> or pr-<number>, required), RPS_SHARED_REGISTRY (true/false, required),
# RPS_PR_NUMBER (for the recorded reason), RPS_BIN (default bin/rps), GITHUB_STEP_SUMMARY.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RPS_BIN="${RPS_BIN:-$ROOT/bin/rps}"
OUT=reports/promote

log() { printf 'ci-promote: %s\n' "$*" >&2; }
summary() { if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then printf '%s\n' "$@" >> "$GITHUB_STEP_SUMMARY"; fi; }

alias="${RPS_CANDIDATE_ALIAS:-}"
[[ "$alias" =~ ^(merge|pr)-[0-9]+$ ]] || { log "RPS_CANDIDATE_ALIAS='$alias': expected merge-<run id> or pr-<number> (ci-test.yml sets it)"; exit 2; }
case "${RPS_SHARED_REGISTRY:-}" in
  true) ;;
  false)
    echo "::warning title=No shared registry: nothing promoted::The candidate @$alias lives in this job's own MLflow on its runner. Set the registry secrets (docs/credentials.md) so that merged candidates are promoted and delivered."
    summary "> [!WARNING]" "> No shared registry (secret \`MLFLOW_TRACKING_URI\` unset): the candidate \`@$alias\` lives on this runner; nothing was promoted."
    log "no shared registry: nothing to promote"
    exit 0
    ;;
  *) log "RPS_SHARED_REGISTRY='${RPS_SHARED_REGISTRY:-}': expected true or false"; exit 2 ;;
esac

mkdir -p "$OUT"
if [[ -n "${RPS_PR_NUMBER:-}" ]]; then
  reason="pull request #$RPS_PR_NUMBER merged into test"
else
  reason="merged into test (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
fi
code=0
"$RPS_BIN" promote --from-alias "$alias" --reason "$reason" --json > "$OUT/promote.json" || code=$?
read -r action champion previous message < <(python3 - "$OUT/promote.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    r = {}
err = (r.get("error") or {}).get("message", "")
print(r.get("action", "-"), r.get("champion", "-"), r.get("previousChampion") or "-", " ".join(err.split()) or "-")
PY
)
if ((code != 0)); then
  echo "::error title=Candidate @$alias not promoted::rps promote exited $code: ${message}"
  summary "## 🔴 Candidate \`@$alias\` not promoted" "" "rps promote exited $code: ${message}"
  log "FAILED: rps promote --from-alias $alias exited $code"
  exit "$code"
fi
log "$action: @champion = v$champion (previous v$previous) from @$alias"
summary "## Candidate \`@$alias\` $action" "" "\`@champion\` = v$champion (was v$previous): $reason."
