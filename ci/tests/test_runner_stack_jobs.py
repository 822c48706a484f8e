"""The stack-bound workflow jobs on fresh runners: ci-test `test-model-gate` (the winning pull
request), ci-test `test-promote-candidate` (the push of its merge: a stack of its own on other
ports, the gate's MLflow as the shared registry), cd-master `image-build` and `deliver`, each
with ALL its steps in a NEW container from the runner image (ci/tests/test_runner_jobs.py: a fresh
clone, only what the job's own setup-* and install steps put there). A step that relies on
something the job did not install fails here.

The runner is a VM with host networking on GitHub: the containers use the host's network (their
services and the containers they start answer on 127.0.0.1), on free ports (Lab.local, as in
test_workflow_jobs.py), and the image jobs get the host's docker client and engine socket (the
runner image has Docker). The stack the model gate starts (MinIO, MLflow in its container) stays
up and is the shared registry of the later jobs (the secret MLFLOW_TRACKING_URI set, as in
test_workflow_jobs.py). docker/login-action is a real `docker login` to the local OCI registry that
stands for Docker Hub (go-containerregistry's registry has no authentication, so the login
succeeds without checking the password: what is tested is that the step logs in with the
secrets); CML is the recording stand-in ci/tests/shims/cml.

actions/cache is GitHub's cache service (test_runner_jobs.ActionsCache, kept across runs in the
user's cache dir): the first run on a fresh machine pays the installs (the venvs, the MinIO Go
build) once and saves them; later jobs and runs restore them, as a repository's workflow runs do.

The variants (a fork's losing PR, a new push, a refused merge, a broken image, the delivered
container's behaviour) are in the workflow-job lab, test_workflow_jobs.py, which runs the four jobs
again on one shared stack: that lab is ci-dev's workflow-jobs job, which make test runs in a fresh
runner container too (test_runner_ci_dev_jobs.py).

Cost on 2 cores: about 7.5 minutes with the caches saved (model gate 217 s, promote 37 s before it
trained its own candidate (now about the model gate's `make dag-test-ci` more),
image-build 50 s, deliver 79 s), and as much on a machine's first run now that setup-python has
`cache: pip` (the host's warm pip cache mounted: 465 s, the model gate's `make stack-up` 217 s;
without it the first run took about 25 minutes).

make test runs this module through `scripts/test-runner-jobs.sh stack` (it sets
RPS_RUNNER_STACK_JOBS=1), in the background beside the README first run, which mostly waits: one
after the other they would not fit make test's 60-minute budget on a fresh machine (docs/cicd-tests.md).
Elsewhere it skips itself unless RPS_RUNNER_STACK_JOBS=1.

The setup-node mutation of these four jobs (and of dev-checks and workflow-jobs) is in
test_runner_jobs.py, which make test runs by default: each fails at `make install` in seconds.
"""

from __future__ import annotations

import json
import os
import re
from urllib.request import Request, urlopen

import pytest
from conftest import ROOT, free_port
from gha import Job, Local
from lab import BASE, BASE_FOREST, MODEL_NAME, WIN, Lab, git, image_config, pr_github, with_forest
from test_runner_jobs import all_green, failed_steps, start_runner, timed_run
from test_workflow_jobs import PR_SECRETS, READ_SECRETS, SHARED_SECRETS, push_github

STACK_JOBS_ENV = "RPS_RUNNER_STACK_JOBS"
if os.environ.get(STACK_JOBS_ENV) != "1":
    pytest.skip(f"run by scripts/test-runner-jobs.sh stack (make test runs it beside the README test), elsewhere with {STACK_JOBS_ENV}=1", allow_module_level=True)

CML_LOG = "/home/runner/work/_temp/cml.jsonl"
VERSION = "v" + json.loads((ROOT / "package.json").read_text())["version"]


class Stack:
    """The runner, its origin with the base branch `test` (a small forest, so the PR's forest
    wins), and the Lab's free ports, image names and OCI registry."""

    def __init__(self, root):
        self.runner = start_runner(root / "runner")
        origin = self.runner.origin
        git(origin, "checkout", "-q", "-b", BASE)
        (origin / "params.yaml").write_text(with_forest((origin / "params.yaml").read_text(), **BASE_FOREST))
        git(origin, "-c", "user.name=rps", "-c", "user.email=rps@localhost", "commit", "-qam", "base branch: a small forest")
        self.base_sha = git(origin, "rev-parse", "HEAD")
        git(origin, "checkout", "-q", "pr")
        self.lab = Lab(root / "lab")
        self.lab.root.mkdir()
        self.lab.start_registry()

    def local(self, **rewrite: str) -> Local:
        local = self.lab.local(**rewrite)
        # The job's own state dir in its workspace (a fresh runner), the CML record in its temp dir.
        del local.env["RPS_STATE_DIR"]
        local.env["FAKE_CML_LOG"] = CML_LOG
        return local

    def job(self, workflow: str, job_id: str, github: dict, secrets: dict, docker: bool = False, own_stack: bool = False, **rewrite: str) -> Job:
        local = self.local(**rewrite)
        if own_stack:
            # A job that starts a stack of its own beside the model gate's (still up, on the host's
            # network): its own ports; MLFLOW_TRACKING_URI stays the gate's MLflow, the shared registry.
            local.env |= {k: str(free_port()) for k in ("RPS_MINIO_PORT", "RPS_MINIO_CONSOLE_PORT", "RPS_MLFLOW_PORT", "RPS_AIRFLOW_PORT")}
        return self.runner.job(workflow, job_id, github=github, secrets=secrets, local=local, host_network=True, docker=docker)

    def stop(self) -> None:
        self.runner.stop()  # the model gate's container, and with it its stack
        self.lab.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(tmp_path_factory.mktemp("runner-stack-jobs"))
    try:
        yield s
    finally:
        s.stop()


