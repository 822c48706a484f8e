"""The CI wiring scripts the workflows call: ci-compare.sh (run/gate), ci-champion.sh (which
registry, which commands), docker-image.sh (the exact docker commands, via --dry-run)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ROOT, run


def fake_rps(tmp_path: Path, exit_code: int, decision: str, passed: bool, write_report: bool = True) -> Path:
    """A stand-in for bin/rps compare: writes the report files rps writes, prints JSON, exits."""
    out = tmp_path / "compare"
    report = {
        "decision": decision, "passed": passed, "challenger": {"version": "5"}, "champion": {"version": "4"},
        "deltaRmse": 0.12 if not passed else -0.05, "toleranceRmse": 0.0,
    }
    script = tmp_path / "rps"
    lines = ["#!/usr/bin/env bash", f'echo "$@" > "{tmp_path}/args"']
    if write_report:
        lines += [f"mkdir -p {out}", f"cat > {out}/report.json <<'J'\n{json.dumps(report)}\nJ", f"echo '# report' > {out}/report.md"]
    lines += [f"echo '{json.dumps(report)}'", f"exit {exit_code}"]
    script.write_text("\n".join(lines) + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def compare_env(tmp_path: Path, rps: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, RPS_BIN=str(rps), RPS_COMPARE_DIR=str(tmp_path / "compare"))
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.update(extra)
    return env


def test_when_the_challenger_wins_then_run_and_gate_pass(tmp_path: Path):
    env = compare_env(tmp_path, fake_rps(tmp_path, 0, "challenger_wins", True))
    assert run(["scripts/ci-compare.sh", "run"], env=env).returncode == 0
    assert (tmp_path / "compare" / "exit-code").read_text().strip() == "0"
    assert (tmp_path / "args").read_text().split() == ["compare", "--json", "--lose-exit-code", "10"]
    gate = run(["scripts/ci-compare.sh", "gate"], env=env)
    assert gate.returncode == 0
    assert "compare-gate: passed: challenger_wins: challenger v5 vs champion v4 (delta RMSE -0.05)" in gate.stderr


def test_when_the_challenger_loses_then_run_passes_so_the_report_is_published_and_gate_fails(tmp_path: Path):
    summary = tmp_path / "summary.md"
    env = compare_env(tmp_path, fake_rps(tmp_path, 10, "challenger_loses", False), GITHUB_STEP_SUMMARY=str(summary))
    ran = run(["scripts/ci-compare.sh", "run"], env=env)
    assert ran.returncode == 0, ran.stderr
    assert "challenger loses" in ran.stderr
    assert summary.read_text() == "# report\n"
    assert json.loads((tmp_path / "compare" / "compare.json").read_text())["decision"] == "challenger_loses"
    gate = run(["scripts/ci-compare.sh", "gate"], env=env)
    assert gate.returncode == 1
    assert "compare-gate: FAILED: challenger_loses: challenger v5 is worse than champion v4 (delta RMSE 0.12 > tolerance 0.0)" in gate.stderr


def test_when_compare_errors_then_run_fails_with_its_code_and_gate_fails_too(tmp_path: Path):
    env = compare_env(tmp_path, fake_rps(tmp_path, 1, "", False, write_report=False))
    ran = run(["scripts/ci-compare.sh", "run"], env=env)
    assert ran.returncode == 1
    assert "rps compare failed with exit code 1: no verdict" in ran.stderr
    gate = run(["scripts/ci-compare.sh", "gate"], env=env)
    assert gate.returncode == 1
    assert "compare-gate: FAILED: rps compare exited 1 (an error, not a verdict)" in gate.stderr


def test_when_compare_never_ran_then_gate_fails(tmp_path: Path):
    env = compare_env(tmp_path, tmp_path / "nope")
    gate = run(["scripts/ci-compare.sh", "gate"], env=env)
    assert gate.returncode == 1
    assert "no verdict" in gate.stderr and "did not run or crashed" in gate.stderr


def test_when_exit_code_and_report_disagree_then_gate_fails(tmp_path: Path):
    env = compare_env(tmp_path, fake_rps(tmp_path, 0, "challenger_loses", False))
    run(["scripts/ci-compare.sh", "run"], env=env)
    gate = run(["scripts/ci-compare.sh", "gate"], env=env)
    assert gate.returncode == 1
    assert "report.json says passed=false" in gate.stderr


def champion_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k not in ("RPS_BACKFILL_DAYS", "RPS_CI_CHAMPION_DIR")}
    env.update(extra)
    return env


@pytest.mark.parametrize("uri", ["https://dagshub.com/me/rps.mlflow", "http://mlflow.internal:5000"])
def test_when_the_registry_is_remote_then_ci_champion_does_nothing(uri: str):
    result = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env(MLFLOW_TRACKING_URI=uri))
    assert result.returncode == 0
    assert result.stdout == ""
    assert "remote registry" in result.stderr and "nothing to train here" in result.stderr


@pytest.mark.parametrize("uri", [None, "http://127.0.0.1:5000", "http://localhost:5000/"])
def test_when_the_registry_is_local_then_ci_champion_trains_and_promotes_in_the_given_tree(tmp_path: Path, uri: str | None):
    base = tmp_path / "base"
    (base / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "install-node-deps.sh", base / "scripts")
    extra = {"RPS_BACKFILL_DAYS": "30", **({"MLFLOW_TRACKING_URI": uri} if uri else {})}
    result = run(["scripts/ci-champion.sh", "--dry-run", str(base)], env=champion_env(**extra))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"+ (cd {ROOT} && {ROOT}/scripts/stack.sh up)",
        f"+ (cd {base} && {base}/scripts/install-node-deps.sh)",
        f"+ (cd {base} && bin/rps fetch --backfill-days 30)",
        f"+ (cd {base} && bin/rps check)",
        f"+ (cd {base} && bin/rps featurize)",
        f"+ (cd {base} && bin/rps train)",
        f"+ (cd {base} && bin/rps promote --force --reason CI\\ reference\\ champion:\\ the\\ base\\ branch\\'s\\ model\\ trained\\ by\\ scripts/ci-champion.sh)",
    ]


def test_when_no_dir_is_given_then_ci_champion_uses_rps_ci_champion_dir_else_this_checkout(tmp_path: Path):
    named = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env(RPS_CI_CHAMPION_DIR=str(tmp_path)))
    assert f"+ (cd {tmp_path} && bin/rps train)" in named.stdout.splitlines()
    default = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env())
    assert f"+ (cd {ROOT} && bin/rps train)" in default.stdout.splitlines()
    # This checkout was built by `make install`: only rebuilt when a source is newer (ci-build.sh).
    assert f"+ (cd {ROOT} && {ROOT}/scripts/ci-build.sh)" in default.stdout.splitlines()


def fake_export(tmp_path: Path, exit_code: int, answer: dict) -> Path:
    """A stand-in for bin/rps export-model: records its argv and the MLflow credentials it got."""
    script = tmp_path / "rps"
    (tmp_path / "answer.json").write_text(json.dumps(answer) + "\n")
    script.write_text("#!/usr/bin/env bash\n"
                      f"printf '%s\\n' \"$@\" > '{tmp_path}/args'\n"
                      f"env | grep '^MLFLOW_' | sort > '{tmp_path}/mlflow-env'\n"
                      f"if [[ {exit_code} == 0 ]]; then mkdir -p \"$5\" && echo '{{}}' > \"$5/model.json\"; fi\n"
                      f"cat '{tmp_path}/answer.json'\nexit {exit_code}\n")
    script.chmod(0o755)
    return script


READ_ONLY = {"RPS_CHAMPION_TRACKING_URI": "https://dagshub.com/me/rps.mlflow", "RPS_CHAMPION_TRACKING_USERNAME": "reader",
             "RPS_CHAMPION_TRACKING_PASSWORD": "read-token"}


def test_when_the_read_only_registry_is_given_then_ci_champion_only_exports_its_champion(tmp_path: Path):
    result = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env(**READ_ONLY, RPS_CI_CHAMPION_MODEL_DIR="build/champion"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"+ (cd {ROOT} && MLFLOW_TRACKING_URI=https://dagshub.com/me/rps.mlflow MLFLOW_TRACKING_USERNAME=*** MLFLOW_TRACKING_PASSWORD=***"
        " bin/rps export-model --alias champion --out build/champion --json)",
    ]


def test_when_ci_champion_exports_then_only_the_export_gets_the_read_only_credentials(tmp_path: Path):
    rps = fake_export(tmp_path, 0, {"version": "4"})
    out = tmp_path / "champion"
    env = champion_env(**READ_ONLY, RPS_BIN=str(rps), RPS_CI_CHAMPION_MODEL_DIR=str(out), MLFLOW_TRACKING_URI="http://127.0.0.1:5000")
    result = run(["scripts/ci-champion.sh"], env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().splitlines() == ["export-model", "--alias", "champion", "--out", str(out), "--json"]
    assert (tmp_path / "mlflow-env").read_text().splitlines() == [
        "MLFLOW_TRACKING_PASSWORD=read-token", "MLFLOW_TRACKING_URI=https://dagshub.com/me/rps.mlflow", "MLFLOW_TRACKING_USERNAME=reader"]
    assert (out / "model.json").exists() and "nothing to train" not in result.stderr and "stack.sh" not in result.stderr


def test_when_production_has_no_champion_then_ci_champion_says_so_and_exports_nothing(tmp_path: Path):
    rps = fake_export(tmp_path, 3, {"error": {"code": "NO_ALIAS", "message": "'rps-temperature' has no @champion"}})
    result = run(["scripts/ci-champion.sh"], env=champion_env(**READ_ONLY, RPS_BIN=str(rps), RPS_CI_CHAMPION_MODEL_DIR=str(tmp_path / "champion")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("::notice title=No champion in production::")
    assert not (tmp_path / "champion").exists()


def test_when_the_read_only_export_fails_otherwise_then_ci_champion_fails_with_its_code(tmp_path: Path):
    rps = fake_export(tmp_path, 4, {"error": {"code": "MLFLOW_UNREACHABLE", "message": "401"}})
    result = run(["scripts/ci-champion.sh"], env=champion_env(**READ_ONLY, RPS_BIN=str(rps), RPS_CI_CHAMPION_MODEL_DIR=str(tmp_path / "champion")))
    assert result.returncode == 4
    assert "MLFLOW_UNREACHABLE" in result.stderr and "FAILED: rps export-model exited 4" in result.stderr


def test_when_the_tree_is_missing_then_ci_champion_exits_2(tmp_path: Path):
    result = run(["scripts/ci-champion.sh", str(tmp_path / "absent")], env=champion_env())
    assert result.returncode == 2
    assert "no such directory" in result.stderr


@pytest.fixture
def model_dir():
    """An exported model directory inside the repository (build/ is git-ignored)."""
    rel = Path("build") / "model" / f"ci-test-model-{os.getpid()}"
    path = ROOT / rel
    path.mkdir(parents=True)
    (path / "model.json").write_text(json.dumps({"name": "rps-temperature", "dataVersion": "0123abcd"}))
    (path / "registry.json").write_text(json.dumps({"name": "rps-temperature", "version": "7", "alias": "champion"}))
    yield rel
    shutil.rmtree(path)


def version() -> str:
    return "v" + json.loads((ROOT / "package.json").read_text())["version"]


def short_sha() -> str:
    return "sha-" + subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()[:7]


def test_when_building_the_serving_image_then_tags_come_from_package_json_and_git_and_the_labels_from_the_model(model_dir: Path):
    result = run(["scripts/docker-image.sh", "--dry-run", "build-serve"], env=dict(os.environ, RPS_MODEL_DIR=str(model_dir), RPS_BASE_IMAGES="official"))
    assert result.returncode == 0, result.stderr
    cmd = result.stdout.strip()
    v = version()
    assert cmd.startswith("+ docker build -f Dockerfile.serve ")
    assert "NODE_IMAGE" not in cmd  # the Dockerfile's official default
    assert f"--build-arg MODEL_DIR={model_dir}" in cmd
    assert "--label model.version=7 " in cmd and "--label model.name=rps-temperature " in cmd
    assert "--label model.data_version=0123abcd " in cmd
    assert f"--label org.opencontainers.image.version={v} " in cmd
    assert cmd.endswith(f"-t app:{v} -t app:{short_sha()} .")


def test_when_the_local_base_is_asked_for_then_the_build_gets_it_as_node_image(model_dir: Path):
    result = run(["scripts/docker-image.sh", "--dry-run", "build-serve"], env=dict(os.environ, RPS_MODEL_DIR=str(model_dir), RPS_BASE_IMAGES="local"))
    assert result.returncode == 0, result.stderr
    node = run(["scripts/base-images.sh", "names"]).stdout.split()[1]
    assert node.startswith("rps-base/node:")
    assert f" --build-arg NODE_IMAGE={node} " in result.stdout
    mirror = run(["scripts/docker-image.sh", "--dry-run", "build-cli"], env=dict(os.environ, RPS_NODE_IMAGE="mirror.example/node:24"))
    assert " --target cli --build-arg NODE_IMAGE=mirror.example/node:24 " in mirror.stdout


def test_when_pushing_then_the_version_and_commit_tags_go_to_the_docker_hub_user_after_the_release_check(model_dir: Path):
    env = dict(os.environ, RPS_MODEL_DIR=str(model_dir), DOCKERHUB_USERNAME="me")
    env.pop("RPS_IMAGE_REGISTRY", None)
    result = run(["scripts/docker-image.sh", "--dry-run", "push-serve"], env=env)
    v, sha = version(), short_sha()
    assert result.stdout.splitlines() == [
        f"+ docker pull me/app:{v}",
        f"+ docker tag app:{v} me/app:{v}", f"+ docker push me/app:{v}",
        f"+ docker tag app:{v} me/app:{sha}", f"+ docker push me/app:{sha}",
    ]


def test_when_a_registry_is_given_then_pushes_go_there(model_dir: Path):
    env = dict(os.environ, RPS_MODEL_DIR=str(model_dir), DOCKERHUB_USERNAME="me", RPS_IMAGE_REGISTRY="127.0.0.1:5999/team/")
    result = run(["scripts/docker-image.sh", "--dry-run", "push-serve"], env=env)
    assert f"+ docker push 127.0.0.1:5999/team/app:{version()}" in result.stdout.splitlines()


def test_when_pushing_without_docker_hub_user_then_it_fails_clearly(model_dir: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKERHUB_USERNAME", "RPS_IMAGE_REGISTRY")}
    result = run(["scripts/docker-image.sh", "--dry-run", "push-serve"], env=dict(env, RPS_MODEL_DIR=str(model_dir)))
    assert result.returncode == 1
    assert "DOCKERHUB_USERNAME is not set" in result.stderr


def test_when_running_then_it_is_the_versioned_image_on_loopback_port_8000():
    result = run(["scripts/docker-image.sh", "--dry-run", "run-serve"])
    assert result.stdout.strip() == f"+ docker run -d --name rps-serve -p 127.0.0.1:8000:8000 app:{version()}"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "is not an exported model (no model.json)"),
        ({"model.json": "{}"}, "cannot tell the model version"),
    ],
)
def test_when_the_model_directory_is_incomplete_then_build_serve_fails(tmp_path: Path, files: dict, message: str):
    rel = Path("build") / "model" / f"ci-test-bad-{os.getpid()}"
    path = ROOT / rel
    path.mkdir(parents=True)
    try:
        for name, text in files.items():
            (path / name).write_text(text)
        result = run(["scripts/docker-image.sh", "--dry-run", "build-serve"], env=dict(os.environ, RPS_MODEL_DIR=str(rel)))
    finally:
        shutil.rmtree(path)
    assert result.returncode == 1
    assert message in result.stderr


@pytest.mark.parametrize("days", ["abc", "-1", "1.5", "365 "])
def test_when_backfill_days_is_not_a_whole_number_then_dag_test_ci_exits_2_before_starting_anything(days: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RPS_", "AIRFLOW"))}
    result = run(["scripts/dag-test-ci.sh"], env=dict(env, RPS_REPLAY_AT="2026-06-01T00:00:00+00:00", RPS_BACKFILL_DAYS=days))
    assert result.returncode == 2
    assert result.stderr.strip() == f"dag-test-ci: RPS_BACKFILL_DAYS must be a whole number of days, got '{days}'"


@pytest.fixture
def build_tree(tmp_path: Path) -> Path:
    """A checkout with a built dist/ and an install-node-deps.sh that only says it ran."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "ci-build.sh", tmp_path / "scripts")
    fake = tmp_path / "scripts" / "install-node-deps.sh"
    fake.write_text("#!/usr/bin/env bash\necho INSTALL-NODE-DEPS\n")
    fake.chmod(0o755)
    for d in ("src", "bin", "schemas", "node_modules"):
        (tmp_path / d).mkdir()
    for f in ("src/a.ts", "bin/run.js", "package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"):
        (tmp_path / f).write_text("x")
    (tmp_path / "dist" / "src").mkdir(parents=True)
    for f in tmp_path.rglob("*"):  # sources an hour older than the build (explicit: mtimes are coarse)
        os.utime(f, (BUILT - 3600, BUILT - 3600))
    os.utime(tmp_path / "dist", (BUILT, BUILT))
    return tmp_path


