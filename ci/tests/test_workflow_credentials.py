"""Who holds which credential (docs/credentials.md, issue 27), read from the workflows' YAML: no job
that runs pull-request code holds a secret that can write production (the shared MLflow registry,
the DVC remote, Docker Hub); write secrets only in jobs bound to a protected environment; the
token's permissions per job, nothing at workflow level; no checkout leaves the token in .git/config.

Every secret a workflow names must be classified below: a new one fails
test_every_secret_a_workflow_names_is_classified until it is."""

from __future__ import annotations

import itertools
import re

import pytest
from gha import evaluate
from test_workflows import FILES, load

# Secrets that can change production: the registry's user (aliases, versions, tags), the DVC
# remote's keys, the Docker Hub token (and its user name, which is only ever used with it).
WRITE_SECRETS = {
    "MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
    "RPS_DVC_ACCESS_KEY_ID", "RPS_DVC_SECRET_ACCESS_KEY",
    "DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN",
}
# A read-only user of the shared registry: exports @champion, can move nothing.
READ_SECRETS = {"MLFLOW_READ_TRACKING_URI", "MLFLOW_READ_USERNAME", "MLFLOW_READ_PASSWORD"}
# GitHub's own token, whose rights are the job's `permissions`.
TOKEN = {"GITHUB_TOKEN"}

# The whole table: (workflow, job) -> (environment, every secret the job's steps can see).
EXPECTED = {
    ("ci-dev.yml", "checks"): (None, set()),
    ("ci-dev.yml", "infra"): (None, set()),
    ("ci-dev.yml", "workflow-jobs"): (None, set()),
    ("ci-test.yml", "model-gate"): (None, READ_SECRETS | TOKEN),
    ("ci-test.yml", "promote-candidate"): ("production-registry", {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                                                                    "RPS_DVC_ACCESS_KEY_ID", "RPS_DVC_SECRET_ACCESS_KEY"}),
    ("cd-master.yml", "image-build"): (None, READ_SECRETS),
    ("cd-master.yml", "deliver"): ("dockerhub", READ_SECRETS | {"DOCKERHUB_USERNAME", "DOCKERHUB_TOKEN"}),
}
# The only write the token may do: the model gate's CML comment on its own pull request.
EXPECTED_PERMISSIONS = {job: {"contents": "read"} for job in EXPECTED} | {("ci-test.yml", "model-gate"): {"contents": "read", "pull-requests": "write"}}

SECRET = re.compile(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)")
PR_ACTIONS = ("opened", "synchronize", "reopened", "closed", "edited", "labeled")


def secrets_in(node) -> set[str]:
    return set(SECRET.findall(str(node)))


def jobs():
    for path in FILES:
        wf = load(path.name)
        for job_id, job in wf["jobs"].items():
            yield path.name, job_id, wf, job


def environment(job: dict) -> str | None:
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def seen_by(wf: dict, job: dict) -> set[str]:
    """Every secret a job's steps can read: the workflow's env (inherited by each job), the job
    (its env, each step's env and `with`, anything else in it)."""
    return secrets_in(wf.get("env") or {}) | secrets_in(job)


def runs_on_pull_request(wf: dict, job: dict) -> bool:
    """Whether any pull_request event reaches the job: the workflow's trigger, then the job's `if`
    evaluated as GitHub would for each action, merged or not."""
    if "pull_request" not in wf["on"]:
        return False
    condition = str(job.get("if", "true")).strip().removeprefix("${{").removesuffix("}}")
    for action, merged in itertools.product(PR_ACTIONS, (True, False)):
        github = {"event_name": "pull_request", "event.action": action, "event.pull_request.merged": merged,
                  "event.pull_request.number": "7", "base_ref": "test", "ref": "refs/pull/7/merge"}
        if evaluate(condition, {"github": github, "secrets": {}, "vars": {}, "env": {}}, {}):
            return True
    return False


def pr_jobs() -> list[tuple[str, str]]:
    return [(name, job_id) for name, job_id, wf, job in jobs() if runs_on_pull_request(wf, job)]


def test_the_table_covers_every_job_of_every_workflow():
    assert {(name, job_id) for name, job_id, _, _ in jobs()} == set(EXPECTED)


def test_every_secret_a_workflow_names_is_classified():
    named = set().union(*(secrets_in(path.read_text()) for path in FILES))
    assert named - (WRITE_SECRETS | READ_SECRETS | TOKEN) == set(), "classify each new secret here and in docs/credentials.md"


@pytest.mark.parametrize(("workflow", "job_id"), sorted(EXPECTED), ids=lambda x: x)
def test_each_job_sees_exactly_its_secrets_in_its_environment(workflow: str, job_id: str):
    wf = load(workflow)
    job = wf["jobs"][job_id]
    assert (environment(job), seen_by(wf, job)) == EXPECTED[(workflow, job_id)]


