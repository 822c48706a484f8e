"""A small local runner for one job of .github/workflows, so that the end-to-end tests execute the
job's own steps, in the YAML's order, with the YAML's env, instead of a copy of them.

What it does like GitHub Actions: workflow, job and step `env` (with `${{ }}` expressions over
`secrets`, `vars` and `github`), `run` steps in `bash --noprofile --norc -eo pipefail` from the workspace,
step `if` conditions (`success()` by default, `always()`, `failure()`, `hashFiles()`, a SHA-256 as
on GitHub, so a cache key is stable across runs), `steps.<id>.outputs.<name>` (set by a handler),
an action's post step (a handler appends to `Job.post`; run after the last step, in reverse order,
results in `Job.post_results`), the job's `if`, GITHUB_STEP_SUMMARY / GITHUB_WORKSPACE / CI.
What it does not: `uses` steps run the handler
the test registers for that action (checkout, setup-*, cache, CML, artifacts, docker login have
no local twin); an action without a handler, or an expression it cannot evaluate, is an error,
so that a new workflow step cannot be silently left out of the tests.

Local differences from a GitHub runner are explicit: `Local.env` (free ports, state dir) is laid
over the evaluated env (the workflow's, the job's and each step's), and `Local.rewrite` replaces
text in a `run` line (e.g. a fixed port); a rewrite that matches nothing is an error.

Two places for the steps: on this machine (the default: `run` steps are host processes in a host
workspace), or, with `container=`, in a running container that stands for a fresh runner (see
ci/tests/test_runner_jobs.py): every `run` step is a `docker exec` of the same bash command in the
workspace path inside the container, with the job's env passed as `-e` (the container's own env,
e.g. its PATH, is the base env the test gives); GITHUB_WORKSPACE, RUNNER_TEMP and
GITHUB_STEP_SUMMARY are paths inside the container, hashFiles() hashes the container's files.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load_workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:  # YAML 1.1 reads the key `on` as True
        data["on"] = data.pop(True)
    return data


class ExpressionError(ValueError):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\)|,)|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*))"
)
_FUNCTIONS = {"always", "success", "failure", "cancelled", "hashFiles"}
_CONTEXTS = {"secrets", "vars", "github", "env", "runner", "steps"}


def evaluate(expression: str, contexts: dict[str, dict], functions: dict[str, Callable]):
    """Evaluates the subset of GitHub's expression language the workflows use: string and number
    literals, context properties (missing ones are ''), ==, !=, !, &&, || (value-returning, as
    in GitHub) and the functions always(), success(), failure(), cancelled(), hashFiles()."""
    out, pos = [], 0
    text = expression.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse {expression!r} at {text[pos:]!r}")
        pos = m.end()
        if m["str"] is not None:
            out.append(repr(m["str"][1:-1].replace("''", "'")))
        elif m["num"] is not None:
            out.append(m["num"])
        elif m["op"] is not None:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(m["op"], m["op"]))
        else:
            name = m["name"]
            head, _, rest = name.partition(".")
            if head in _FUNCTIONS and not rest:
                out.append(f"_fn_{head}")
            elif head in _CONTEXTS and rest:
                out.append(f"_ctx({head!r}, {rest!r})")
            elif name in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "''"}[name])
            else:
                raise ExpressionError(f"unsupported name {name!r} in {expression!r}")
    namespace = {f"_fn_{k}": v for k, v in functions.items()}
    namespace["_ctx"] = lambda ctx, key: contexts.get(ctx, {}).get(key, "") or ""
    try:
        return eval("".join(out), {"__builtins__": {}}, namespace)  # noqa: S307 - tokens checked above
    except SyntaxError as e:
        raise ExpressionError(f"cannot evaluate {expression!r}: {e}") from None


def interpolate(value, contexts: dict[str, dict], functions: dict[str, Callable]) -> str:
    """A string with its ${{ }} expressions replaced by their values (as GitHub does)."""
    if not isinstance(value, str):
        return "true" if value is True else "false" if value is False else str(value)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(evaluate(m[1], contexts, functions)), value)


@dataclass
class Local:
    """What differs on this machine from a GitHub runner, stated once."""

    env: dict[str, str] = field(default_factory=dict)
    rewrite: dict[str, str] = field(default_factory=dict)


@dataclass
class StepResult:
    index: int
    label: str
    run: str | None
    uses: str | None
    outcome: str  # success | failure | skipped
    returncode: int | None = None
    output: str = ""
    seconds: float = 0.0
    note: str = ""

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


# An action handler gets the step, its evaluated `with`, and the job; it raises to fail the step
# and may return a note (what it checked or why nothing local corresponds to the action).
ActionHandler = Callable[[dict, dict, "Job"], str | None]


def not_applicable(reason: str) -> ActionHandler:
    return lambda step, with_, job: f"not run here: {reason}"


class Job:
    def __init__(
        self,
        workflow: str,
        job_id: str,
        *,
        workspace: Path,
        github: dict[str, str],
        secrets: dict[str, str],
        base_env: dict[str, str],
        vars: dict[str, str] | None = None,  # noqa: A002 - GitHub's context name
        actions: dict[str, ActionHandler],
        local: Local,
        log_dir: Path,
        definition: dict | None = None,
        container: str | None = None,
    ):
        self.workflow_name = workflow
        self.workflow = definition if definition is not None else load_workflow(workflow)
        self.job_id = job_id
        self.job = self.workflow["jobs"][job_id]
        self.workspace = workspace
        self.github = dict(github)
        self.secrets = dict(secrets)
        self.vars = dict(vars or {})
        self.actions = actions
        self.local = local
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.container = container
        # Inside the container: the runner's temp directory (the image creates it), as on GitHub.
        self.runner_temp = Path("/home/runner/work/_temp") if container else log_dir
        self.summary = self.runner_temp / "step-summary.md"
        self.failed = False
        self.step_outputs: dict[str, str] = {}
        self.results: list[StepResult] = []
        # Post steps an action registered (e.g. actions/cache's save), run after the last step in
        # reverse order, as GitHub runs an action's `post`; their results are kept apart.
        self.post: list[tuple[str, Callable[[Job], str | None]]] = []
        self.post_results: list[StepResult] = []
        self._used_rewrites: set[str] = set()
        self.env = self._job_env(base_env)

    # -- expressions
    def contexts(self, env: dict[str, str] | None = None) -> dict[str, dict]:
        return {"secrets": self.secrets, "vars": self.vars, "github": self.github, "env": env or {}, "runner": {"os": "Linux", "arch": "X64"},
                "steps": self.step_outputs}

    def set_output(self, step: dict, name: str, value: str) -> None:
        """An action's output, read as steps.<id>.outputs.<name> (only for a step with an id)."""
        if "id" in step:
            self.step_outputs[f"{step['id']}.outputs.{name}"] = value

    def functions(self) -> dict[str, Callable]:
        def hash_files(*patterns: str) -> str:
            if self.container:
                script = 'cd "$1" && shift && shopt -s globstar nullglob && for p in "$@"; do for f in $p; do if [[ -f $f ]]; then sha256sum "$f"; fi; done; done'
                listing = subprocess.run(
                    ["docker", "exec", self.container, "bash", "-c", script, "hash", str(self.workspace), *patterns],
                    capture_output=True, text=True, check=True, timeout=60,
                ).stdout
                return hashlib.sha256(listing.encode()).hexdigest() if listing else ""
            hits = sorted(p for pat in patterns for p in self.workspace.glob(pat) if p.is_file())
            return hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in hits)).hexdigest() if hits else ""

        return {
            "always": lambda: True,
            "success": lambda: not self.failed,
            "failure": lambda: self.failed,
            "cancelled": lambda: False,
            "hashFiles": hash_files,
        }

    def expr(self, text: str, env: dict[str, str] | None = None):
        return evaluate(text, self.contexts(env), self.functions())

    def interpolate(self, value, env: dict[str, str] | None = None) -> str:
        return interpolate(value, self.contexts(env), self.functions())

    def _job_env(self, base_env: dict[str, str]) -> dict[str, str]:
        env = dict(base_env)
        for scope in (self.workflow.get("env") or {}, self.job.get("env") or {}):
            for key, value in scope.items():
                env[key] = self.interpolate(value, env)
        self.evaluated_env = dict(env)  # before the local overrides, for assertions
        env.update(self.local.env)
        env.update(
            CI="true",
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_EVENT_NAME=self.github.get("event_name", ""),
            GITHUB_BASE_REF=self.github.get("base_ref", ""),
            GITHUB_REF=self.github.get("ref", ""),
            GITHUB_STEP_SUMMARY=str(self.summary),
            RUNNER_TEMP=str(self.runner_temp),
        )
        return env

    def runs_for_event(self) -> bool:
        condition = self.job.get("if")
        return True if condition is None else bool(self.expr(condition.removeprefix("${{").removesuffix("}}")))

    # -- steps
    def steps(self) -> list[dict]:
        return self.job["steps"]

    def index_of_run(self, command: str) -> int:
        hits = [i for i, s in enumerate(self.steps()) if (s.get("run") or "").strip() == command]
        if len(hits) != 1:
            raise AssertionError(f"{self.workflow_name} {self.job_id}: expected one step `{command}`, found {len(hits)}")
        return hits[0]

    def _should_run(self, step: dict) -> bool:
        condition = step.get("if")
        if condition is None:
            return not self.failed
        text = str(condition).strip().removeprefix("${{").removesuffix("}}")
        has_status = re.search(r"\b(always|success|failure|cancelled)\s*\(", text)
        value = bool(self.expr(text))
        return value if has_status else (value and not self.failed)

    def run(self, start: int = 0, stop: int | None = None, timeout: float | None = None) -> list[StepResult]:
        """Runs steps[start:stop] (all by default) and returns their results."""
        if not self.runs_for_event():
            raise AssertionError(f"{self.workflow_name} {self.job_id} does not run for event {self.github.get('event_name')!r}")
        budget = timeout or 60 * float(self.job.get("timeout-minutes", 60))
        deadline = time.monotonic() + budget
        steps = self.steps()
        out = []
        for i in range(start, len(steps) if stop is None else stop):
            result = self._run_step(i, steps[i], deadline)
            self.results.append(result)
            out.append(result)
            print(f"[{self.workflow_name} {self.job_id}] step {i} {result.label}: {result.outcome} ({result.seconds:.1f} s){' - ' + result.note if result.note else ''}")
        if stop is None:
            self._run_post()
        return out

    def _run_post(self) -> None:
        while self.post:
            label, hook = self.post.pop()
            result = StepResult(-1, f"Post {label}", None, None, "success")
            started = time.monotonic()
            try:
                result.note = hook(self) or ""
            except Exception as e:  # noqa: BLE001 - a failing post step fails the job, as on GitHub
                result.outcome, result.output = "failure", f"{type(e).__name__}: {e}"
                self.failed = True
            result.seconds = time.monotonic() - started
            self.post_results.append(result)
            print(f"[{self.workflow_name} {self.job_id}] {result.label}: {result.outcome} ({result.seconds:.1f} s){' - ' + result.note if result.note else ''}")

    def unused_rewrites(self) -> set[str]:
        return set(self.local.rewrite) - self._used_rewrites

    def _run_step(self, i: int, step: dict, deadline: float) -> StepResult:
        label = step.get("name") or step.get("run") or step.get("uses")
        result = StepResult(i, label, step.get("run"), step.get("uses"), "skipped")
        if not self._should_run(step):
            return result
        env = dict(self.env)
        for key, value in (step.get("env") or {}).items():
            env[key] = self.interpolate(value, env)
        env.update(self.local.env)  # over the step's env too: what differs here differs in every step
        started = time.monotonic()
        if "uses" in step:
            action = step["uses"].split("@")[0]
            handler = self.actions.get(action)
            if handler is None:
                raise AssertionError(f"step {i} uses {action}, which has no local handler: add one to the test")
            with_ = {k: self.interpolate(v, env) for k, v in (step.get("with") or {}).items()}
            try:
                result.note = handler(step, with_, self) or ""
                result.outcome = "success"
            except Exception as e:  # noqa: BLE001 - a failing action fails the step, as on GitHub
                result.outcome, result.output = "failure", f"{type(e).__name__}: {e}"
        else:
            command = self.interpolate(step["run"], env)
            for old, new in self.local.rewrite.items():
                if old in command:
                    command = command.replace(old, new)
                    self._used_rewrites.add(old)
            remaining = max(1.0, deadline - time.monotonic())
            log = self.log_dir / f"{self.job_id}-{len(self.results):02d}-step{i}.log"
            with log.open("w") as f:
                bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command]
                if self.container:
                    # The step's env only: nothing of this process leaks into the container.
                    env_args = [a for k, v in sorted(env.items()) for a in ("-e", f"{k}={v}")]
                    args, cwd, proc_env = ["docker", "exec", "-w", str(self.workspace), *env_args, self.container, *bash], None, None
                else:
                    args, cwd, proc_env = bash, self.workspace, env
                try:
                    proc = subprocess.run(args, cwd=cwd, env=proc_env, stdout=f, stderr=subprocess.STDOUT, timeout=remaining, check=False)
                    result.returncode = proc.returncode
                except subprocess.TimeoutExpired:
                    result.returncode = -1
                    result.note = f"timed out (job timeout-minutes {self.job.get('timeout-minutes')})"
            result.output = log.read_text(errors="replace")
            result.outcome = "success" if result.returncode == 0 else "failure"
        result.seconds = time.monotonic() - started
        if result.outcome == "failure":
            self.failed = True
        return result


def clean_environ() -> dict[str, str]:
    """This process's environment without settings of our stack, Airflow, Docker or GitHub."""
    prefixes = ("AIRFLOW", "RPS_", "_RPS_", "MLFLOW_", "AWS_", "DOCKER", "GITHUB_", "RUNNER_", "FAKE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