BUILT = 1_700_000_000


def ci_build(tree: Path):
    return run([str(tree / "scripts" / "ci-build.sh")])


def test_when_dist_is_newer_than_every_source_then_ci_build_does_not_rebuild(build_tree: Path):
    result = ci_build(build_tree)
    assert result.returncode == 0
    assert result.stdout == "" and "not rebuilt" in result.stderr


@pytest.mark.parametrize("touched", ["src/a.ts", "package-lock.json", "tsconfig.build.json"])
def test_when_a_source_is_newer_than_dist_then_ci_build_runs_install_node_deps(build_tree: Path, touched: str):
    os.utime(build_tree / touched, (BUILT + 1, BUILT + 1))
    assert ci_build(build_tree).stdout == "INSTALL-NODE-DEPS\n"


@pytest.mark.parametrize("removed", ["dist", "node_modules"])
def test_when_dist_or_node_modules_is_missing_then_ci_build_runs_install_node_deps(build_tree: Path, removed: str):
    shutil.rmtree(build_tree / removed)
    assert ci_build(build_tree).stdout == "INSTALL-NODE-DEPS\n"


def test_when_the_model_directory_is_outside_build_model_then_build_serve_refuses_it(tmp_path: Path):
    # .dockerignore lets only build/model into the build context: any other directory would fail
    # at the image's COPY, so the script says so before building.
    rel = Path("data") / f"ci-test-model-{os.getpid()}"
    (ROOT / rel).mkdir(parents=True)
    try:
        (ROOT / rel / "model.json").write_text("{}")
        result = run(["scripts/docker-image.sh", "--dry-run", "build-serve"], env=dict(os.environ, RPS_MODEL_DIR=str(rel)))
    finally:
        shutil.rmtree(ROOT / rel)
    assert result.returncode == 1
    assert f"RPS_MODEL_DIR must be build/model or below it: .dockerignore keeps every other path out of the build context (got {rel})" in result.stderr


