#!/usr/bin/env bash
# CI/CD checks: scripts/lint-infra.sh (actionlint, hadolint, ShellCheck, compose config) and the
# pytest suite in ci/tests (workflow gates, protect-branches, verify-deployment, the CI scripts,
# gha.py, infra-lint and the setup-node mutations in fresh runner containers) except
# test_workflow_jobs.py, test_remote_mode.py and test_dvc_remote.py: those need the whole stack and
# are scripts/test-workflow-jobs.sh (its own job and make target); and the runner modules of the
# long jobs, test_runner_stack_jobs.py and test_runner_ci_dev_jobs.py (scripts/test-runner-jobs.sh).
# Both always run; exit non-zero when either failed. Tools: scripts/install-ci-tools.sh (run here,
# about a second when current), so a fresh runner needs only Python and Go.
# Usage: scripts/test-ci.sh [PYTEST_ARGS...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${RPS_CI_VENV:-$ROOT/.rps/venv-ci}"

"$ROOT/scripts/install-ci-tools.sh"
rc=0
echo "== infra lint" >&2
"$ROOT/scripts/lint-infra.sh" || rc=1
echo "== pytest ci/tests" >&2
# The tests that need the project's own venvs and stack run in scripts/test-workflow-jobs.sh, whose
# job installs them: here only the CI tools are installed (what the infra-lint job has).
"$VENV/bin/python" -m pytest -p no:cacheprovider ci/tests --ignore=ci/tests/test_workflow_jobs.py --ignore=ci/tests/test_runner_stack_jobs.py --ignore=ci/tests/test_runner_ci_dev_jobs.py --ignore=ci/tests/test_remote_mode.py --ignore=ci/tests/test_dvc_remote.py -q "$@" || rc=1
if ((rc != 0)); then echo "test-ci: FAILED (see above)" >&2; fi
exit "$rc"
