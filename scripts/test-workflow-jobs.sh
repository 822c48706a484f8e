#!/usr/bin/env bash
# The workflow jobs run for real (ci/tests/test_workflow_jobs.py: the model gate, the image build,
# the delivery and their variants, against a real local stack and Docker engine), the same jobs in
# remote mode against a second stack playing the shared registry and DVC remote
# (ci/tests/test_remote_mode.py) and scripts/dvc-remote.sh against the real DVC
# (ci/tests/test_dvc_remote.py), after installing what they use through the project's own
# installers: node_modules and the build, the Python venvs (MLflow, DVC, Airflow), MinIO, the OCI
# registry, a Docker engine, the CI tools. Each installer is skipped in about a second when current.
# This is ci-dev's workflow-jobs job; make test runs it as that job, in a fresh runner container
# (ci/tests/test_runner_ci_dev_jobs.py, scripts/test-runner-jobs.sh ci-dev).
# Usage: scripts/test-workflow-jobs.sh [PYTEST_ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${RPS_CI_VENV:-$ROOT/.rps/venv-ci}"

scripts/install-node-deps.sh
scripts/install-python.sh
scripts/install-airflow.sh
scripts/install-minio.sh
scripts/install-registry.sh
scripts/docker-engine.sh ensure
scripts/install-ci-tools.sh
"$VENV/bin/python" -m pytest -p no:cacheprovider ci/tests/test_workflow_jobs.py ci/tests/test_remote_mode.py ci/tests/test_dvc_remote.py -q "$@"
