"""The machine the workflow-job tests run on (ci/tests/test_workflow_jobs.py, test_remote_mode.py):
an origin repository with the branches, scratch checkouts of this working tree, the local overrides
of ci/tests/gha.py (free ports, one state dir: one stack started by the job steps themselves), the
action handlers, a local OCI registry standing in for Docker Hub."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest
import yaml
from conftest import ROOT, copy_worktree, free_port
from gha import Job, Local, clean_environ, not_applicable

SHIMS = Path(__file__).resolve().parent / "shims"
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
MODEL_NAME = PARAMS["model"]["registered_name"]
BASE, WIN, LOSE, MASTER = "test", "feature/bigger-forest", "feature/stump", "master"
# The base branch's model and the losing PR's model; the winning PR keeps params.yaml's forest.
BASE_FOREST = {"n_estimators": 3, "max_depth": 4}
STUMP = {"n_estimators": 1, "max_depth": 1}
DAG_ORDER = ["fetch", "check", "featurize", "profile", "push", "train", "compare", "promote"]
PNG = b"\x89PNG\r\n\x1a\n"

BASE_IMAGES = os.environ.get("RPS_BASE_IMAGES", "local")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def with_forest(params_text: str, n_estimators: int, max_depth: int) -> str:
    text = re.sub(r"(?m)^(  n_estimators:)\s*\d+", rf"\g<1> {n_estimators}", params_text)
    text = re.sub(r"(?m)^(  max_depth:)\s*\d+", rf"\g<1> {max_depth}", text)
    model = yaml.safe_load(text)["model"]
    assert (model["n_estimators"], model["max_depth"]) == (n_estimators, max_depth), "params.yaml layout changed"
    return text


def link_toolchain(checkout: Path, tools: bool) -> None:
    """What `make install` and the installers would download, linked from this checkout: the venvs
    and tools (MinIO, Node) and node_modules with its npm-ci stamp (no network here for npm ci)."""
    rps = checkout / ".rps"
    rps.mkdir(exist_ok=True)
    if tools:
        for name in ("tools", "venv", "venv-airflow"):
            (rps / name).symlink_to((ROOT / ".rps" / name).resolve())
    (checkout / "node_modules").symlink_to((ROOT / "node_modules").resolve())
    shutil.copy(ROOT / ".rps" / "npm-ci.stamp", rps / "npm-ci.stamp")


class Registry:
    def __init__(self, uri: str):
        self.uri = uri

    def get(self, path: str, **params) -> dict:
        with urlopen(f"{self.uri}/api/2.0/mlflow/{path}?{urlencode(params)}", timeout=30) as r:
            return json.loads(r.read())

    def aliases(self) -> dict[str, str]:
        model = self.get("registered-models/get", name=MODEL_NAME)["registered_model"]
        return {a["alias"]: a["version"] for a in model.get("aliases", [])}

    def version_tags(self, version: str) -> dict[str, str]:
        model_version = self.get("model-versions/get", name=MODEL_NAME, version=version)["model_version"]
        return {t["key"]: t["value"] for t in model_version.get("tags", [])}

    def run_of(self, version: str) -> dict:
        run_id = self.get("model-versions/get", name=MODEL_NAME, version=version)["model_version"]["run_id"]
        run = self.get("runs/get", run_id=run_id)["run"]
        return {
            "tags": {t["key"]: t["value"] for t in run["data"].get("tags", [])},
            "params": {p["key"]: p["value"] for p in run["data"].get("params", [])},
        }


def last_dag_run(state: Path) -> tuple[dict, dict[str, str], str]:
    """conf, task states and state of the newest rps_pipeline run in the job's Airflow DB."""
    with sqlite3.connect(state / "airflow" / "airflow.db") as db:
        run_id, conf, run_state = db.execute(
            "select run_id, conf, state from dag_run where dag_id = 'rps_pipeline' order by id desc limit 1"
        ).fetchone()
        tasks = dict(db.execute("select task_id, state from task_instance where dag_id = 'rps_pipeline' and run_id = ?", (run_id,)))
    return json.loads(conf) if isinstance(conf, str) else conf, tasks, run_state


def failed_steps(results) -> str:
    return "\n\n".join(f"--- step {r.index} {r.label}: {r.outcome} ({r.returncode})\n{r.tail()}" for r in results if r.outcome == "failure")


# ---------------------------------------------------------------------------------------------
# The machine: an origin repository with the branches, the checkouts, the local overrides.


