#!/usr/bin/env bash
# CI wiring of `rps compare` (docs/cicd-workflows.md). The comparison and its verdict are two workflow steps,
# so that the report is published (CML comment, job summary, artifact) whatever the verdict:
# Usage: scripts/ci-compare.sh run|publish|gate
#   run   `rps compare --json --lose-exit-code 10 [--challenger $RPS_CANDIDATE_ALIAS]
#         [--champion-dir $RPS_CI_CHAMPION_MODEL_DIR]` (the pull request's candidate against
#         @champion, or against production's champion that make ci-champion exported there, when
#         that directory holds a model): the report goes to reports/compare/ (report.md,
#         report.json, PNG plots; written by rps), stdout to compare.json, the exit code to
#         exit-code. Exits 0 when the comparison ran, whether the challenger won (rps exit 0) or
#         lost (exit 10); any other exit of rps is an error and is passed on.
#   publish  `cml comment update` of report.md: one comment per pull request (CML's watermark),
#         updated on each push. A comment that cannot be posted (a fork's read-only token, no
#         token, GitHub down) is a warning on the job page and in the summary, not a failure: the
#         report is in the job summary and the compare-report artifact, and the verdict is the
#         gate step's alone. Exits non-zero only when there is no report to publish.
#   gate  exits 0 when the recorded verdict is a win, 1 when the challenger lost, when no verdict
#         was recorded (the run step did not run or crashed), or when report.json disagrees.
# Env: RPS_CANDIDATE_ALIAS (pr-<number>; unset: @challenger), RPS_CI_CHAMPION_MODEL_DIR, RPS_BIN (default bin/rps), RPS_COMPARE_DIR (default reports/compare), GITHUB_STEP_SUMMARY
# (set by GitHub Actions: the markdown report is appended to the job summary).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RPS_BIN="${RPS_BIN:-$ROOT/bin/rps}"
DIR="${RPS_COMPARE_DIR:-reports/compare}"
LOSE_EXIT_CODE=10
# CML's hidden marker of our comment: `cml comment update` replaces the comment carrying it.
WATERMARK="rps model gate"

log() { printf 'compare-gate: %s\n' "$*" >&2; }

# report_fields: decision, passed, challenger and champion versions, delta RMSE, tolerance from
# report.json, tab-separated ('-' when the file or a field is missing).
report_fields() {
  python3 - "$DIR/report.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    r = {}
def get(path):
    v = r
    for k in path.split("."):
        v = v.get(k) if isinstance(v, dict) else None
    return "-" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
print("\t".join(get(p) for p in ("decision", "passed", "challenger.version", "champion.version", "deltaRmse", "toleranceRmse")))
PY
}

run() {
  mkdir -p "$DIR"
  rm -f "$DIR/exit-code"
  local code=0 args=(compare --json --lose-exit-code "$LOSE_EXIT_CODE")
  if [[ -n "${RPS_CANDIDATE_ALIAS:-}" ]]; then args+=(--challenger "$RPS_CANDIDATE_ALIAS"); fi
  local champion_dir="${RPS_CI_CHAMPION_MODEL_DIR:-}"
  if [[ -n "$champion_dir" && -f "$champion_dir/model.json" ]]; then args+=(--champion-dir "$champion_dir"); fi
  "$RPS_BIN" "${args[@]}" > "$DIR/compare.json" || code=$?
  echo "$code" > "$DIR/exit-code"
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" && -f "$DIR/report.md" ]]; then
    cat "$DIR/report.md" >> "$GITHUB_STEP_SUMMARY"
  fi
  case "$code" in
    0) echo "rps compare: challenger wins (the gate step will pass)" >&2 ;;
    "$LOSE_EXIT_CODE") echo "rps compare: challenger loses (the report is published first; the gate step fails the job)" >&2 ;;
    *) echo "rps compare failed with exit code $code: no verdict" >&2; exit "$code" ;;
  esac
}

publish() {
  local md="$DIR/report.md" code=0 out
  if [[ ! -f "$md" ]]; then
    log "no report at $md: nothing to publish"
    exit 1
  fi
  out="$(cml comment update --watermark-title="$WATERMARK" "$md" 2>&1)" || code=$?
  printf '%s\n' "$out" >&2
  if ((code == 0)); then
    log "report posted on the pull request (one comment, updated on each push)"
    return 0
  fi
  local why
  why="$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | tail -n 1 | cut -c1-300)"
  echo "::warning title=Report not posted on the pull request::cml comment update exited $code (${why:-no output}). A pull request from a fork gets a read-only token. The report is in the job summary and the compare-report artifact; the gate step decides."
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    # shellcheck disable=SC2016 # markdown backticks, not expansions
    printf '\n> [!WARNING]\n> The report above could not be posted as a pull request comment (`cml comment update` exited %s: %s). It is also in the `compare-report` artifact. The verdict is the gate step'"'"'s, whatever happened to the comment.\n' "$code" "${why:-no output}" >> "$GITHUB_STEP_SUMMARY"
  fi
  return 0
}

gate() {
  local code decision passed challenger champion delta tolerance
  if [[ ! -f "$DIR/exit-code" ]]; then
    log "FAILED: no verdict in $DIR/exit-code: the compare step did not run or crashed"
    exit 1
  fi
  code="$(cat "$DIR/exit-code")"
  IFS=$'\t' read -r decision passed challenger champion delta tolerance < <(report_fields)
  # '-' marks a missing field: empty it, so the ${x:+...} and ${x:-?} below apply.
  for v in decision passed challenger champion delta tolerance; do [[ "${!v}" != - ]] || printf -v "$v" '%s' ""; done
  case "$code" in
    0)
      if [[ "$passed" == false ]]; then
        log "FAILED: rps compare exited 0 but $DIR/report.json says passed=false (decision $decision)"
        exit 1
      fi
      log "passed: ${decision:-challenger wins}: challenger v${challenger:-?}${champion:+ vs champion v$champion}${delta:+ (delta RMSE $delta)}"
      ;;
    "$LOSE_EXIT_CODE")
      log "FAILED: ${decision:-challenger_loses}: challenger v${challenger:-?} is worse than champion v${champion:-?}${delta:+ (delta RMSE $delta > tolerance ${tolerance:-?})}; see $DIR/report.md"
      exit 1
      ;;
    *)
      log "FAILED: rps compare exited $code (an error, not a verdict)"
      exit 1
      ;;
  esac
}

case "${1:-}" in
  run) run ;;
  publish) publish ;;
  gate) gate ;;
  *) echo "usage: $0 run|publish|gate" >&2; exit 2 ;;
esac
