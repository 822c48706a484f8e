#!/usr/bin/env bash
# make pull: get the versioned dataset of this checkout's dvc.lock into a clone (a second clone, a
# new machine) without configuring DVC by hand. Installs DVC (scripts/install-python.sh), writes the
# remote and its credentials (scripts/dvc-remote.sh: .dvc/config.local from the environment or .env),
# checks that the S3 endpoint answers, then `dvc pull` of the featurize stage's outputs
# (data/processed/*; data/raw is not in DVC: it lives in S3 under raw/).
# The S3 server must be the one the data was pushed to: with the local default that is the MinIO of
# the clone that ran `make up` (running), or this clone's own after `scripts/stack.sh up`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
warn_default_creds

scripts/install-python.sh
scripts/dvc-remote.sh
if ! curl -s -o /dev/null --max-time 5 "$RPS_S3_ENDPOINT"; then
  die "no S3 server answers at $RPS_S3_ENDPOINT (RPS_S3_ENDPOINT): start the stack that holds the data first (make up in the clone that pushed it, or scripts/stack.sh up here)"
fi
log "dvc pull featurize from s3://$RPS_S3_BUCKET/dvc at $RPS_S3_ENDPOINT"
"$RPS_VENV/bin/dvc" pull featurize
log "done: $(find data/processed -maxdepth 1 -type f -printf '%f ' 2>/dev/null) in data/processed (data version: dvc.lock at $(git log -1 --format='%h %s' -- dvc.lock 2>/dev/null || echo '?'))"