# ---------------------------------------------------------------------------------------------
# A pull request's candidate (docs/cicd-workflows.md): compare --challenger pr-<n>, the CML comment that may
# be refused, the promotion when merged, and a model trained on the runner said in red.

SHIMS = Path(__file__).resolve().parent / "shims"


def test_when_a_candidate_alias_is_set_then_compare_scores_that_alias(tmp_path: Path):
    env = compare_env(tmp_path, fake_rps(tmp_path, 0, "challenger_wins", True), RPS_CANDIDATE_ALIAS="pr-7")
    assert run(["scripts/ci-compare.sh", "run"], env=env).returncode == 0
    assert (tmp_path / "args").read_text().split() == ["compare", "--json", "--lose-exit-code", "10", "--challenger", "pr-7"]


@pytest.mark.parametrize("exported", [True, False])
def test_when_a_champion_was_exported_then_compare_scores_against_that_directory(tmp_path: Path, exported: bool):
    champion = tmp_path / "champion"
    if exported:
        champion.mkdir()
        (champion / "model.json").write_text("{}")
    env = compare_env(tmp_path, fake_rps(tmp_path, 0, "challenger_wins", True), RPS_CANDIDATE_ALIAS="pr-7", RPS_CI_CHAMPION_MODEL_DIR=str(champion))
    assert run(["scripts/ci-compare.sh", "run"], env=env).returncode == 0
    tail = ["--champion-dir", str(champion)] if exported else []
    assert (tmp_path / "args").read_text().split() == ["compare", "--json", "--lose-exit-code", "10", "--challenger", "pr-7", *tail]