class Lab:
    def __init__(self, root: Path):
        self.root = root
        self.origin = root / "origin"
        self.state = root / "state"  # one RPS_STATE_DIR for every checkout: one stack
        self.cml_log = root / "cml.jsonl"
        self.ports = {name: free_port() for name in ("minio", "console", "mlflow", "airflow", "serve", "registry")}
        # Fixed image names (a rerun replaces them, layers stay cached); a container per run.
        # RPS_CI_TEST_IMAGE_PREFIX keeps two clones sharing one Docker engine apart.
        self.prefix = os.environ.get("RPS_CI_TEST_IMAGE_PREFIX", "rps-ci-test")
        self.image, self.cli_image = f"{self.prefix}/app", f"{self.prefix}/rps"
        self.container = f"rps-ci-serve-{os.getpid()}"
        self.registry_host = f"127.0.0.1:{self.ports['registry']}"
        self.remote = f"{self.registry_host}/rps-ci/{self.image}"  # where make image-push puts it
        self.registry_proc: subprocess.Popen | None = None
        self.uri = f"http://127.0.0.1:{self.ports['mlflow']}"
        self.registry = Registry(self.uri)
        self.shas: dict[str, str] = {}
        self.jobs: list[Job] = []

    def make_origin(self) -> None:
        self.origin.mkdir()
        copy_worktree(self.origin)
        git(self.origin, "init", "-q", "-b", BASE)
        git(self.origin, "config", "user.name", "rps ci test")
        git(self.origin, "config", "user.email", "rps-ci-test@localhost")
        params = self.origin / "params.yaml"
        original = params.read_text()
        params.write_text(with_forest(original, **BASE_FOREST))
        git(self.origin, "add", "-A")
        git(self.origin, "commit", "-qm", "base branch: a small forest")
        self.shas[BASE] = git(self.origin, "rev-parse", "HEAD")
        for branch, text in ((WIN, original), (LOSE, with_forest(original, **STUMP))):
            git(self.origin, "checkout", "-q", "-b", branch, BASE)
            params.write_text(text)
            git(self.origin, "commit", "-qam", f"{branch}: model params")
            self.shas[branch] = git(self.origin, "rev-parse", "HEAD")
        git(self.origin, "checkout", "-q", "-b", MASTER, WIN)
        self.shas[MASTER] = self.shas[WIN]
        git(self.origin, "checkout", "-q", BASE)

    def checkout(self, name: str, branch: str) -> Path:
        path = self.root / name
        git(self.root, "clone", "-q", "--branch", branch, str(self.origin), str(path))
        link_toolchain(path, tools=True)
        return path

    def local(self, shared_registry: bool = False, **rewrite: str) -> Local:
        """With shared_registry the job's MLFLOW_TRACKING_URI is its secret's, as on GitHub (a
        registry of its own, on its own free port); otherwise the workflow's 127.0.0.1:5000
        becomes the lab MLflow's free port."""
        local = Local(
            env={
                "RPS_ENV_FILE": "/dev/null",
                "RPS_STATE_DIR": str(self.state),
                "RPS_MINIO_PORT": str(self.ports["minio"]),
                "RPS_MINIO_CONSOLE_PORT": str(self.ports["console"]),
                "RPS_MLFLOW_PORT": str(self.ports["mlflow"]),
                "RPS_AIRFLOW_PORT": str(self.ports["airflow"]),
                "MLFLOW_TRACKING_URI": self.uri,
                # local: the offline base images (Docker Hub is unreachable here; building them needs
                # root). The workflow-jobs job on a GitHub runner sets official (Docker Hub answers there).
                "RPS_BASE_IMAGES": BASE_IMAGES,
                "RPS_IMAGE_NAME": self.image,
                "RPS_CLI_IMAGE_NAME": self.cli_image,
                "RPS_SERVE_CONTAINER": self.container,
                "RPS_SERVE_PORT": str(self.ports["serve"]),
                "RPS_IMAGE_REGISTRY": f"{self.registry_host}/rps-ci",
                "FAKE_CML_LOG": str(self.cml_log),
            },
            rewrite=dict(rewrite),
        )
        if shared_registry:
            del local.env["MLFLOW_TRACKING_URI"]
        return local

    def actions(self, workspace: Path) -> dict:
        def checkout(step, with_, job):
            if "path" not in with_:
                return f"workspace {workspace.name}: clone of {git(workspace, 'rev-parse', '--abbrev-ref', 'HEAD')}"
            target = workspace / with_["path"]
            git(self.root, "clone", "-q", "--branch", with_["ref"], str(self.origin), str(target))
            link_toolchain(target, tools=False)
            return f"cloned {with_['ref']} into {with_['path']} (node_modules linked)"

        def setup_cml(step, with_, job):
            found = shutil.which("cml", path=job.env["PATH"])
            assert found == str(SHIMS / "cml"), found
            return "the fake cml (ci/tests/shims/cml) is first on PATH"

        def upload_artifact(step, with_, job):
            files = sorted(p for p in (workspace / with_["path"]).rglob("*") if p.is_file()) if (workspace / with_["path"]).exists() else []
            if not files and with_.get("if-no-files-found", "warn") == "error":
                raise FileNotFoundError(with_["path"])
            job.artifacts = [str(p.relative_to(workspace)) for p in files]
            return f"would upload {len(files)} file(s) as {with_['name']}"

        def docker_login(step, with_, job):
            if not with_.get("username") or not with_.get("password"):
                raise ValueError("Username and password required")  # what docker/login-action says
            return f"not run: the local OCI registry needs no login (username {with_['username']})"

        toolchain = "this machine's own toolchain (.rps/tools Node 24, python3, the MinIO binary)"
        return {
            "actions/checkout": checkout,
            "actions/setup-node": not_applicable(toolchain),
            "actions/setup-python": not_applicable(toolchain),
            "actions/setup-go": not_applicable(toolchain),
            "actions/cache": not_applicable(toolchain),
            "iterative/setup-cml": setup_cml,
            "actions/upload-artifact": upload_artifact,
            "docker/login-action": docker_login,
        }

    def job(self, workflow: str, job_id: str, workspace: Path, github: dict, secrets: dict, *, vars: dict | None = None,  # noqa: A002 - GitHub's name
            shared_registry: bool = False, **rewrite: str) -> Job:
        base_env = clean_environ()
        base_env["PATH"] = f"{SHIMS}:{base_env['PATH']}"
        job = Job(
            workflow, job_id, workspace=workspace, github=github, secrets=secrets, base_env=base_env,
            vars=vars or {},
            actions=self.actions(workspace), local=self.local(shared_registry, **rewrite), log_dir=self.root / "logs" / f"{len(self.jobs)}-{job_id}",
        )
        self.jobs.append(job)
        return job

    def start_registry(self) -> None:
        binary = ROOT / ".rps" / "tools" / "bin" / "registry"
        log = open(self.root / "registry.log", "wb")  # noqa: SIM115 - the registry's output for its whole life
        self.registry_proc = subprocess.Popen([str(binary), "-port", str(self.ports["registry"])], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urlopen(f"http://{self.registry_host}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline and self.registry_proc.poll() is None, (self.root / "registry.log").read_text()
            time.sleep(0.2)

    def cml_comments(self) -> list[dict]:
        return [json.loads(line) for line in self.cml_log.read_text().splitlines()] if self.cml_log.exists() else []

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True, check=False, timeout=60)
        if self.registry_proc is not None:
            self.registry_proc.terminate()
            self.registry_proc.wait(timeout=30)
        if self.state.exists():  # the services of every checkout: their pid files are in this state dir
            env = clean_environ() | self.local().env
            subprocess.run([str(ROOT / "scripts" / "stack.sh"), "down"], env=env, capture_output=True, check=False, timeout=120)


@contextmanager
def open_lab(root: Path) -> Iterator[Lab]:
    """A Lab in `root` (origin made, OCI registry started), stopped on exit, also on failure."""
    stamp = (ROOT / ".rps" / "npm-ci.stamp").read_text().split() if (ROOT / ".rps" / "npm-ci.stamp").exists() else []
    lock = hashlib.sha256((ROOT / "package-lock.json").read_bytes()).hexdigest()
    if len(stamp) != 2 or stamp[1] != lock or not (ROOT / "node_modules").is_dir():
        pytest.fail("node_modules is not installed for this package-lock.json: run make install first")
    for tool in (".rps/venv/bin/mlflow", ".rps/venv-airflow/bin/airflow", ".rps/tools/bin/minio", ".rps/tools/bin/registry"):
        if not (ROOT / tool).exists():
            pytest.fail(f"{tool} missing: run make test (it installs the stack) first")
    engine = subprocess.run([str(ROOT / "scripts" / "docker-engine.sh"), "ensure"], capture_output=True, text=True, check=False, timeout=900)
    if engine.returncode != 0:
        pytest.fail(f"no Docker engine for the delivery jobs: {engine.stderr.strip()}")
    lab = Lab(root)
    lab.make_origin()
    lab.start_registry()
    try:
        yield lab
    finally:
        lab.stop()


def pr_github(number: int, action: str = "synchronize", **extra) -> dict:
    """The `github` context of a pull_request event (flat keys, as gha.py reads them)."""
    return {"event_name": "pull_request", "base_ref": BASE, "ref": f"refs/pull/{number}/merge", "event.action": action,
            "event.pull_request.number": str(number), **extra}


def docker(*args: str, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout, input=input)


def image_config(ref: str) -> dict:
    result = docker("image", "inspect", "--format", "{{json .Config}}", ref)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
