"""Shared fixtures of the DAG tests. Run with the Airflow venv's pytest (scripts/test-airflow.sh).

Every Airflow process of the tests, in-process DagBag included, gets the configuration of
scripts/airflow-env.sh with its own throw-away AIRFLOW_HOME, so a developer's running Airflow,
MinIO and MLflow (and their state under .rps/state) are never touched.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "airflow_dags"
RPS_BIN = REPO / "bin" / "rps"
AIRFLOW = Path(sys.prefix) / "bin" / "airflow"
STACK_PYTHON = REPO / ".rps" / "venv" / "bin" / "python"
DVC = REPO / ".rps" / "venv" / "bin" / "dvc"
DAG_ID = "rps_pipeline"
# Settings that must come from the test, never from the caller's shell or .env.
_FOREIGN_PREFIXES = ("AIRFLOW", "RPS_", "MLFLOW_", "AWS_", "_RPS_")


def clean_environ() -> dict[str, str]:
    """The caller's environment without any Airflow, rps, MLflow or AWS setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_environ(state_dir: Path, port: int | None = None) -> dict[str, str]:
    """clean_environ() plus what `source scripts/airflow-env.sh` exports for this state dir."""
    env = clean_environ()
    env["RPS_STATE_DIR"] = str(state_dir)
    env["RPS_AIRFLOW_PORT"] = str(port or free_port())
    out = subprocess.run(
        ["bash", "-c", 'source "$1" && env -0', "airflow-env", str(REPO / "scripts" / "airflow-env.sh")],
        env=env,
        check=True,
        capture_output=True,
    ).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if not k.startswith("BASH_FUNC_") and k not in ("_", "SHLVL", "PWD", "OLDPWD")}


# In-process Airflow (DagBag) reads its configuration when first imported: point it at a private
# AIRFLOW_HOME before any test module imports airflow, and drop RPS_* so the DAG's defaults apply.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="rps-airflow-tests-"))
_in_process_env = airflow_environ(_SESSION_DIR / "inprocess")
for _key in [k for k in os.environ if k.startswith(_FOREIGN_PREFIXES)]:
    del os.environ[_key]
os.environ.update({k: v for k, v in _in_process_env.items() if k.startswith(("AIRFLOW", "PYTHONWARNINGS"))})


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def run(cmd, env=None, cwd=None, check=True, timeout=None) -> subprocess.CompletedProcess:
    """Run a command, capture text output; on an unexpected exit show both streams."""
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
            f"\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


# ---------------------------------------------------------------------------------------------
# The real local stack: MinIO + MLflow through scripts/minio.sh and scripts/mlflow.sh, on free
# ports, with state in a temporary RPS_STATE_DIR.