def publish_env(tmp_path: Path, rps: Path, token: str, **extra: str) -> dict[str, str]:
    return compare_env(tmp_path, rps, PATH=f"{SHIMS}:{os.environ['PATH']}", REPO_TOKEN=token, GITHUB_REF="refs/pull/7/merge",
                       FAKE_CML_LOG=str(tmp_path / "cml.jsonl"), GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"), **extra)


def comments(tmp_path: Path) -> list[dict]:
    log = tmp_path / "cml.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_when_published_on_each_push_then_the_pull_request_has_one_comment_updated(tmp_path: Path):
    env = publish_env(tmp_path, fake_rps(tmp_path, 0, "challenger_wins", True), "ghs_write")
    run(["scripts/ci-compare.sh", "run"], env=env)
    first = run(["scripts/ci-compare.sh", "publish"], env=env)
    assert first.returncode == 0, first.stderr
    (tmp_path / "compare" / "report.md").write_text("# report of the second push\n")
    second = run(["scripts/ci-compare.sh", "publish"], env=env)
    assert second.returncode == 0, second.stderr
    recorded = comments(tmp_path)
    assert [(c["action"], c["comment_id"], c["target"]) for c in recorded] == [("created", 1, "pr/7"), ("updated", 1, "pr/7")]
    assert all(c["argv"] == ["comment", "update", "--watermark-title=rps model gate", str(tmp_path / "compare" / "report.md")] for c in recorded)
    assert recorded[-1]["body"] == "# report of the second push\n"
    assert "::warning" not in first.stdout + second.stdout


@pytest.mark.parametrize(("code", "decision", "passed", "gate_code"), [(0, "challenger_wins", True, 0), (10, "challenger_loses", False, 1)])
def test_when_the_comment_is_refused_then_publish_warns_and_the_gate_still_decides(tmp_path: Path, code, decision, passed, gate_code):
    # A fork's pull request: GitHub's token is read-only, the comment is refused (403).
    env = publish_env(tmp_path, fake_rps(tmp_path, code, decision, passed), "ghs_readonly_fork")
    assert run(["scripts/ci-compare.sh", "run"], env=env).returncode == 0
    published = run(["scripts/ci-compare.sh", "publish"], env=env)
    assert published.returncode == 0, published.stderr
    assert published.stdout.startswith("::warning title=Report not posted on the pull request::cml comment update exited 1 (fake cml: HttpError: Resource not accessible by integration (HTTP 403))")
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# report\n")  # the report itself, from the run step
    assert "> [!WARNING]\n> The report above could not be posted as a pull request comment" in summary
    assert comments(tmp_path) == []
    assert run(["scripts/ci-compare.sh", "gate"], env=env).returncode == gate_code


def test_when_there_is_no_report_then_publish_fails(tmp_path: Path):
    result = run(["scripts/ci-compare.sh", "publish"], env=publish_env(tmp_path, tmp_path / "nope", "ghs_write"))
    assert result.returncode == 1
    assert "nothing to publish" in result.stderr


@pytest.mark.parametrize(("shared", "uri", "trains"), [
    ("true", "http://127.0.0.1:5000", False),  # the secret names a registry on loopback (tests, a tunnel): still shared
    ("false", "https://dagshub.com/me/rps.mlflow", True),
])
def test_when_the_workflow_says_whether_the_registry_is_shared_then_ci_champion_follows_it(shared, uri, trains):
    result = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env(MLFLOW_TRACKING_URI=uri, RPS_SHARED_REGISTRY=shared))
    assert result.returncode == 0, result.stderr
    assert ("bin/rps train" in result.stdout) is trains
    bad = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env(RPS_SHARED_REGISTRY="yes"))
    assert bad.returncode == 2 and "expected true or false" in bad.stderr


