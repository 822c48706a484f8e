#!/usr/bin/env bash
# Configure DVC in the repository (idempotent): `dvc init` when .dvc/ is missing, then the default
# remote `storage` = s3://$RPS_S3_BUCKET/dvc.
#   .dvc/config        (committed)   the remote URL and `core.remote = storage`, nothing else
#   .dvc/config.local  (git-ignored) endpointurl = $RPS_S3_ENDPOINT, access_key_id,
#                                    secret_access_key, core.analytics = false; mode 600
# A remote the user chose is theirs and left alone (so `make up` never overwrites it):
#   - a default remote of another name (`dvc remote default NAME`, in .dvc/config, config.local or the
#     global/system config): the default stays; `storage` is still added (not as default) with its
#     local endpoint and credentials, for `dvc push -r storage`;
#   - a `storage` remote whose URL is not of the form s3://BUCKET/dvc (e.g. DagsHub's https URL):
#     its URL and credentials are not touched.
# A shared remote instead (CI with the repository's secrets, docs/cicd-delivery.md "Remote mode"): with
# RPS_DVC_S3_ENDPOINT set, `storage` is s3://$RPS_DVC_S3_BUCKET/dvc at that endpoint with the keys
# RPS_DVC_ACCESS_KEY_ID / RPS_DVC_SECRET_ACCESS_KEY (all four required), and the default remote,
# all of it in .dvc/config.local (which wins over .dvc/config, left as it is); the stack's own
# MinIO (RPS_S3_*, AWS_*) is not involved. Without it, a shared URL left in config.local is removed.
# Usage: scripts/dvc-remote.sh [REPO_DIR]     (default: this repository)
# Note: `dvc init` stages the three files it creates (.dvc/config, .dvc/.gitignore, .dvcignore)
# with git; commit them. Needs scripts/install-python.sh. MinIO need not be running.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REMOTE=storage
URL="s3://$RPS_S3_BUCKET/dvc"
repo="${1:-$ROOT}"
shared_url=""
if [[ -n "${RPS_DVC_S3_ENDPOINT:-}" ]]; then
  for v in RPS_DVC_S3_BUCKET RPS_DVC_ACCESS_KEY_ID RPS_DVC_SECRET_ACCESS_KEY; do
    [[ -n "${!v:-}" ]] || die "RPS_DVC_S3_ENDPOINT is set (a shared DVC remote) but $v is not: set all four (docs/cicd-delivery.md, Remote mode)"
  done
  shared_url="s3://$RPS_DVC_S3_BUCKET/dvc"
fi

require_venv
dvc="$RPS_VENV/bin/dvc"
[[ -x "$dvc" ]] || die "dvc not installed in $RPS_VENV: run scripts/install-python.sh"
cd "$repo" || die "no such directory: $repo"
[[ "$(git rev-parse --show-toplevel 2>/dev/null)" == "$(pwd -P)" ]] || die "$repo is not the top of a git work tree"
warn_default_creds

if [[ ! -d .dvc ]]; then
  "$dvc" init --quiet
  log "dvc init: created .dvc/config, .dvc/.gitignore, .dvcignore (staged by dvc; commit them)"
fi

# Committed part: the URL only. Left alone when already right, so a re-run changes nothing.
current="$("$dvc" config --project "remote.$REMOTE.url" 2>/dev/null || true)"
if [[ -z "$current" ]]; then
  "$dvc" remote add --project "$REMOTE" "$URL"
  log "remote $REMOTE added: $URL"
elif [[ "$current" != "$URL" && ! "$current" =~ ^s3://[^/]+/dvc$ ]]; then
  if [[ -z "$shared_url" ]]; then
    log "remote $REMOTE points at $current, not a bucket of this stack: it is yours, left as it is (endpoint and credentials too)"
    exit 0
  fi
elif [[ "$current" != "$URL" ]]; then
  "$dvc" remote modify --project "$REMOTE" url "$URL"
  log "remote $REMOTE url changed: $current -> $URL"
fi
# The default as DVC resolves it (system, global, project, local): one of another name is the user's.
default="$("$dvc" config core.remote 2>/dev/null || true)"
if [[ -n "$shared_url" ]]; then
  : # config.local below
elif [[ -n "$default" && "$default" != "$REMOTE" ]]; then
  log "default remote '$default' is yours: kept (dvc push uses it; the stack's MinIO is 'dvc push -r $REMOTE', or 'dvc remote default $REMOTE' to switch)"
elif [[ "$("$dvc" config --project core.remote 2>/dev/null || true)" != "$REMOTE" ]]; then
  "$dvc" remote default --project "$REMOTE"
  log "default remote: $REMOTE"
fi

# Local part: endpoint and credentials. Written through DVC's own config API from the environment,
# so the secret never appears on a command line (ps) or in the output.
(umask 077 && touch .dvc/config.local)
"$RPS_VENV/bin/python" - "$REMOTE" "$shared_url" <<'PY'
import os
import re
import sys

from dvc.config import Config

remote, shared_url = sys.argv[1:3]
config = Config(dvc_dir=".dvc", validate=False)
with config.edit("local") as conf:
    section = conf.setdefault("remote", {}).setdefault(remote, {})
    core = conf.setdefault("core", {})
    if shared_url:
        section["url"] = shared_url
        section["endpointurl"] = os.environ["RPS_DVC_S3_ENDPOINT"]
        section["access_key_id"] = os.environ["RPS_DVC_ACCESS_KEY_ID"]
        section["secret_access_key"] = os.environ["RPS_DVC_SECRET_ACCESS_KEY"]
        core["remote"] = remote
    else:
        if re.fullmatch(r"s3://[^/]+/dvc", section.get("url", "")):
            del section["url"]  # a shared remote of an earlier run: the stack's own from now on
        section["endpointurl"] = os.environ["RPS_S3_ENDPOINT"]
        section["access_key_id"] = os.environ["AWS_ACCESS_KEY_ID"]
        section["secret_access_key"] = os.environ["AWS_SECRET_ACCESS_KEY"]
    core["analytics"] = False
PY
chmod 600 .dvc/config.local
if [[ -n "$shared_url" ]]; then
  log "remote $REMOTE (default): the shared $shared_url via $RPS_DVC_S3_ENDPOINT (all in .dvc/config.local)"
else
  log "remote $REMOTE: $URL via $RPS_S3_ENDPOINT (endpoint and credentials in .dvc/config.local)"
fi