@dataclass
class Stack:
    env: dict[str, str]
    s3_endpoint: str
    tracking_uri: str
    bucket: str = "rps-data"

    def mlflow(self, path: str, params: dict | None = None, body: dict | None = None) -> dict:
        """One MLflow REST call (GET with params, or POST with a JSON body)."""
        url = f"{self.tracking_uri}/api/2.0/mlflow/{path}"
        if body is None:
            req = Request(url + ("?" + urlencode(params) if params else ""))
        else:
            req = Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def s3_keys(self, prefix: str = "") -> list[str]:
        """Every object key under prefix in the data bucket (boto3 from the stack venv)."""
        code = (
            "import boto3, json, os, sys\n"
            "s3 = boto3.client('s3', endpoint_url=os.environ['RPS_S3_ENDPOINT'], region_name='us-east-1')\n"
            "keys = []\n"
            "for page in s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1], Prefix=sys.argv[2]):\n"
            "    keys += [o['Key'] for o in page.get('Contents', [])]\n"
            "print(json.dumps(keys))\n"
        )
        return json.loads(run([STACK_PYTHON, "-c", code, self.bucket, prefix], env=self.env).stdout)

    def s3_get(self, key: str) -> str:
        """One object of the data bucket, as text."""
        code = (
            "import boto3, os, sys\n"
            "s3 = boto3.client('s3', endpoint_url=os.environ['RPS_S3_ENDPOINT'], region_name='us-east-1')\n"
            "sys.stdout.write(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])['Body'].read().decode())\n"
        )
        return run([STACK_PYTHON, "-c", code, self.bucket, key], env=self.env).stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A MinIO + MLflow of this test module (each module starts with an empty registry)."""
    for path, install in ((STACK_PYTHON, "scripts/install-python.sh"), (DVC, "scripts/install-python.sh")):
        if not path.exists():
            pytest.fail(f"{path} missing: run {install}")
    if not (REPO / ".rps" / "tools" / "bin" / "minio").exists() and not shutil.which("minio"):
        pytest.fail("minio missing: run scripts/install-minio.sh")
    state = tmp_path_factory.mktemp("stack")
    minio_port, console_port, mlflow_port = free_port(), free_port(), free_port()
    env = clean_environ() | {
        "RPS_ENV_FILE": "/dev/null",  # never the developer's .env
        "RPS_STATE_DIR": str(state),
        "RPS_MINIO_PORT": str(minio_port),
        "RPS_MINIO_CONSOLE_PORT": str(console_port),
        "RPS_MLFLOW_PORT": str(mlflow_port),
        "RPS_S3_ENDPOINT": f"http://127.0.0.1:{minio_port}",
        "RPS_S3_BUCKET": "rps-data",
        "RPS_MLFLOW_BUCKET": "rps-mlflow",
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
        "AWS_ACCESS_KEY_ID": "rps-airflow-test",
        "AWS_SECRET_ACCESS_KEY": "rps-airflow-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "_RPS_DEFAULTS_WARNED": "1",
    }
    started = []
    try:
        for service in ("minio", "mlflow"):
            started.append(service)
            run([REPO / "scripts" / f"{service}.sh", "start"], env=env, timeout=180)
        yield Stack(
            env=env,
            s3_endpoint=env["RPS_S3_ENDPOINT"],
            tracking_uri=env["MLFLOW_TRACKING_URI"],
        )
    finally:
        for service in reversed(started):
            run([REPO / "scripts" / f"{service}.sh", "stop"], env=env, check=False, timeout=60)


# ---------------------------------------------------------------------------------------------
# A scratch rps project: a git repository with params.yaml + dvc.yaml, bin/ and src/ linked to
# this repository, DVC initialised with its remote on the test MinIO (scripts/dvc-remote.sh).


@dataclass
class Project:
    dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str) -> str:
        return run(["git", *args], cwd=self.dir).stdout.strip()


def make_project(path: Path, stack: Stack) -> Project:
    """A scratch checkout of the project at path (a worker's own working directory)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, path / name)
    for name in ("bin", "src"):
        (path / name).symlink_to(REPO / name)
    (path / ".gitignore").write_text((REPO / ".gitignore").read_text())
    run(["git", "init", "-q"], cwd=path)
    run(["git", "config", "user.name", "rps test"], cwd=path)
    run(["git", "config", "user.email", "rps-test@localhost"], cwd=path)
    run([REPO / "scripts" / "dvc-remote.sh", path], env=stack.env)
    run(["git", "add", "-A"], cwd=path)
    run(["git", "commit", "-qm", "scratch project"], cwd=path)
    return Project(dir=path)


@pytest.fixture(scope="module")
def project(tmp_path_factory, stack) -> Project:
    return make_project(tmp_path_factory.mktemp("project"), stack)


# ---------------------------------------------------------------------------------------------
# `airflow dags test` against the real DAG folder, with a migrated private metadata DB.


@dataclass
class AirflowCli:
    env: dict[str, str]

    def __call__(self, *args: str, env: dict[str, str] | None = None, check=True, timeout=1800):
        return run([AIRFLOW, *args], env=self.env | (env or {}), check=check, timeout=timeout)

    def task_states(self, dag_id: str, logical_date: str) -> dict[str, str]:
        out = self("tasks", "states-for-dag-run", "-o", "json", dag_id, logical_date).stdout
        # Anything logged before the JSON (there should be nothing) is skipped.
        return {row["task_id"]: row["state"] for row in json.loads(out[out.index("[") :])}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, stack, project) -> AirflowCli:
    home = tmp_path_factory.mktemp("airflow-state")
    env = airflow_environ(home) | stack.env | {"RPS_PROJECT_DIR": str(project.dir)}
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
    cli = AirflowCli(env=env)
    cli("db", "migrate", timeout=300)
    return cli