@pytest.mark.parametrize("shared", ["false", "true"])
def test_when_deliver_would_ship_a_model_trained_on_the_runner_then_it_says_so_in_red(tmp_path: Path, shared: str):
    summary = tmp_path / "summary.md"
    result = run(["scripts/ci-champion.sh", "--dry-run"], env=champion_env(RPS_SHARED_REGISTRY=shared, RPS_CI_SHIPS_MODEL="true", GITHUB_STEP_SUMMARY=str(summary)))
    assert result.returncode == 0, result.stderr
    if shared == "true":  # the registry's @champion is shipped: nothing to say
        assert "::error" not in result.stdout and not summary.exists()
        return
    assert result.stdout.startswith("::error title=Shipping a model trained on this runner::No shared registry")
    text = summary.read_text()
    assert text.startswith("## 🔴 Shipping a model trained on the runner\n") and "> [!CAUTION]" in text


@pytest.mark.parametrize(("alias", "message"), [(None, "set RPS_CANDIDATE_ALIAS"), ("challenger", "not challenger, champion or previous-champion"),
                                                ("champion", "not challenger"), ("pr 7", "RPS_CANDIDATE_ALIAS='pr 7'")])
def test_when_the_candidate_alias_is_missing_or_production_then_dag_test_ci_exits_2_before_starting_anything(alias, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RPS_", "AIRFLOW"))}
    env |= {"RPS_REPLAY_AT": "2026-06-01T00:00:00+00:00"} | ({"RPS_CANDIDATE_ALIAS": alias} if alias else {})
    result = run(["scripts/dag-test-ci.sh"], env=env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.fixture
def dag_tree(tmp_path: Path) -> Path:
    """dag-test-ci.sh in a checkout whose installers, stack settings and `airflow` only say what they got."""
    scripts = tmp_path / "scripts"
    (scripts / "lib").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "dag-test-ci.sh", scripts)
    stubs = {
        "install-airflow.sh": "#!/usr/bin/env bash\n",
        "dvc-remote.sh": "#!/usr/bin/env bash\necho \"DVC-REMOTE ${RPS_DVC_S3_ENDPOINT:-runner}\"\n",
        "lib/common.sh": "RPS_MLFLOW_PORT=5000\n",
        "airflow-env.sh": f"RPS_AIRFLOW_VENV={tmp_path}/venv\n",
    }
    for name, text in {**stubs, "../venv/bin/airflow": "#!/usr/bin/env bash\necho \"AIRFLOW $*\"\n"}.items():
        (scripts / name).parent.mkdir(parents=True, exist_ok=True)
        (scripts / name).write_text(text)
        (scripts / name).chmod(0o755)
    return tmp_path


@pytest.mark.parametrize(("extra", "warned"), [
    ({"RPS_SHARED_REGISTRY": "true"}, True),
    ({"RPS_SHARED_REGISTRY": "true", "RPS_DVC_S3_ENDPOINT": "https://dvc.example"}, False),
    ({}, False),
])
def test_when_the_candidate_goes_to_the_shared_registry_without_a_shared_dvc_remote_then_dag_test_ci_warns(dag_tree: Path, extra, warned):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RPS_", "AIRFLOW", "MLFLOW"))}
    env |= {"RPS_REPLAY_AT": "2026-06-01T00:00:00+00:00", "RPS_CANDIDATE_ALIAS": "pr-7"} | extra
    result = run([str(dag_tree / "scripts" / "dag-test-ci.sh")], env=env)
    assert result.returncode == 0, result.stderr
    assert ("::warning title=Data version not shared::" in result.stdout) is warned, result.stdout
    # The run itself goes on either way, with the candidate's alias.
    assert 'AIRFLOW dags test rps_pipeline 2026-06-01T00:00:00+00:00 --conf {"backfill_days": 0, "retrain": "always", "triggered_by": "ci", "candidate_alias": "pr-7"}' in result.stdout


def fake_promote(tmp_path: Path, exit_code: int, answer: dict) -> Path:
    script = tmp_path / "rps"
    (tmp_path / "answer.json").write_text(json.dumps(answer) + "\n")
    script.write_text(f"#!/usr/bin/env bash\nprintf '%s\\n' \"$@\" > '{tmp_path}/args'\ncat '{tmp_path}/answer.json'\nexit {exit_code}\n")
    script.chmod(0o755)
    return script


def promote_env(tmp_path: Path, rps: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RPS_", "GITHUB_"))}
    return env | {"RPS_BIN": str(rps), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "RPS_CANDIDATE_ALIAS": "pr-7", "RPS_PR_NUMBER": "7"} | extra


def test_when_a_merged_candidate_passes_the_gate_then_ci_promote_promotes_it_by_alias(tmp_path: Path):
    rps = fake_promote(tmp_path, 0, {"action": "promoted", "champion": "2", "previousChampion": "1"})
    result = run(["scripts/ci-promote.sh"], env=promote_env(tmp_path, rps, RPS_SHARED_REGISTRY="true"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "args").read_text().splitlines() == ["promote", "--from-alias", "pr-7", "--reason", "pull request #7 merged into test", "--json"]
    assert "ci-promote: promoted: @champion = v2 (previous v1) from @pr-7" in result.stderr
    assert "## Candidate `@pr-7` promoted" in (tmp_path / "summary.md").read_text()


def test_when_the_merge_job_promotes_its_own_candidate_then_the_reason_names_the_merged_commit(tmp_path: Path):
    rps = fake_promote(tmp_path, 0, {"action": "promoted", "champion": "5", "previousChampion": "4"})
    env = promote_env(tmp_path, rps, RPS_SHARED_REGISTRY="true", RPS_CANDIDATE_ALIAS="merge-123")
    del env["RPS_PR_NUMBER"]
    result = run(["scripts/ci-promote.sh"], env=env)
    assert result.returncode == 0, result.stderr
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert (tmp_path / "args").read_text().splitlines() == ["promote", "--from-alias", "merge-123", "--reason", f"merged into test (commit {sha})", "--json"]


def test_when_the_gate_refuses_a_merged_candidate_then_ci_promote_fails_red_with_the_reason(tmp_path: Path):
    rps = fake_promote(tmp_path, 10, {"error": {"code": "PROMOTION_REFUSED", "message": "refusing to promote 'm' v3: rps compare decided challenger_loses"}})
    result = run(["scripts/ci-promote.sh"], env=promote_env(tmp_path, rps, RPS_SHARED_REGISTRY="true"))
    assert result.returncode == 10
    assert result.stdout.startswith("::error title=Candidate @pr-7 not promoted::rps promote exited 10: refusing to promote 'm' v3: rps compare decided challenger_loses")
    assert "## 🔴 Candidate `@pr-7` not promoted" in (tmp_path / "summary.md").read_text()


def test_when_there_is_no_shared_registry_then_ci_promote_warns_and_promotes_nothing(tmp_path: Path):
    rps = fake_promote(tmp_path, 0, {})
    result = run(["scripts/ci-promote.sh"], env=promote_env(tmp_path, rps, RPS_SHARED_REGISTRY="false"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("::warning title=No shared registry: nothing promoted::")
    assert not (tmp_path / "args").exists()


@pytest.mark.parametrize(("extra", "message"), [({"RPS_CANDIDATE_ALIAS": "challenger"}, "expected merge-<run id> or pr-<number>"), ({"RPS_SHARED_REGISTRY": ""}, "expected true or false")])
def test_when_ci_promote_is_misconfigured_then_it_exits_2(tmp_path: Path, extra, message):
    rps = fake_promote(tmp_path, 0, {})
    result = run(["scripts/ci-promote.sh"], env=promote_env(tmp_path, rps, **({"RPS_SHARED_REGISTRY": "true"} | extra)))
    assert result.returncode == 2
    assert message in result.stderr


# ---------------------------------------------------------------------------------------------
# scripts/stop-group-when-gone.sh: make test's background jobs do not outlive a SIGKILL of it.


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.parametrize("group_seconds", [300, 1])
def test_when_the_caller_is_killed_then_its_background_group_is_stopped_and_otherwise_the_watcher_ends_with_the_group(tmp_path: Path, group_seconds: int):
    # What scripts/test.sh does: a background group (setsid) and the watcher in a session of its own.
    # The caller waits for the group (as test.sh does), which reaps it: a zombie would keep it alive.
    script = (f'setsid sleep {group_seconds} & group=$!; echo $group > "$1/pgid"; '
              f'setsid {ROOT}/scripts/stop-group-when-gone.sh $$ $group >/dev/null 2>&1 & echo $! > "$1/watcher"; wait $group; sleep 60')
    caller = subprocess.Popen(["bash", "-c", script, "caller", str(tmp_path)])
    assert wait_until(lambda: (tmp_path / "watcher").exists() and (tmp_path / "watcher").read_text().strip())
    pgid, watcher = int((tmp_path / "pgid").read_text()), int((tmp_path / "watcher").read_text())
    try:
        if group_seconds == 1:  # the group ends first: the watcher exits by itself, the caller lives on
            assert wait_until(lambda: not group_alive(pgid)) and wait_until(lambda: not Path(f"/proc/{watcher}").exists() or
                                                                             "Z" in Path(f"/proc/{watcher}/stat").read_text().split()[2])
            assert caller.poll() is None
        else:
            assert group_alive(pgid)
            caller.kill()  # SIGKILL: no trap of the caller runs
            caller.wait()
            assert wait_until(lambda: not group_alive(pgid)), "the background group outlived its caller"
    finally:
        caller.kill()
        caller.wait()
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
