#!/usr/bin/env bash
# CI (ci-test.yml, job test-promote-candidate): a pull request into test was merged; promote the
# candidate its model gate passed, through the same gate as any promotion (docs/cicd-workflows.md):
#   bin/rps promote --from-alias $RPS_CANDIDATE_ALIAS --reason "pull request #N merged into test"
# rps promote takes the version behind the alias pr-<N> (the one the gate's last run trained and
# scored) and promotes it only when the comparison recorded on that version (rps compare
# --challenger pr-<N>) passed against the registry's current @champion. A candidate that lost, or
# whose comparison is stale (production's champion moved since), is refused: exit 10, the job is red.
# Without a shared registry (RPS_SHARED_REGISTRY=false: the secret MLFLOW_TRACKING_URI is unset) the
# candidate lived in the gate job's own MLflow, gone with its runner: nothing to promote, said as a
# warning (and deliver will then train on its runner, which it says in red).
# Usage: scripts/ci-promote.sh
# Env: RPS_CANDIDATE_ALIAS (pr-<number>, required), RPS_SHARED_REGISTRY (true/false, required),
# RPS_PR_NUMBER (for the recorded reason), RPS_BIN (default bin/rps), GITHUB_STEP_SUMMARY.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RPS_BIN="${RPS_BIN:-$ROOT/bin/rps}"
OUT=reports/promote

log() { printf 'ci-promote: %s\n' "$*" >&2; }
summary() { if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then printf '%s\n' "$@" >> "$GITHUB_STEP_SUMMARY"; fi; }

alias="${RPS_CANDIDATE_ALIAS:-}"
[[ "$alias" =~ ^pr-[0-9]+$ ]] || { log "RPS_CANDIDATE_ALIAS='$alias': expected pr-<number> (ci-test.yml sets it from the pull request)"; exit 2; }
case "${RPS_SHARED_REGISTRY:-}" in
  true) ;;
  false)
    echo "::warning title=No shared registry: nothing promoted::The candidate @$alias lived in the model gate's own MLflow on its runner. Set the registry secrets (docs/cicd-delivery.md) so that merged candidates are promoted and delivered."
    summary "> [!WARNING]" "> No shared registry (secret \`MLFLOW_TRACKING_URI\` unset): the model gate's candidate \`@$alias\` lived on its runner; nothing was promoted."
    log "no shared registry: nothing to promote"
    exit 0
    ;;
  *) log "RPS_SHARED_REGISTRY='${RPS_SHARED_REGISTRY:-}': expected true or false"; exit 2 ;;
esac

mkdir -p "$OUT"
reason="pull request #${RPS_PR_NUMBER:-${alias#pr-}} merged into test"
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