def run_dag(airflow: AirflowCli, logical_date: str, env: dict[str, str], conf: dict | None = None):
    """`airflow dags test`; returns (process, seconds). Failing tasks are not retried here (the
    retry policy is checked by the structure tests), so a broken task fails the run at once."""
    started = time.monotonic()
    args = ["dags", "test", DAG_ID, logical_date] + (["--conf", json.dumps(conf)] if conf else [])
    proc = airflow(*args, env={"RPS_DAG_RETRIES": "0"} | env, check=False)
    seconds = time.monotonic() - started
    print(f"\nairflow dags test {DAG_ID} {logical_date}: exit {proc.returncode} in {seconds:.1f} s; {task_times(proc)}")
    return proc, seconds


def task_times(proc) -> str:
    """Seconds per task, from the `[DAG TEST] starting/end task` log lines."""
    stamps: dict[str, dict[str, datetime]] = {}
    pattern = r"^(\S+) .*\[DAG TEST\] (starting|end task) task_id=(\w+)"
    for match in re.finditer(pattern, proc.stdout, re.M):
        stamps.setdefault(match[3], {})[match[2]] = datetime.fromisoformat(match[1].replace("Z", "+00:00"))
    return ", ".join(
        f"{task} {(t['end task'] - t['starting']).total_seconds():.1f} s"
        for task, t in stamps.items()
        if {"starting", "end task"} <= t.keys()
    )


def failure_context(proc) -> str:
    """The interesting part of a `dags test` log for an assertion message: the output of the first
    task that exited non-zero (or the log tail), without Airflow's own bookkeeping lines."""
    lines = [line for line in proc.stdout.splitlines() if "[airflow.api_fastapi" not in line]
    # 99 is a skip (drift gate: no retrain; compare: the challenger lost), not a failure.
    bad = next((i for i, line in enumerate(lines) if re.search(r"exited with return code (?!0\b|99\b)\d+", line)), None)
    start = max(0, (bad if bad is not None else len(lines)) - 60)
    return "\n".join(lines[start : start + 90]) + "\n--- stderr\n" + proc.stderr[-3000:]


class AlertsSink:
    """A real `rps alerts-sink` on a free port, appending to a file: where failed tasks notify."""

    def __init__(self, directory: Path, env: dict[str, str]):
        self.file = directory / "alerts.jsonl"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/alerts"
        # The sink requires it; failed tasks send it (RPS_ALERT_SINK_TOKEN in the DAG's environment).
        self.token = secrets.token_hex(32)
        self.proc = subprocess.Popen(
            [str(RPS_BIN), "alerts-sink", "--port", str(self.port), "--file", str(self.file)],
            cwd=directory,
            env={**env, "RPS_ALERT_SINK_TOKEN": self.token},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("rps alerts-sink did not start")
            time.sleep(0.2)

    def alerts(self) -> list[dict]:
        if not self.file.exists():
            return []
        return [json.loads(line) for line in self.file.read_text().splitlines() if line.strip()]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def alerts_sink(tmp_path_factory, stack):
    sink = AlertsSink(tmp_path_factory.mktemp("alerts-sink"), stack.env)
    yield sink
    sink.stop()
