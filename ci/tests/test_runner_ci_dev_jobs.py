"""ci-dev's `dev-checks` and `workflow-jobs`, every step, each in a NEW container from the runner
image (ci/tests/test_runner_jobs.py: a fresh clone of the commit under test, only what the job's
own setup-* and install steps put there). A step that relies on something the job did not install
fails here.

- dev-checks: `make install`, `make lint`, `make typecheck`, `make unit`. make test runs eslint,
  tsc and the unit tests only here (the host runs the integration tests), so a lint error, a type
  error or a failing unit test fails make test through this job.
- workflow-jobs: `make test-workflow-jobs`, the host lab itself (test_workflow_jobs.py,
  test_remote_mode.py, test_dvc_remote.py, after its installers) with the host's network and docker
  client and engine socket, as on a GitHub runner VM (its stacks and the containers it starts answer
  on 127.0.0.1). make test runs the lab only here, not again on the host. One local difference,
  stated in Local.env: the job's step sets RPS_BASE_IMAGES=official (Docker Hub answers on GitHub's
  runners), here it is `local`, the offline stand-ins of scripts/base-images.sh, which the fixture
  builds on this engine beforehand as Docker Hub has the official ones.

make test runs this module through `scripts/test-runner-jobs.sh ci-dev` (it sets
RPS_RUNNER_CI_DEV_JOBS=1): dev-checks first (`-k dev_checks`), workflow-jobs in the background
beside the compose test (`-k workflow_jobs`); elsewhere, e.g. in `pytest ci/tests` of the infra-lint
job, it skips itself. Cost on 2 cores (2026-12-07, the actions cache empty): dev-checks about 3
minutes, workflow-jobs about 10 (its installs, the lab, saving its caches).
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from conftest import ROOT
from gha import Local
from test_runner_jobs import all_green, start_runner, timed_run

CI_DEV_JOBS_ENV = "RPS_RUNNER_CI_DEV_JOBS"
if os.environ.get(CI_DEV_JOBS_ENV) != "1":
    pytest.skip(f"run by scripts/test-runner-jobs.sh ci-dev (make test runs it), elsewhere with {CI_DEV_JOBS_ENV}=1", allow_module_level=True)


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = start_runner(tmp_path_factory.mktemp("runner-ci-dev-jobs"))
    try:
        yield r
    finally:
        r.stop()


def test_dev_checks_passes_on_a_fresh_runner(runner):
    job = runner.job("ci-dev.yml", "checks")
    timed_run(job)
    all_green(job)
    unit = job.results[job.index_of_run("make unit")].output
    summary = re.search(r"^mocha: (\d+) passed, (\d+) failed, (\d+) skipped$", unit, re.M)  # test/summary-reporter.cjs
    assert summary and int(summary[1]) > 0 and summary[2] == "0", unit[-3000:]


def local_base_images() -> None:
    """The offline stand-ins of the official base images on this engine (Docker Hub here)."""
    built = subprocess.run([str(ROOT / "scripts" / "base-images.sh")], capture_output=True, text=True, check=False, timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]


def test_workflow_jobs_passes_on_a_fresh_runner(runner):
    local_base_images()
    job = runner.job("ci-dev.yml", "workflow-jobs", local=Local(env={"RPS_BASE_IMAGES": "local"}), host_network=True, docker=True)
    timed_run(job)
    all_green(job)
    lab = job.results[job.index_of_run("make test-workflow-jobs")].output
    # The lab ran whole: nothing skipped (e.g. for a tool the job did not install).
    summary = re.search(r"^(\d+) passed in ", lab, re.M)
    assert summary and int(summary[1]) >= 30, lab[-3000:]
