#!/usr/bin/env bash
# Entrypoint of the Airflow containers of docker-compose.yml: make $RPS_PROJECT_DIR an empty rps
# project that shares nothing but object storage (the DAG's tasks restore what they need with
# `rps pull`), then exec `airflow "$@"`.
#   params.yaml        the image's (/app/params.yaml), unless RPS_PARAMS names another
#   dvc.yaml           /etc/rps/dvc.yaml (bind-mounted read-only from the repository)
#   bin, src           links to the image's rps (src: the built modules, a dependency of dvc.yaml)
#   .dvc               `dvc init --no-scm` (no git: the DAG never commits dvc.lock) and the remote
#                      s3://$RPS_S3_BUCKET/dvc at $RPS_S3_ENDPOINT; credentials stay in the
#                      environment (AWS_*), never in a file
# Nothing of the repository is written: it is never mounted read-write, whatever the host uid.
set -euo pipefail
dir="${RPS_PROJECT_DIR:?set RPS_PROJECT_DIR}"
dvc="${RPS_VENV:-/opt/venv-stack}/bin/dvc"
mkdir -p "$dir"
cd "$dir"
[[ -e params.yaml ]] || cp /app/params.yaml params.yaml
cp /etc/rps/dvc.yaml dvc.yaml
ln -sfn /app/bin bin
ln -sfn /app/dist/src src
if [[ ! -d .dvc ]]; then "$dvc" init --no-scm --quiet; fi
"$dvc" remote add --force --default storage "s3://${RPS_S3_BUCKET:-rps-data}/dvc" >/dev/null
"$dvc" remote modify --local storage endpointurl "${RPS_S3_ENDPOINT:?set RPS_S3_ENDPOINT}"
"$dvc" config --local core.analytics false
exec airflow "$@"