def test_the_jobs_pull_requests_reach_are_the_gates_and_they_hold_no_write_secret():
    assert sorted(pr_jobs()) == sorted([("cd-master.yml", "image-build"), ("ci-dev.yml", "checks"), ("ci-dev.yml", "infra"),
                                        ("ci-dev.yml", "workflow-jobs"), ("ci-test.yml", "model-gate")])
    for name, job_id in pr_jobs():
        wf = load(name)
        job = wf["jobs"][job_id]
        assert seen_by(wf, job) & WRITE_SECRETS == set(), f"{name} {job_id} runs pull-request code with {sorted(seen_by(wf, job) & WRITE_SECRETS)}"
        assert environment(job) is None, f"{name} {job_id}: an environment's secrets would reach pull-request code"


def test_no_workflow_runs_pull_request_code_with_the_base_repository_s_secrets():
    # pull_request_target and workflow_run run with the secrets and a write token, whatever the PR did.
    for path in FILES:
        assert not {"pull_request_target", "workflow_run"} & set(load(path.name)["on"]), path.name
        # No reusable workflow (`uses:` at job level) that could be handed `secrets: inherit`.
        assert all("uses" not in job and "secrets" not in job for job in load(path.name)["jobs"].values()), path.name


def test_write_secrets_are_only_in_jobs_bound_to_an_environment_never_at_workflow_level():
    for name, job_id, wf, job in jobs():
        assert secrets_in(wf.get("env") or {}) & WRITE_SECRETS == set(), f"{name}: write secrets at workflow level"
        if seen_by(wf, job) & WRITE_SECRETS:
            assert environment(job), f"{name} {job_id} holds {sorted(seen_by(wf, job) & WRITE_SECRETS)} without an environment"


def test_the_model_gate_registers_its_candidate_in_the_runner_s_registry_and_reads_production_in_one_step():
    gate = load("ci-test.yml")["jobs"]["model-gate"]
    assert gate["env"]["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert gate["env"]["RPS_SHARED_REGISTRY"] == "false"
    assert secrets_in(gate["env"]) == set()
    readers = [s for s in gate["steps"] if secrets_in(s) & READ_SECRETS]
    assert [s.get("run") for s in readers] == ["make ci-champion"]
    assert readers[0]["env"] == {
        "RPS_CHAMPION_TRACKING_URI": "${{ secrets.MLFLOW_READ_TRACKING_URI }}",
        "RPS_CHAMPION_TRACKING_USERNAME": "${{ secrets.MLFLOW_READ_USERNAME }}",
        "RPS_CHAMPION_TRACKING_PASSWORD": "${{ secrets.MLFLOW_READ_PASSWORD }}",
    }
    token = [s for s in gate["steps"] if secrets_in(s) & TOKEN]
    assert [s.get("run") for s in token] == ["make ci-report"]


def test_the_promotion_runs_after_the_merge_in_its_protected_environment_and_compares_again():
    wf = load("ci-test.yml")
    assert wf["on"]["push"] == {"branches": ["test"]}
    promote = wf["jobs"]["promote-candidate"]
    assert promote["if"] == "github.event_name == 'push'"
    assert environment(promote) == "production-registry"
    runs = [s["run"] for s in promote["steps"] if "run" in s]
    # Its own candidate from the merged code, its own comparison, then the gate of rps promote.
    assert runs == ["make install", "make stack-up", "make dag-test-ci", "make ci-compare", "make ci-promote"]
    assert promote["env"]["RPS_CANDIDATE_ALIAS"] == "merge-${{ github.run_id }}"
    # Nothing a pull request's run produced is read: no artifact download, no PR number.
    assert not [s for s in promote["steps"] if "download-artifact" in s.get("uses", "")]
    assert "pull_request" not in str(promote)
    # A promotion under way is never cancelled by the next push.
    assert wf["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    assert promote["concurrency"] == {"group": "rps-promote-test", "cancel-in-progress": False}


def test_only_deliver_holds_the_docker_hub_token_in_the_dockerhub_environment():
    holders = [(name, job_id) for name, job_id, wf, job in jobs() if {"DOCKERHUB_TOKEN", "DOCKERHUB_USERNAME"} & seen_by(wf, job)]
    assert holders == [("cd-master.yml", "deliver")]
    deliver = load("cd-master.yml")["jobs"]["deliver"]
    assert environment(deliver) == "dockerhub"
    assert deliver["if"] == "github.event_name != 'pull_request'"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_permissions_are_empty_at_workflow_level_and_minimal_per_job(path):
    wf = load(path.name)
    assert wf["permissions"] == {}
    for job_id, job in wf["jobs"].items():
        assert job.get("permissions") == EXPECTED_PERMISSIONS[(path.name, job_id)], f"{path.name} {job_id}"


def test_every_checkout_leaves_no_token_in_git_config():
    checkouts = [(name, job_id, step) for name, job_id, _, job in jobs() for step in job["steps"] if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) >= len(EXPECTED)
    for name, job_id, step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, f"{name} {job_id}: {step}"