def cache_notes(job: Job) -> list[str]:
    return [r.note for r in job.results if (r.uses or "").startswith("actions/cache@")]


@pytest.fixture(scope="module")
def model_gate(stack):
    job = stack.job("ci-test.yml", "model-gate", {**pr_github(7), "head_ref": WIN}, PR_SECRETS)
    timed_run(job)
    return job


def test_the_model_gate_job_passes_on_a_fresh_runner_and_registers_the_candidate(model_gate, stack):
    job = model_gate
    all_green(job)
    print("caches:", cache_notes(job), [r.note for r in job.post_results])
    assert stack.lab.registry.aliases() == {"champion": "1", "challenger": "1", "pr-7": "2"}
    assert stack.lab.registry.run_of("1")["tags"]["rps.code_version"] == stack.base_sha
    assert stack.lab.registry.run_of("2")["tags"]["rps.code_version"] == stack.runner.sha
    assert "compare-gate: passed: challenger_wins: challenger v2 vs champion v1" in job.results[-1].output
    report = json.loads(stack.runner.exec_(job.container, "cat", f"{job.workspace}/reports/compare/report.json"))
    assert (report["decision"], report["challenger"]["alias"]) == ("challenger_wins", "pr-7")
    [comment] = [json.loads(line) for line in stack.runner.exec_(job.container, "cat", CML_LOG).splitlines()]
    assert (comment["target"], comment["action"]) == ("pr/7", "created")
    assert {"report.md", "report.json"} <= {p.split("/")[-1] for p in job.artifacts}


@pytest.fixture(scope="module")
def promote(model_gate, stack):
    job = stack.job("ci-test.yml", "promote-candidate", push_github(101), SHARED_SECRETS, own_stack=True)
    timed_run(job)
    return job


def test_the_promote_candidate_job_trains_compares_and_promotes_the_merged_code_on_a_fresh_runner(promote, stack):
    all_green(promote)
    aliases = stack.lab.registry.aliases()
    # Its own candidate (v3, the merged code), never the gate's @pr-7 (v2).
    assert (aliases["champion"], aliases["previous-champion"], aliases["merge-101"], aliases["pr-7"]) == ("3", "1", "3", "2")
    assert stack.lab.registry.run_of("3")["tags"]["rps.code_version"] == stack.runner.sha
    assert "## Candidate `@merge-101` promoted" in stack.runner.exec_(promote.container, "cat", str(promote.summary))


def test_the_image_build_job_builds_both_images_on_a_fresh_runner(promote, stack):
    job = stack.job("cd-master.yml", "image-build", {"event_name": "pull_request", "base_ref": "master"}, READ_SECRETS, docker=True)
    timed_run(job)
    all_green(job)
    lab = stack.lab
    labels = image_config(f"{lab.image}:{VERSION}")["Labels"]
    assert labels["model.version"] == lab.registry.aliases()["champion"] == "3"
    assert labels["org.opencontainers.image.revision"] == stack.runner.sha
    assert image_config(f"{lab.cli_image}:{VERSION}")["Labels"]["org.opencontainers.image.revision"] == stack.runner.sha


def test_the_deliver_job_pushes_and_verifies_the_image_on_a_fresh_runner(promote, stack):
    lab = stack.lab
    secrets = {"DOCKERHUB_USERNAME": "rps-ci-test", "DOCKERHUB_TOKEN": "fake-token", **READ_SECRETS}
    job = stack.job("cd-master.yml", "deliver", {"event_name": "push", "ref": "refs/heads/master"}, secrets, docker=True,
                    **{"http://127.0.0.1:8000": f"http://127.0.0.1:{lab.ports['serve']}"})
    timed_run(job)
    outcomes = [(r.run or r.uses.split("@")[0], r.outcome) for r in job.results]
    assert outcomes[-1] == ("make serve-logs", "skipped")  # if: failure()
    assert all(o == "success" for _, o in outcomes[:-1]), failed_steps(job)
    assert job.unused_rewrites() == set()
    login = next(r for r in job.results if (r.uses or "").startswith("docker/login-action@"))
    assert login.note.startswith(f"docker login {lab.registry_host} as rps-ci-test"), login.note
    digest = stack.runner.exec_(job.container, "cat", f"{job.workspace}/build/image.digest").strip()
    assert re.fullmatch(re.escape(lab.remote) + r"@sha256:[0-9a-f]{64}", digest), digest
    with urlopen(Request(f"http://{lab.registry_host}/v2/rps-ci/{lab.image}/manifests/{VERSION}", method="HEAD", headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"}), timeout=10) as r:
        assert r.headers["Docker-Content-Digest"] == digest.split("@")[1]
    by_digest = next(r for r in job.results if (r.run or "").startswith("scripts/verify-deployment --image"))
    assert f"verify-deployment: OK image {digest} healthy after " in by_digest.output
    assert f"model {MODEL_NAME} v3" in by_digest.output
    # Every cache restored: the model gate saved them (or an earlier run did).
    assert all(note.startswith("restored ") for note in cache_notes(job)), cache_notes(job)
