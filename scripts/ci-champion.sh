#!/usr/bin/env bash
# Makes sure the MLflow registry a CI job talks to has a @champion (docs/cicd-workflows.md, "What the model
# gate compares against").
# Usage: scripts/ci-champion.sh [--dry-run] [DIR]      (DIR default: $RPS_CI_CHAMPION_DIR, else this checkout)
#   Remote registry (MLFLOW_TRACKING_URI set and not on this machine, e.g. DagsHub from the
#   repository secrets): nothing to do, its @champion is used as it is.
#   Production's champion read-only (RPS_CHAMPION_TRACKING_URI set: the pull request's model gate,
#   with the read-only secrets MLFLOW_READ_*): `rps export-model --alias champion` from that
#   registry, with RPS_CHAMPION_TRACKING_USERNAME/PASSWORD as the only credentials of that one
#   command, into RPS_CI_CHAMPION_MODEL_DIR (default build/champion), which `make ci-compare` then
#   compares against (rps compare --champion-dir); nothing is trained. A registry without a
#   @champion: a notice, no directory (the challenger wins by default).
#   Local registry (no MLFLOW_TRACKING_URI, or a loopback one): start the local stack
#   (scripts/stack.sh up) and run the pipeline of the tree DIR (default: this checkout) with that
#   tree's own code and params.yaml: install, rps fetch, check, featurize, train, promote. On a pull
#   request DIR is a checkout of the base branch, so the champion is "what the base branch
#   trains on the same data"; on master it is this commit's own model.
#   A DIR whose rps has no `train` command yet: a notice and exit 0 (rps compare then reports that
#   there is no champion and the challenger wins by default).
#   --dry-run prints the mode and the commands, runs nothing.
# Env: RPS_REPLAY_AT (replay clock shared with the DAG run, so both models see the same hours),
# RPS_BACKFILL_DAYS (history fetched on the first run), MLFLOW_TRACKING_URI, RPS_SHARED_REGISTRY
# (true/false: whether MLFLOW_TRACKING_URI is the shared registry of the repository secrets; the
# workflows set it; unset: a non-loopback URI is shared), RPS_CI_SHIPS_MODEL (true in the deliver
# job: a champion trained here is what gets shipped, so it is announced as a GitHub error
# annotation and in red in the job summary), RPS_CHAMPION_TRACKING_URI/USERNAME/PASSWORD and
# RPS_CI_CHAMPION_MODEL_DIR (above), RPS_BIN (the rps of that export; default bin/rps, built first).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'ci-champion: %s\n' "$*" >&2; }

dry_run=0
if [[ "${1:-}" == --dry-run ]]; then dry_run=1; shift; fi
dir="${1:-${RPS_CI_CHAMPION_DIR:-$ROOT}}"
[[ -d "$dir" ]] || { log "no such directory: $dir"; exit 2; }
dir="$(cd "$dir" && pwd)"

step() {
  if ((dry_run)); then
    printf '+ (cd %s &&' "$1"
    shift
    printf ' %q' "$@"
    printf ')\n'
    return 0
  fi
  local where="$1"
  shift
  log "[$where] $*"
  (cd "$where" && "$@")
}

model_dir="${RPS_CI_CHAMPION_MODEL_DIR:-build/champion}"
if [[ -n "${RPS_CHAMPION_TRACKING_URI:-}" ]]; then
  export_cmd=("${RPS_BIN:-bin/rps}" export-model --alias champion --out "$model_dir" --json)
  if ((dry_run)); then
    printf '+ (cd %s && MLFLOW_TRACKING_URI=%q MLFLOW_TRACKING_USERNAME=*** MLFLOW_TRACKING_PASSWORD=***' "$ROOT" "${RPS_CHAMPION_TRACKING_URI%%\?*}"
    printf ' %q' "${export_cmd[@]}"
    printf ')\n'
    exit 0
  fi
  log "production's @champion from ${RPS_CHAMPION_TRACKING_URI%%\?*} (read-only) into $model_dir"
  if [[ -z "${RPS_BIN:-}" ]]; then "$ROOT/scripts/ci-build.sh"; fi
  (cd "$ROOT" && rm -rf -- "$model_dir")
  code=0
  out="$(cd "$ROOT" && MLFLOW_TRACKING_URI="$RPS_CHAMPION_TRACKING_URI" MLFLOW_TRACKING_USERNAME="${RPS_CHAMPION_TRACKING_USERNAME:-}" \
    MLFLOW_TRACKING_PASSWORD="${RPS_CHAMPION_TRACKING_PASSWORD:-}" "${export_cmd[@]}")" || code=$?
  if ((code != 0)) && grep -q '"NO_ALIAS"' <<< "$out"; then
    echo "::notice title=No champion in production::The shared registry has no @champion yet: the candidate wins by default."
    exit 0
  fi
  if ((code != 0)); then printf '%s\n' "$out" >&2; log "FAILED: rps export-model exited $code"; exit "$code"; fi
  log "done: production's @champion in $model_dir"
  exit 0
