"""The workflow jobs, run for real on this machine: ci/tests/gha.py executes each job's own steps
from the YAML (its env, its order, its `if`s) in scratch checkouts of this working tree, against a
real local stack (MinIO, MLflow, DVC remote, Airflow) that the steps start themselves, on free
ports. Only what cannot exist here is replaced: the `uses` actions (by the handlers below) and CML
(ci/tests/shims/cml). Docker is the real engine (scripts/docker-engine.sh), the images are built on
the local base images (scripts/base-images.sh: no Docker Hub here) and pushed to a real OCI
registry on loopback (scripts/install-registry.sh) instead of Docker Hub.

One stack serves the whole module, in file order (about 6 minutes on 2 shared cores):
1. ci-test `test-model-gate` on pull request #7 `feature/bigger-forest` -> `test` whose base branch
   trains a small forest (3 trees of depth 4) and the PR the forest of params.yaml: every step,
   from `make install` to `make compare-gate`; the candidate @pr-7 wins, the gate passes, and
   neither @challenger nor @champion moved;
2. pull request #8 `feature/stump` (1 tree of depth 1) from a fork (read-only token): the steps from
   `make dag-test-ci` on, against the same champion; the candidate @pr-8 loses, the comment is
   refused, the report is in the summary and the artifact, the gate fails;
3. a new push to #7: from `make ci-compare` on: its one comment is updated, the gate passes again;
4. ci-test `test-promote-candidate` on the push that merges #7 into test: the job trains the merged
   code's own candidate @merge-101 (v4), compares it with @champion and promotes it through rps
   promote's gate (the gate's @pr-7 is never read); then #8 merged anyway: its candidate (v5)
   loses, the promotion is refused, nothing moves;
5. cd-master `image-build` on a pull request into master, with the shared registry (its read-only
   secret set): the CLI and the serving image with the registry's champion;
6. cd-master `deliver` on a push to master, shared registry read-only: nothing trained on the
   runner, export of @champion (the version #7's merge compared and promoted), image, run, verify, push,
   verify the pushed image by digest; then the delivered container and image themselves: labels,
   Docker's `healthy`, /ready and /predict (example and observations), non-root, a refused release
   overwrite, broken images failing verify-deployment, `docker stop` under load;
7. the same job with a broken image: verify fails, nothing is pushed, `make serve-logs` runs.

The same four jobs also run once each, every step, in fresh runner containers
(ci/tests/test_runner_stack_jobs.py); the variants above stay here, on one shared stack. This lab
is ci-dev's workflow-jobs job (scripts/test-workflow-jobs.sh), which make test runs in a fresh
runner container with the host's network and Docker engine (ci/tests/test_runner_ci_dev_jobs.py).
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import json
import re
import subprocess
import threading
import time
from urllib.request import Request, urlopen

import pytest
from conftest import ROOT
from gha import clean_environ, load_workflow
from lab import (
    BASE, BASE_FOREST, BASE_IMAGES, DAG_ORDER, LOSE, MASTER, MODEL_NAME, PARAMS, PNG, STUMP, WIN,
    docker, failed_steps, git, image_config, last_dag_run, open_lab, pr_github,
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with open_lab(tmp_path_factory.mktemp("workflow-jobs")) as lab:
        yield lab


# ---------------------------------------------------------------------------------------------
# 1. ci-test on a winning pull request: every step of the job.


PR_GITHUB = pr_github(7)
PR_SECRETS = {"GITHUB_TOKEN": "ghs_fake_token_for_the_cml_shim"}
# A pull request from a fork: GitHub's token is read-only (the CML shim refuses it with a 403).
FORK_SECRETS = {"GITHUB_TOKEN": "ghs_readonly_fake_token_of_a_fork"}


@pytest.fixture(scope="module")
def model_gate(lab):
    workspace = lab.checkout("pr", WIN)
    job = lab.job("ci-test.yml", "model-gate", workspace, {**PR_GITHUB, "head_ref": WIN}, PR_SECRETS)
    results = job.run()
    return job, results


def test_the_model_gate_job_runs_every_step_green_when_the_pull_request_wins(model_gate, lab):
    job, results = model_gate
    assert [r.outcome for r in results] == ["success"] * len(job.steps()), failed_steps(results)
    # The job ran with the workflow's own settings, only the ports differ (a GitHub runner has 5000 free).
    wf_env = load_workflow("ci-test.yml")["env"]
    assert job.evaluated_env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert job.env["RPS_REPLAY_AT"] == wf_env["RPS_REPLAY_AT"] and job.env["RPS_CI_CHAMPION_DIR"] == ".rps/ci-base"
    assert (job.env["RPS_CANDIDATE_ALIAS"], job.env["RPS_SHARED_REGISTRY"]) == ("pr-7", "false")
    # make install built once; the later steps did not compile again (scripts/ci-build.sh).
    later = [r for r in results if r.run in ("make ci-champion", "make dag-test-ci", "make ci-compare")]
    assert all("ci-build: dist/ is newer than every source: not rebuilt" in r.output for r in later), [r.tail(20) for r in later]


def test_the_champion_comes_from_the_base_branch_code_and_the_challenger_from_the_pr(model_gate, lab):
    job, _ = model_gate
    # Production is read, never written: the PR's model is the candidate @pr-7; @challenger and
    # @champion stay on v1, where the base's training (ci-champion.sh, local mode) put them.
    assert lab.registry.aliases() == {"champion": "1", "challenger": "1", "pr-7": "2"}
    champion, challenger = lab.registry.run_of("1"), lab.registry.run_of("2")
    # v1 was trained by the base checkout (.rps/ci-base = branch test), with its params.yaml.
    assert champion["tags"]["rps.code_version"] == lab.shas[BASE]
    assert champion["params"]["model.nEstimators"] == str(BASE_FOREST["n_estimators"])
    assert champion["params"]["model.maxDepth"] == str(BASE_FOREST["max_depth"])
    # v2 by the DAG in the PR checkout, at the PR head: the DAG never commits dvc.lock (the data
    # version is recorded in S3 and on the MLflow run).
    pr = job.workspace
    assert challenger["tags"]["rps.code_version"] == git(pr, "rev-parse", "HEAD") == lab.shas[WIN]
    assert challenger["tags"]["rps.data_versioned_by_dvc"] == "true"
    assert challenger["params"]["model.nEstimators"] == str(PARAMS["model"]["n_estimators"])
    # Both saw the same replay clock: the base's fetch and the DAG's data interval end.
    base_meta = [json.loads(p.read_text()) for p in (pr / ".rps/ci-base/data/raw/replay").rglob("*.meta.json")]
    pr_meta = [json.loads(p.read_text()) for p in (pr / "data/raw/replay").rglob("*.meta.json")]
    replay_at = job.env["RPS_REPLAY_AT"].replace("+00:00", ".000Z")
    assert [m["observedUntil"] for m in base_meta] == [replay_at] and [m["observedUntil"] for m in pr_meta] == [replay_at]


def test_the_dag_run_is_green_trains_and_only_marks_compare_and_promote(model_gate, lab):
    job, results = model_gate
    conf, tasks, state = last_dag_run(lab.state)
    assert state == "success"
    # Every task succeeded (a task added later, e.g. a drift gate before train, must succeed too).
    assert set(DAG_ORDER) <= set(tasks) and set(tasks.values()) == {"success"}, tasks
    # The run parameters CI passes: the history, `retrain: always` (the drift gate never skips training) and who asked.
    assert conf == {"backfill_days": int(job.env["RPS_BACKFILL_DAYS"]), "retrain": "always", "triggered_by": "ci", "candidate_alias": "pr-7"}, conf
    dag = next(r for r in results if r.run == "make dag-test-ci")
    ran = [t for t in DAG_ORDER if f'"$RPS_BIN" {t}' in dag.output]
    assert ran == DAG_ORDER[: DAG_ORDER.index("compare")], "fetch .. train run, compare and promote are only marked"
    assert f"{MODEL_NAME} v2 @pr-7: holdout RMSE" in dag.output, "the DAG's train registered the candidate alias"


def test_the_compare_report_is_written_published_and_kept(model_gate, lab):
    job, _ = model_gate
    out = job.workspace / "reports" / "compare"
    report = json.loads((out / "report.json").read_text())
    assert (report["decision"], report["passed"]) == ("challenger_wins", True)
    assert (report["challenger"]["version"], report["challenger"]["alias"], report["champion"]["version"]) == ("2", "pr-7", "1")
    assert report["challenger"]["scores"]["rmse"] < report["champion"]["scores"]["rmse"]
    assert (out / "exit-code").read_text().strip() == "0"
    plots = sorted(out.glob("*.png"))
    assert plots and all(p.read_bytes().startswith(PNG) for p in plots)
    markdown = (out / "report.md").read_text()
    assert all(p.name in markdown for p in plots)
    # The job summary got the report; CML (the fake) posted it with every plot; the artifact has it all.
    assert markdown in job.summary.read_text()
    [comment] = lab.cml_comments()
    assert comment["argv"] == ["comment", "update", "--watermark-title=rps model gate", "reports/compare/report.md"]
    assert (comment["target"], comment["action"], comment["body"]) == ("pr/7", "created", markdown)
    assert sorted(p["url"].split("/")[-1] for p in comment["published"]) == [p.name for p in plots]
    assert {"reports/compare/report.md", "reports/compare/report.json"} <= set(job.artifacts)


def test_the_gate_step_passes_on_a_win(model_gate):
    _, results = model_gate
    gate = results[-1]
    assert gate.run == "make compare-gate" and gate.outcome == "success"
    assert "compare-gate: passed: challenger_wins: challenger v2 vs champion v1" in gate.output


# ---------------------------------------------------------------------------------------------
# 2. A losing pull request from a fork on the same stack: from `make dag-test-ci` to the gate.


@pytest.fixture(scope="module")
def losing_gate(model_gate, lab):
    first, _ = model_gate
    assert first.results[-1].outcome == "success", "needs the winning run's stack and champion"
    workspace = first.workspace
    git(workspace, "fetch", "-q", "origin", LOSE)
    git(workspace, "checkout", "-q", "-B", LOSE, "FETCH_HEAD")
    job = lab.job("ci-test.yml", "model-gate", workspace, pr_github(8, head_ref=LOSE), FORK_SECRETS)
    results = job.run(start=job.index_of_run("make dag-test-ci"))
    return job, results


def test_a_losing_candidate_from_a_fork_gets_its_report_and_the_gate_fails_though_no_comment_could_be_posted(losing_gate, lab):
    job, results = losing_gate
    outcomes = {r.run or r.uses.split("@")[0]: r.outcome for r in results}
    assert outcomes == {
        "make dag-test-ci": "success",
        "make ci-compare": "success",  # a lost comparison is a verdict, not an error
        "iterative/setup-cml": "success",
        "make ci-report": "success",  # the refused comment is a warning, not the verdict
        "actions/upload-artifact": "success",
        "make compare-gate": "failure",
    }, failed_steps(results)
    report = json.loads((job.workspace / "reports/compare/report.json").read_text())
    assert (report["decision"], report["passed"]) == ("challenger_loses", False)
    assert (report["challenger"]["version"], report["challenger"]["alias"], report["champion"]["version"]) == ("3", "pr-8", "1")
    assert lab.registry.run_of("3")["params"]["model.nEstimators"] == str(STUMP["n_estimators"])
    assert (job.workspace / "reports/compare/exit-code").read_text().strip() == "10"
    # GitHub refused the comment (the fork's read-only token): a warning on the job page, the
    # report in the summary and the artifact, and no comment on #8.
    publish = next(r for r in results if r.run == "make ci-report")
    assert "::warning title=Report not posted on the pull request::cml comment update exited 1" in publish.output
    assert "Resource not accessible by integration (HTTP 403)" in publish.output
    markdown = (job.workspace / "reports/compare/report.md").read_text()
    summary = job.summary.read_text()
    assert markdown in summary and "could not be posted as a pull request comment" in summary
    assert {"reports/compare/report.md", "reports/compare/report.json"} <= set(job.artifacts)
    assert [c["target"] for c in lab.cml_comments()] == ["pr/7"]
    gate = results[-1]
    assert gate.returncode == 2  # make's status when its recipe (ci-compare.sh gate: exit 1) failed
    assert "compare-gate: FAILED: challenger_loses: challenger v3 is worse than champion v1" in gate.output
    assert lab.registry.aliases() == {"champion": "1", "challenger": "1", "pr-7": "2", "pr-8": "3"}, "nothing in the gate promotes"


# ---------------------------------------------------------------------------------------------
# 3. A new push to #7 (same model): the compare, the one comment updated, the gate.


@pytest.fixture(scope="module")
def second_push(losing_gate, lab):
    job_ = losing_gate[0]
    workspace = job_.workspace
    git(workspace, "checkout", "-q", WIN)
    job = lab.job("ci-test.yml", "model-gate", workspace, {**PR_GITHUB, "head_ref": WIN}, PR_SECRETS)
    results = job.run(start=job.index_of_run("make ci-compare"))
    return job, results


def test_a_new_push_updates_the_one_comment_of_the_pull_request(second_push, lab):
    job, results = second_push
    assert [r.outcome for r in results] == ["success"] * len(results), failed_steps(results)
    comments = lab.cml_comments()
    assert [(c["target"], c["action"], c["comment_id"]) for c in comments] == [("pr/7", "created", 1), ("pr/7", "updated", 1)]
    assert comments[-1]["body"] == (job.workspace / "reports/compare/report.md").read_text()
    assert "compare-gate: passed: challenger_wins: challenger v2 vs champion v1" in results[-1].output


# ---------------------------------------------------------------------------------------------
# 4. #7 merged (a push to test): the promotion job trains the merged code's own candidate, compares
# it with @champion and promotes it through rps promote's gate; #8 merged anyway: refused.

# The registry secret set: the jobs treat MLFLOW_TRACKING_URI as the shared registry (here the lab's
# MLflow, which Local.env points MLFLOW_TRACKING_URI at; test_remote_mode.py has a second stack).
SHARED_SECRETS = {"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}
# cd-master reads the shared registry with its read-only user's secrets (docs/credentials.md).
READ_SECRETS = {"MLFLOW_READ_TRACKING_URI": "http://127.0.0.1:5000"}


def push_github(run_id: int) -> dict:
    """The `github` context of the push a merge into test makes."""
    return {"event_name": "push", "ref": f"refs/heads/{BASE}", "run_id": str(run_id)}


@pytest.fixture(scope="module")
def merged(second_push, lab):
    workspace = second_push[0].workspace
    git(workspace, "checkout", "-q", WIN)
    job = lab.job("ci-test.yml", "promote-candidate", workspace, push_github(101), SHARED_SECRETS)
    results = job.run()
    # Read now: the refused run below writes the same files.
    promoted = json.loads((workspace / "reports/promote/promote.json").read_text()) if results[-1].outcome == "success" else {}
    compared = json.loads((workspace / "reports/compare/report.json").read_text())
    git(workspace, "checkout", "-q", LOSE)
    refused = lab.job("ci-test.yml", "promote-candidate", workspace, push_github(102), SHARED_SECRETS)
    refused_results = refused.run(start=refused.index_of_run("make dag-test-ci"))
    return job, results, promoted, refused, refused_results, compared


def test_when_a_pull_request_is_merged_then_its_code_s_own_candidate_is_compared_and_promoted(merged, lab):
    job, results, promote, _, _, compared = merged
    assert [r.outcome for r in results] == ["success"] * len(results), failed_steps(results)
    assert (job.env["RPS_SHARED_REGISTRY"], job.env["RPS_CANDIDATE_ALIAS"]) == ("true", "merge-101")
    # Trained here from the merged code (v4), not the gate's @pr-7 (v2), which nothing read.
    aliases = lab.registry.aliases()
    assert {k: aliases[k] for k in ("champion", "previous-champion", "challenger", "merge-101", "pr-7")} == {
        "champion": "4", "previous-champion": "1", "challenger": "4", "merge-101": "4", "pr-7": "2"}
    assert lab.registry.run_of("4")["tags"]["rps.code_version"] == lab.shas[WIN]
    assert (compared["decision"], compared["challenger"]["alias"], compared["champion"]["version"]) == ("challenger_wins", "merge-101", "1")
    assert (promote["action"], promote["trigger"]) == ("promoted", "manual")
    sha = lab.shas[WIN][:7]
    assert re.fullmatch(rf"merged into test \(commit {sha}\); challenger v4 holdout RMSE \d+\.\d{{3}} vs champion v1 \d+\.\d{{3}} on \d+ rows", promote["reason"]), promote["reason"]
    assert "## Candidate `@merge-101` promoted" in job.summary.read_text()
    assert {"reports/compare/report.md", "reports/compare/report.json"} <= set(job.artifacts)
    # The model gate does not run on the push, the promotion never on a pull request.
    assert not lab.job("ci-test.yml", "model-gate", job.workspace, push_github(103), {}).runs_for_event()
    for action in ("closed", "synchronize"):
        assert not lab.job("ci-test.yml", "promote-candidate", job.workspace, pr_github(9, action, **{"event.pull_request.merged": True}), {}).runs_for_event()


def test_when_a_losing_change_is_merged_anyway_then_the_promotion_is_refused_in_red(merged, lab):
    _, _, _, job, results, _ = merged
    outcomes = {r.run or r.uses.split("@")[0]: r.outcome for r in results}
    assert outcomes == {"make dag-test-ci": "success", "make ci-compare": "success", "actions/upload-artifact": "success",
                        "make ci-promote": "failure"}, failed_steps(results)
    assert "::error title=Candidate @merge-102 not promoted::rps promote exited 10: refusing to promote" in results[-1].output
    assert lab.registry.aliases()["champion"] == "4"
    assert lab.registry.run_of("5")["params"]["model.nEstimators"] == str(STUMP["n_estimators"])


# ---------------------------------------------------------------------------------------------
# 3-5. cd-master


@pytest.fixture(scope="module")
def image_build(merged, lab):
    workspace = lab.checkout("master-pr", WIN)
    job = lab.job("cd-master.yml", "image-build", workspace, {"event_name": "pull_request", "base_ref": MASTER}, READ_SECRETS)
    results = job.run()
    return job, results


def test_the_image_build_job_builds_the_cli_and_the_serving_image(image_build, lab):
    job, results = image_build
    assert [r.outcome for r in results] == ["success"] * len(results), failed_steps(results)
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    cli = image_config(f"{lab.cli_image}:{v}")
    assert cli["Labels"]["org.opencontainers.image.revision"] == lab.shas[WIN]
    assert cli["Entrypoint"] == ["rps"] and cli["User"] == "1000:1000"
    # The CLI image runs the pipeline commands (its own Node, production dependencies).
    run = docker("run", "--rm", f"{lab.cli_image}:{v}", "--version", timeout=120)
    assert run.returncode == 0 and "rps" in run.stdout, run.stderr
    serve = image_config(f"{lab.image}:{v}")
    assert serve["Labels"]["model.version"] == lab.registry.aliases()["champion"]
    build = next(r for r in results if r.run == "make image-serve")
    if BASE_IMAGES == "local":
        assert "cannot be pulled" not in build.output  # no pull attempted
    assert "base image rps-base/node:" in build.output


@pytest.fixture(scope="module")
def deliver(merged, lab):
    workspace = lab.checkout("master", MASTER)
    secrets = {"DOCKERHUB_USERNAME": "rps-ci-test", "DOCKERHUB_TOKEN": "fake-token", **READ_SECRETS}
    job = lab.job("cd-master.yml", "deliver", workspace, {"event_name": "push", "ref": "refs/heads/master"}, secrets,
                  **{"http://127.0.0.1:8000": f"http://127.0.0.1:{lab.ports['serve']}"})
    results = job.run()
    return job, results


def test_the_deliver_job_exports_the_champion_builds_runs_verifies_pushes_and_verifies_by_digest(deliver, merged, lab):
    job, results = deliver
    outcomes = [(r.run or r.uses.split("@")[0], r.outcome) for r in results]
    assert outcomes[-1] == ("make serve-logs", "skipped")  # if: failure()
    assert all(o == "success" for _, o in outcomes[:-1]), failed_steps(results)
    assert job.unused_rewrites() == set()
    # The shared registry: nothing trained on the runner, and nothing said in red about it; the
    # exported @champion is the version #7's merge trained, compared and promoted.
    champion_step = next(r for r in results if r.run == "make ci-champion")
    assert "nothing to train here" in champion_step.output and "::error" not in champion_step.output
    champion = lab.registry.aliases()["champion"]
    passed = merged[5]
    assert champion == passed["challenger"]["version"] == "4" and passed["passed"] is True
    assert lab.registry.run_of(champion)["tags"]["rps.code_version"] == lab.shas[WIN]
    registry = json.loads((job.workspace / "build/model/registry.json").read_text())
    # ... with the sha256 of every model file rps train recorded on the version (rps.artifact_digests),
    # which the export checked and the image build (rps serve --check) and the server check again.
    tag = json.loads(lab.registry.version_tags(champion)["rps.artifact_digests"])
    assert registry == {"name": MODEL_NAME, "version": champion, "alias": "champion", "digests": tag}
    assert sorted(tag) == ["MLmodel", "features.json", *[f"forest-h{h}.json" for h in range(1, 6)], "forest.json", "model.json"]
    for name, sha in tag.items():
        assert hashlib.sha256((job.workspace / "build/model" / name).read_bytes()).hexdigest() == sha, name
    verify = next(r for r in results if (r.run or "").startswith("scripts/verify-deployment http"))
    assert f"verify-deployment: OK http://127.0.0.1:{lab.ports['serve']}" in verify.output
    assert f"model {MODEL_NAME} v{champion}" in verify.output
    # Pushed as vX.Y.Z and sha-<commit>, both the same image, then pulled by digest and verified.
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    digest = (job.workspace / "build/image.digest").read_text().strip()
    assert re.fullmatch(re.escape(lab.remote) + r"@sha256:[0-9a-f]{64}", digest), digest
    for tag in (v, f"sha-{lab.shas[MASTER][:7]}"):
        with urlopen(Request(f"http://{lab.registry_host}/v2/rps-ci/{lab.image}/manifests/{tag}", method="HEAD", headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"}), timeout=10) as r:
            assert r.headers["Docker-Content-Digest"] == digest.split("@")[1], tag
    by_digest = next(r for r in results if (r.run or "").startswith("scripts/verify-deployment --image"))
    assert f"verify-deployment: OK image {digest} healthy after " in by_digest.output
    assert f"model {MODEL_NAME} v{champion}" in by_digest.output


def test_the_delivered_image_carries_revision_version_and_model_labels(deliver, lab):
    job, _ = deliver
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    model = json.loads((job.workspace / "build/model/model.json").read_text())
    labels = image_config(f"{lab.image}:{v}")["Labels"]
    assert labels["org.opencontainers.image.revision"] == lab.shas[MASTER]
    assert labels["org.opencontainers.image.version"] == v
    assert labels["model.name"] == MODEL_NAME
    assert labels["model.version"] == lab.registry.aliases()["champion"] == "4"  # the version the merge job compared and promoted
    assert labels["model.data_version"] == model["dataVersion"] and len(model["dataVersion"]) >= 8


def container_url(lab) -> str:
    return f"http://127.0.0.1:{lab.ports['serve']}"


def post_json(url: str, body: object) -> tuple[int, dict]:
    req = Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})
    with urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


def observations_instance(base: str) -> dict:
    """The newest hours of the replay data, as the observations the service accepts."""
    with urlopen(f"{base}/openapi.json", timeout=10) as r:
        schemas = json.loads(r.read())["components"]["schemas"]
    with urlopen(f"{base}/model", timeout=10) as r:
        needed = json.loads(r.read())["minObservations"]
    allowed = set(schemas["ObservationInstance"]["properties"]["observations"]["items"]["properties"]) - {"time"}
    with open(ROOT / "data/replay/greensboro-nc.csv", newline="") as f:
        rows = list(csv.DictReader(f))[-max(needed, 25) - 5:]
    return {"observations": [{"time": f"{row['time']}:00Z", **{k: float(row[k]) for k in allowed if row.get(k) not in (None, "")}} for row in rows]}


def test_the_delivered_container_is_healthy_and_serves_the_labelled_model(deliver, lab):
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    wanted = image_config(f"{lab.image}:{v}")["Labels"]["model.version"]
    deadline = time.monotonic() + 120
    while (health := docker("inspect", "--format", "{{.State.Health.Status}}", lab.container).stdout.strip()) != "healthy":
        assert health == "starting" and time.monotonic() < deadline, health
        time.sleep(1)
    base = container_url(lab)
    with urlopen(f"{base}/ready", timeout=10) as r:
        assert json.loads(r.read())["model"]["version"] == wanted
    with urlopen(f"{base}/model", timeout=10) as r:
        example = json.loads(r.read())["example"]
    observations = observations_instance(base)
    assert len(observations["observations"]) >= 25
    status, answer = post_json(f"{base}/predict", {"instances": [example, observations]})
    assert status == 200
    by_features, by_observations = answer["predictions"]
    assert by_features["model"]["version"] == by_observations["model"]["version"] == wanted
    assert by_features["target_time"] is None and by_observations["target_time"].startswith("20")
    assert all(isinstance(p["prediction"], float | int) for p in answer["predictions"])


def test_the_delivered_container_runs_as_a_non_root_user(deliver, lab):
    result = docker("exec", lab.container, "id", "-u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1000"


def test_pushing_a_release_tag_that_exists_with_another_image_is_refused(deliver, lab):
    job, _ = deliver
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    released = (job.workspace / "build/image.digest").read_text().strip()
    other = f"{lab.prefix}/other"
    env = clean_environ() | lab.local().env | {"RPS_IMAGE_NAME": other, "RPS_IMAGE_REGISTRY": f"{lab.registry_host}/rps-ci"}
    # The registry's rps-ci/other has no release yet: the first push goes through ...
    docker("tag", f"{lab.image}:{v}", f"{other}:{v}")
    first = subprocess.run(["scripts/docker-image.sh", "push-serve"], cwd=job.workspace, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    # ... a different image under the same vX.Y.Z is refused, and the registry keeps the release.
    assert docker("build", "-t", f"{other}:{v}", "-", input=f"FROM {lab.image}:{v}\nLABEL rps.test=another-build\n").returncode == 0
    second = subprocess.run(["scripts/docker-image.sh", "push-serve"], cwd=job.workspace, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1
    assert f"refusing to push {lab.registry_host}/rps-ci/{other}:{v}: the registry already has this release with another image" in second.stderr
    assert "bump the version in package.json" in second.stderr
    with urlopen(Request(f"http://{lab.registry_host}/v2/rps-ci/{other}/manifests/{v}", method="HEAD", headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"}), timeout=10) as r:
        assert r.headers["Docker-Content-Digest"] == first.stdout.strip().split("@")[1]
    assert released.split("@")[1] == first.stdout.strip().split("@")[1]  # the same image, so the same digest


def push_broken(lab, name: str, dockerfile: str) -> str:
    ref = f"{lab.registry_host}/rps-ci/broken:{name}"
    built = docker("build", "-t", ref, "-", input=dockerfile)
    assert built.returncode == 0, built.stderr
    pushed = docker("push", ref)
    assert pushed.returncode == 0, pushed.stderr
    digests = docker("image", "inspect", "--format", "{{join .RepoDigests \"\\n\"}}", ref).stdout.split()
    return next(d for d in digests if d.startswith(f"{lab.registry_host}/rps-ci/broken@"))


@pytest.mark.parametrize(("kind", "dockerfile", "reason"), [
    ("model-missing", "USER 0\nRUN rm /app/model/forest.json\nUSER 1000:1000\n", "model in /app/model does not match its recorded digests: forest.json is missing"),
    ("wrong-port", 'CMD ["bin/rps", "serve", "--model-dir", "/app/model", "--host", "0.0.0.0", "--port", "9000"]\n',
     "the container was not healthy within 25s"),
])
def test_verify_deployment_fails_a_broken_image_with_the_reason(deliver, lab, kind, dockerfile, reason):
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    ref = push_broken(lab, kind, f"FROM {lab.image}:{v}\n{dockerfile}")
    result = subprocess.run([str(ROOT / "scripts/verify-deployment"), "--image", ref, "--timeout", "25", "--interval", "0.5"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("verify-deployment: FAIL "), result.stderr
    assert reason in result.stderr, result.stderr
    if kind == "wrong-port":
        assert "9000" in result.stderr, result.stderr  # its log says where it listens
    assert docker("ps", "-aq", "--filter", "name=rps-verify-").stdout.strip() == "", "verify-deployment removes its container"


def test_docker_stop_under_load_exits_0_and_every_answer_is_a_200(deliver, lab):
    ip = docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", lab.container).stdout.strip()
    assert ip, "the container has no bridge address"
    with urlopen(f"{container_url(lab)}/model", timeout=10) as r:
        body = json.dumps({"instances": [json.loads(r.read())["example"]] * 50})
    stop_sent = threading.Event()
    done = threading.Event()
    outcomes: list[tuple[bool, str]] = []  # (ended after the stop was sent, outcome)

    def load() -> None:
        # Straight to the container (no docker-proxy in between), a new connection per request.
        while not done.is_set():
            conn = http.client.HTTPConnection(ip, 8000, timeout=30)
            try:
                conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                ok = resp.status != 200 or len(json.loads(data)["predictions"]) == 50
                # When the answer arrived, not when the request started: the requests in flight when
                # the stop is sent are the ones a graceful stop must still answer.
                outcomes.append((stop_sent.is_set(), str(resp.status) if ok else "short"))
            except ConnectionRefusedError:
                outcomes.append((stop_sent.is_set(), "refused"))  # the listener is closed: not in flight
                time.sleep(0.05)
            except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError) as err:
                outcomes.append((stop_sent.is_set(), f"dropped {type(err).__name__}"))
            except (http.client.IncompleteRead, ValueError) as err:
                outcomes.append((stop_sent.is_set(), f"truncated {type(err).__name__}"))
            except OSError as err:  # no route: the container is gone
                outcomes.append((stop_sent.is_set(), f"gone {type(err).__name__}"))
                time.sleep(0.05)
            finally:
                conn.close()

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(2)
    stop_sent.set()
    stopped = docker("stop", lab.container, timeout=60)
    done.set()
    for t in threads:
        t.join(timeout=60)
    assert stopped.returncode == 0, stopped.stderr
    state = json.loads(docker("inspect", "--format", "{{json .State}}", lab.container).stdout)
    assert (state["Status"], state["ExitCode"], state["OOMKilled"]) == ("exited", 0, False), state
    kinds = [o for _, o in outcomes]
    answers = [k for k in kinds if k[0].isdigit() or k == "short"]
    assert answers and set(answers) == {"200"}, sorted(set(kinds))  # no 5xx, no 4xx, every batch whole
    assert not any(k.startswith("truncated") for k in kinds), sorted(set(kinds))
    assert any(after and o == "200" for after, o in outcomes), "no request in flight at the stop was answered"
    # A reset can also be a connection still in the kernel's accept queue when the listener closed
    # (never seen by the server), so resets are not counted as dropped requests; every request the
    # server answered was a whole 200 above, and it exited 0 within docker stop's grace period.
    assert kinds.count("200") > 10 * sum(1 for k in kinds if k.startswith("dropped")), sorted(set(kinds))


@pytest.fixture(scope="module")
def broken_deliver(deliver, lab):
    first, _ = deliver
    assert first.results[-1].outcome == "skipped", "needs the delivered image"
    # A broken image under the delivered tag: its model has no forest (as if the build's own check
    # had been bypassed). The good image is tagged back afterwards.
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    good = docker("image", "inspect", "--format", "{{.Id}}", f"{lab.image}:{v}").stdout.strip()
    broken = docker("build", "-t", f"{lab.image}:{v}", "-", input=f"FROM {good}\nUSER 0\nRUN rm /app/model/forest.json\nUSER 1000:1000\n")
    assert broken.returncode == 0, broken.stderr
    pushed_before = docker("image", "inspect", "--format", "{{json .RepoDigests}}", f"{lab.remote}:{v}").stdout
    # verify-deployment waits up to 120 s for a container that will never answer: 8 s here.
    job = lab.job("cd-master.yml", "deliver", first.workspace, first.github, first.secrets,
                  **{"http://127.0.0.1:8000 --timeout 120": f"http://127.0.0.1:{lab.ports['serve']} --timeout 8"})
    try:
        results = job.run(start=job.index_of_run("make serve-container"))
    finally:
        docker("tag", good, f"{lab.image}:{v}")
    return job, results, pushed_before


def test_the_deliver_job_pushes_nothing_when_the_container_does_not_answer_and_shows_its_log(broken_deliver, lab):
    _, results, pushed_before = broken_deliver
    outcomes = [(r.run or r.uses.split("@")[0], r.outcome) for r in results]
    assert outcomes == [
        ("make serve-container", "success"),
        ("scripts/verify-deployment http://127.0.0.1:8000 --timeout 120", "failure"),
        ("docker/login-action", "skipped"),
        ("make image-push", "skipped"),
        ('scripts/verify-deployment --image "$(cat build/image.digest)" --timeout 120', "skipped"),
        ("make serve-logs", "success"),
    ], failed_steps(results)
    assert "verify-deployment: FAIL GET /health" in results[1].output
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    assert docker("image", "inspect", "--format", "{{json .RepoDigests}}", f"{lab.remote}:{v}").stdout == pushed_before
    logs = results[-1].output
    assert "model in /app/model does not match its recorded digests: forest.json is missing" in logs, logs[-3000:]


# ---------------------------------------------------------------------------------------------
# The "done when": every step of these jobs ran (or, for an action, was handled) above.

JOBS_RUN_HERE = {("ci-test.yml", "model-gate"), ("ci-test.yml", "promote-candidate"), ("cd-master.yml", "image-build"), ("cd-master.yml", "deliver")}


def test_every_step_of_the_jobs_run_here_was_executed_by_one_of_the_tests_above(model_gate, losing_gate, second_push, merged, image_build, deliver, broken_deliver, lab):
    executed: dict[tuple[str, str], set[int]] = {}
    for job in lab.jobs:
        executed.setdefault((job.workflow_name, job.job_id), set()).update(r.index for r in job.results if r.outcome != "skipped")
    assert set(executed) == JOBS_RUN_HERE
    for workflow, job_id in sorted(JOBS_RUN_HERE):
        steps = load_workflow(workflow)["jobs"][job_id]["steps"]
        missing = [s.get("run") or s.get("uses") for i, s in enumerate(steps) if i not in executed[(workflow, job_id)]]
        assert not missing, f"{workflow} {job_id}: steps no test executed: {missing}"
