"""The gates of .github/workflows, read from the YAML: nothing soft-fails, the model report is
published before the verdict, delivery verifies the container before pushing it, the required
checks of scripts/protect-branches exist as job names, every make target a workflow calls
exists in the Makefile, and every job runs in a fresh runner container in `make test`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); normalise it.
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: str, job: str) -> list[dict]:
    return load(workflow)["jobs"][job]["steps"]


def index_of(steps_: list[dict], pattern: str) -> int:
    hits = [i for i, s in enumerate(steps_) if re.search(pattern, s.get("run", "").strip()) or re.search(pattern, s.get("uses", ""))]
    assert len(hits) == 1, f"expected exactly one step matching {pattern!r}, found {len(hits)}"
    return hits[0]


def walk(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}")
            yield path, key, value
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}[{i}]")


def all_steps():
    for f in FILES:
        for job_id, job in load(f.name)["jobs"].items():
            for step in job.get("steps", []):
                yield f.name, job_id, step


def test_the_three_workflows_exist():
    assert [f.name for f in FILES] == ["cd-master.yml", "ci-dev.yml", "ci-test.yml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_when_any_workflow_then_no_continue_on_error_anywhere(path: Path):
    assert "continue-on-error" not in path.read_text()
    assert not [p for p, k, _ in walk(load(path.name)) if k == "continue-on-error"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_when_any_workflow_then_no_failure_is_swallowed_in_a_run_step(path: Path):
    text = path.read_text()
    assert not re.search(r"\|\|\s*(true\b|:(\s|$)|exit 0\b)", text, re.M)
    assert "set +e" not in text


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_when_any_workflow_then_runs_use_bash_with_pipefail_and_permissions_are_explicit(path: Path):
    wf = load(path.name)
    assert wf["defaults"]["run"]["shell"] == "bash"  # GitHub's bash: -eo pipefail
    assert "permissions" in wf and "write-all" not in str(wf["permissions"])


def test_when_an_action_is_used_then_it_is_pinned_to_a_commit_with_its_version_in_a_comment():
    for path in FILES:
        for line in path.read_text().splitlines():
            m = re.search(r"uses:\s*(\S+)", line)
            if m:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", m.group(1)), line
                assert re.search(r"# v\d+\.\d+\.\d+\s*$", line), line


def test_when_a_step_runs_a_command_then_it_is_a_make_target_an_rps_command_or_a_named_tool():
    allowed = re.compile(r"^(make [a-z][a-z0-9-]*|bin/rps [a-z-]+( .*)?|scripts/verify-deployment .+)$")
    for name, job, step in all_steps():
        if "run" in step:
            lines = [line for line in step["run"].strip().splitlines() if line.strip()]
            assert len(lines) == 1, f"{name} {job}: one command per step: {step['run']!r}"
            assert allowed.match(lines[0]), f"{name} {job}: {lines[0]!r}"


def test_when_ci_dev_then_lint_typecheck_and_unit_are_unconditional_steps_on_prs_into_dev():
    wf = load("ci-dev.yml")
    assert "dev" in wf["on"]["pull_request"]["branches"]
    s = steps("ci-dev.yml", "checks")
    runs = [x.get("run") for x in s if "run" in x]
    assert runs == ["make install", "make lint", "make typecheck", "make unit"]
    assert not any("if" in x for x in s)


def test_when_ci_test_then_dag_compare_report_and_gate_come_in_that_order():
    wf = load("ci-test.yml")
    assert wf["on"]["pull_request"]["branches"] == ["test"]
    s = steps("ci-test.yml", "model-gate")
    stack = index_of(s, r"^make stack-up$")
    dag = index_of(s, r"^make dag-test-ci$")
    compare = index_of(s, r"^make ci-compare$")
    setup_cml = index_of(s, r"iterative/setup-cml@")
    comment = index_of(s, r"^make ci-report$")
    gate = index_of(s, r"^make compare-gate$")
    assert stack < dag < compare < setup_cml < comment < gate
    assert gate == len(s) - 1, "the gate is the last step"


def test_when_ci_test_then_the_report_is_published_even_when_an_earlier_step_failed():
    s = steps("ci-test.yml", "model-gate")
    for i in (index_of(s, r"iterative/setup-cml@"), index_of(s, r"^make ci-report$")):
        assert "always()" in s[i]["if"]
    assert s[index_of(s, r"^make ci-report$")]["env"]["REPO_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert load("ci-test.yml")["jobs"]["model-gate"]["permissions"]["pull-requests"] == "write"


def test_when_ci_test_then_the_gate_is_not_guarded_so_a_lost_comparison_fails_the_job():
    s = steps("ci-test.yml", "model-gate")
    gate = s[index_of(s, r"^make compare-gate$")]
    assert "if" not in gate  # default success(): runs after a successful compare, fails the job on a loss
    compare = s[index_of(s, r"^make ci-compare$")]
    assert "if" not in compare


def test_when_ci_test_then_the_gate_runs_on_pull_requests_and_the_promotion_only_on_the_merge_push():
    wf = load("ci-test.yml")
    assert wf["on"]["pull_request"] == {"branches": ["test"]}
    assert wf["on"]["push"] == {"branches": ["test"]}
    jobs = wf["jobs"]
    assert jobs["model-gate"]["if"] == "github.event_name != 'push'"
    assert jobs["promote-candidate"]["if"] == "github.event_name == 'push'"
    assert jobs["promote-candidate"]["concurrency"] == {"group": "rps-promote-test", "cancel-in-progress": False}
    # The candidate's alias: the pull request's in the gate, the merge run's in the promotion;
    # production's aliases are never named.
    assert jobs["model-gate"]["env"]["RPS_CANDIDATE_ALIAS"] == "pr-${{ github.event.pull_request.number || github.run_id }}"
    assert jobs["promote-candidate"]["env"]["RPS_CANDIDATE_ALIAS"] == "merge-${{ github.run_id }}"
    assert not re.search(r"--alias (challenger|champion)|--challenger (challenger|champion)", (WORKFLOWS / "ci-test.yml").read_text())


# The shared registry: read-only in cd-master (both jobs only export @champion), writable only in
# ci-test's promotion (test_workflow_credentials.py has the whole table).
SHARED = {"cd-master.yml": ("MLFLOW_READ_TRACKING_URI", lambda wf: wf["env"]),
          "ci-test.yml": ("MLFLOW_TRACKING_URI", lambda wf: wf["jobs"]["promote-candidate"]["env"])}


@pytest.mark.parametrize("name", sorted(SHARED))
def test_when_the_registry_secret_is_set_then_the_jobs_know_the_registry_is_shared(name: str):
    secret, env = SHARED[name]
    assert env(load(name))["RPS_SHARED_REGISTRY"] == f"${{{{ secrets.{secret} != '' && 'true' || 'false' }}}}"


def test_only_the_promotion_gets_the_shared_dvc_remote_and_only_with_its_secret_key():
    promote = load("ci-test.yml")["jobs"]["promote-candidate"]["env"]
    assert {k: v for k, v in promote.items() if k.startswith("RPS_DVC_")} == {
        "RPS_DVC_S3_ENDPOINT": "${{ secrets.RPS_DVC_ACCESS_KEY_ID != '' && vars.RPS_DVC_S3_ENDPOINT || '' }}",
        "RPS_DVC_S3_BUCKET": "${{ vars.RPS_DVC_S3_BUCKET }}",
        "RPS_DVC_ACCESS_KEY_ID": "${{ secrets.RPS_DVC_ACCESS_KEY_ID }}",
        "RPS_DVC_SECRET_ACCESS_KEY": "${{ secrets.RPS_DVC_SECRET_ACCESS_KEY }}",
    }
    # Nothing else pushes data: the other jobs never see the DVC keys.
    for name in ("ci-test.yml", "cd-master.yml", "ci-dev.yml"):
        text = (WORKFLOWS / name).read_text()
        assert text.count("secrets.RPS_DVC_") == (3 if name == "ci-test.yml" else 0), name


def test_when_deliver_runs_without_a_shared_registry_then_the_model_trained_on_the_runner_is_announced():
    assert load("cd-master.yml")["jobs"]["deliver"]["env"]["RPS_CI_SHIPS_MODEL"] == "true"
    assert "RPS_CI_SHIPS_MODEL" not in load("cd-master.yml")["jobs"]["image-build"].get("env", {})


def test_when_cd_master_delivers_then_it_exports_builds_runs_verifies_and_only_then_pushes():
    wf = load("cd-master.yml")
    assert wf["on"]["push"]["branches"] == ["master"]
    s = steps("cd-master.yml", "deliver")
    export = index_of(s, r"^bin/rps export-model --alias champion --out build/model$")
    build = index_of(s, r"^make image-serve$")
    start = index_of(s, r"^make serve-container$")
    verify = index_of(s, r"^scripts/verify-deployment http://127\.0\.0\.1:8000 --timeout 120$")
    login = index_of(s, r"docker/login-action@")
    push = index_of(s, r"^make image-push$")
    assert export < build < start < verify < login < push
    for i in (export, build, start, verify, login, push):
        assert "if" not in s[i], s[i]
    assert s[login]["with"] == {"username": "${{ secrets.DOCKERHUB_USERNAME }}", "password": "${{ secrets.DOCKERHUB_TOKEN }}"}


def test_when_cd_master_then_pull_requests_only_build_and_pushes_only_deliver():
    jobs = load("cd-master.yml")["jobs"]
    assert jobs["image-build"]["if"] == "github.event_name == 'pull_request'"
    assert jobs["deliver"]["if"] == "github.event_name != 'pull_request'"


def required_checks() -> dict[str, list[str]]:
    result = run(["scripts/protect-branches", "--dry-run"], env={"GITHUB_REPOSITORY": "o/r", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    out = {}
    for block in result.stdout.strip().split("\n\n"):
        request, body = block.split("\n")
        branch = request.split("/")[-2]
        out[branch] = [c["context"] for c in yaml.safe_load(body)["required_status_checks"]["checks"]]
    return out


def test_when_a_branch_requires_a_check_then_a_job_of_that_name_runs_on_prs_into_that_branch():
    for branch, checks in required_checks().items():
        names = set()
        for path in FILES:
            wf = load(path.name)
            pr = wf["on"].get("pull_request") or {}
            if branch in pr.get("branches", []):
                names |= {job.get("name") for job in wf["jobs"].values()}
        assert set(checks) <= names, f"{branch}: {sorted(set(checks) - names)} never report on PRs into {branch}"


def test_when_a_workflow_calls_make_then_the_target_exists_in_the_makefile():
    makefile = (ROOT / "Makefile").read_text()
    defined = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.M))
    called = {m for _, _, s in all_steps() for m in re.findall(r"^make ([a-z0-9-]+)", s.get("run", ""))}
    assert called - defined == set(), f"make targets the workflows call but the Makefile lacks: {sorted(called - defined)}"


# Every job of every workflow runs, every step, in a fresh runner container in `make test`
# (docs/cicd-tests.md, "What the tests execute"): infra-lint in test_runner_jobs.py, dev-checks and
# workflow-jobs in test_runner_ci_dev_jobs.py, the four stack-bound jobs in
# test_runner_stack_jobs.py. Those four (test_workflow_jobs.JOBS_RUN_HERE) also run with their
# variants in the workflow-job lab, which is the workflow-jobs job.
RUNNER_MODULES = {
    "test_runner_jobs.py": ["scripts/test-ci.sh"],
    "test_runner_ci_dev_jobs.py": ["scripts/test-runner-jobs.sh ci-dev -k dev_checks", "scripts/test-runner-jobs.sh ci-dev -k workflow_jobs"],
    "test_runner_stack_jobs.py": ["scripts/test-runner-jobs.sh stack"],
}


def jobs_started_in_runner_containers() -> set[tuple[str, str]]:
    """(workflow, job) of every literal `.job("<workflow>.yml", "<job>"` call of the runner modules."""
    return {(m[1], m[2]) for name in RUNNER_MODULES
            for m in re.finditer(r'\.job\(\s*"([\w-]+\.yml)",\s*"([\w-]+)"', (ROOT / "ci" / "tests" / name).read_text())}


def test_when_a_workflow_has_a_job_then_a_test_runs_it_in_a_fresh_runner_container():
    from test_workflow_jobs import JOBS_RUN_HERE

    jobs = {(f.name, job_id) for f in FILES for job_id in load(f.name)["jobs"]}
    assert jobs_started_in_runner_containers() == jobs
    assert JOBS_RUN_HERE <= jobs


def test_make_test_runs_every_runner_module():
    test_sh = {line.strip() for line in (ROOT / "scripts" / "test.sh").read_text().splitlines()}
    assert re.search(r"^test: install$", (ROOT / "Makefile").read_text(), re.M), "make test must run make install first"
    for module, commands in RUNNER_MODULES.items():
        for command in commands:
            assert any(command in line and not line.startswith("#") for line in test_sh), f"scripts/test.sh does not run {command} ({module})"
    # Together the -k selections of test_runner_ci_dev_jobs.py take every test of it.
    tests = re.findall(r"^def (test_\w+)", (ROOT / "ci" / "tests" / "test_runner_ci_dev_jobs.py").read_text(), re.M)
    selections = [c.split(" -k ")[1] for c in RUNNER_MODULES["test_runner_ci_dev_jobs.py"]]
    assert sorted(t for t in tests for k in selections if k in t) == sorted(tests), (tests, selections)
    test_ci = (ROOT / "scripts" / "test-ci.sh").read_text()
    assert "--ignore=ci/tests/test_runner_jobs.py" not in test_ci
    # The gated modules run only where their script sets the gate.
    for module in ("test_runner_ci_dev_jobs.py", "test_runner_stack_jobs.py"):
        assert f"--ignore=ci/tests/{module}" in test_ci


def test_every_mocha_test_directory_runs_in_make_unit_or_in_the_integration_run_of_make_test():
    # make test runs eslint, tsc and `make unit` only inside dev-checks (a runner container) and the
    # rest of mocha on the host: together they must cover every test directory.
    ignored = re.compile(r"--ignore 'dist/test/([\w-]+)/\*\*'")
    assert json.loads((ROOT / ".mocharc.json").read_text())["spec"] == ["dist/test/**/*.test.js"]
    [host] = [line.strip() for line in (ROOT / "scripts" / "test.sh").read_text().splitlines() if line.strip().startswith("npx mocha")]
    [unit] = [line for line in make_recipe("unit") if line.startswith("npx mocha")]
    ignored_on_host, ignored_by_unit = set(ignored.findall(host)), set(ignored.findall(unit))
    assert (ignored_on_host, ignored_by_unit) == ({"lib", "commands"}, {"integration"}), (host, unit)
    with_tests = {p.relative_to(ROOT / "test").parts[0] for p in (ROOT / "test").rglob("*.test.ts")}
    assert with_tests >= {"lib", "commands", "integration"}


def make_recipe(target: str) -> list[str]:
    """The commands `make TARGET` runs, prerequisites first (make -n)."""
    result = run(["make", "-n", "--no-print-directory", target])
    assert result.returncode == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def test_when_ci_test_checks_out_the_base_branch_then_ci_champion_trains_that_checkout():
    gate = load("ci-test.yml")["jobs"]["model-gate"]
    base = next(s for s in steps("ci-test.yml", "model-gate") if s.get("with", {}).get("path"))
    assert base["with"]["path"] == gate["env"]["RPS_CI_CHAMPION_DIR"]
    assert base["with"]["ref"] == "${{ github.base_ref || 'test' }}"


@pytest.mark.parametrize("name", sorted(SHARED))
def test_when_no_registry_secret_is_set_then_the_tracking_uri_is_the_one_the_local_stack_listens_on(name: str):
    common = (ROOT / "scripts" / "lib" / "common.sh").read_text()
    port = re.search(r'RPS_MLFLOW_PORT="\$\{RPS_MLFLOW_PORT:-(\d+)\}"', common)[1]
    secret, env = SHARED[name]
    assert env(load(name))["MLFLOW_TRACKING_URI"] == f"${{{{ secrets.{secret} || 'http://127.0.0.1:{port}' }}}}"
    # The pull request's gate always registers its candidate in the runner's own MLflow.
    assert load("ci-test.yml")["jobs"]["model-gate"]["env"]["MLFLOW_TRACKING_URI"] == f"http://127.0.0.1:{port}"