fi

uri="${MLFLOW_TRACKING_URI:-}"
case "${RPS_SHARED_REGISTRY:-}" in
  true) shared=1 ;;
  false) shared=0 ;;
  "") if [[ -n "$uri" && ! "$uri" =~ ^https?://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/.*)?$ ]]; then shared=1; else shared=0; fi ;;
  *) log "RPS_SHARED_REGISTRY='$RPS_SHARED_REGISTRY': expected true or false"; exit 2 ;;
esac
if ((shared)); then
  log "remote registry ${uri%%\?*}: its @champion is the reference; nothing to train here"
  exit 0
fi
if [[ "${RPS_CI_SHIPS_MODEL:-}" == true ]]; then
  # Said where a person looks: the annotation (job page, PR checks) and the summary, in red.
  echo "::error title=Shipping a model trained on this runner::No shared registry (secret MLFLOW_TRACKING_URI unset): the image gets a champion trained and promoted right here from this commit, not one that passed a model gate. Set the registry secrets (docs/cicd-delivery.md) to ship the registry's @champion."
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    # shellcheck disable=SC2016 # markdown backticks, not expansions
    printf '%s\n' '## 🔴 Shipping a model trained on the runner' '' \
      '> [!CAUTION]' '> No shared registry (secret `MLFLOW_TRACKING_URI` unset): the delivered image carries a champion trained and promoted **on this runner** from this commit, not a model that passed a pull request'"'"'s gate. Set the registry secrets (docs/cicd-delivery.md) to ship the registry'"'"'s `@champion`.' '' >> "$GITHUB_STEP_SUMMARY"
  fi
fi

log "local registry ${uri:-http://127.0.0.1:5000 (default)}: training the champion from $dir"
# The registry's own @champion is the reference here: no exported one may linger.
if ((dry_run == 0)); then (cd "$ROOT" && rm -rf -- "$model_dir"); fi
step "$ROOT" "$ROOT/scripts/stack.sh" up
if [[ "$dir" == "$ROOT" ]]; then
  step "$dir" "$ROOT/scripts/ci-build.sh"   # this checkout: `make install` built it already
elif [[ -x "$dir/scripts/install-node-deps.sh" ]]; then
  step "$dir" "$dir/scripts/install-node-deps.sh"
else
  step "$dir" npm ci --no-audit --no-fund
  step "$dir" npm run -s build
fi
if ((dry_run == 0)) && ! (cd "$dir" && bin/rps train --help >/dev/null 2>&1); then
  log "the rps of $dir has no train command: no champion (compare will say the challenger wins by default)"
  exit 0
fi
fetch=(bin/rps fetch)
if [[ -n "${RPS_BACKFILL_DAYS:-}" ]]; then fetch+=(--backfill-days "$RPS_BACKFILL_DAYS"); fi
step "$dir" "${fetch[@]}"
step "$dir" bin/rps check
step "$dir" bin/rps featurize
step "$dir" bin/rps train
# The reference is whatever the base branch trains, by construction, not by a comparison: on a
# registry that already has a champion (a reused local one) the gate of rps promote would refuse it,
# so it is forced with its reason (a base whose rps predates the gate has no --force and no gate).
promote=(bin/rps promote)
if ((dry_run)) || (cd "$dir" && bin/rps promote --help 2>/dev/null | grep -q -- '--force'); then
  promote+=(--force --reason "CI reference champion: the base branch's model trained by scripts/ci-champion.sh")
fi
step "$dir" "${promote[@]}"
if ((dry_run == 0)); then log "done: @champion set from $dir"; fi
