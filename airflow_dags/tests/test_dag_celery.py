"""The distributed run: Airflow's CeleryExecutor with a Redis broker and two Celery workers, each with
its own working directory (a separate checkout of the project), sharing nothing but MinIO and
MLflow. RPS_DAG_QUEUES puts the tasks alternately on the workers' queues, so every hand-over between
consecutive tasks crosses workers: each task restores its inputs by version (rps pull) and stores its
outputs (rps push). The run goes green, the champion it promotes is served by `rps serve`.

All through scripts/airflow.sh (start, start-worker, trigger-and-wait, stop) on free loopback ports.
"""

from __future__ import annotations

import json
import subprocess
import time
from urllib.request import urlopen

import pytest
from conftest import DAG_ID, REPO, RPS_BIN, free_port, make_project, run

pytestmark = pytest.mark.integration

SCRIPT = REPO / "scripts" / "airflow.sh"
ORDER = ["fetch", "check", "featurize", "profile", "push", "forecast", "drift", "train", "compare", "promote"]
QUEUES = ["worker-a", "worker-b"]
LOGICAL_DATE = "2026-04-10T00:00:00+00:00"
# Tasks by worker: RPS_DAG_QUEUES cycles through the queues in pipeline order.
ON = {q: ORDER[i :: len(QUEUES)] for i, q in enumerate(QUEUES)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, stack, alerts_sink):
    state = tmp_path_factory.mktemp("celery-state")
    port = free_port()
    env = stack.env | {
        "RPS_STATE_DIR": str(state),
        "RPS_AIRFLOW_PORT": str(port),
        "RPS_REDIS_PORT": str(free_port()),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "RPS_DAG_QUEUES": ",".join(QUEUES),
        "RPS_DAG_SCHEDULE": "none",
        "RPS_DAG_RETRIES": "0",
        "RPS_SOURCE": "replay",
        "RPS_BACKFILL_DAYS": "120",
        "RPS_ALERT_SINK_URL": alerts_sink.url,
        "RPS_ALERT_SINK_TOKEN": alerts_sink.token,
    }
    checkouts = {q: make_project(tmp_path_factory.mktemp(f"checkout-{q}"), stack) for q in QUEUES}
    # The scheduler's own checkout runs no task: it only parses the DAG.
    scheduler_checkout = make_project(tmp_path_factory.mktemp("checkout-scheduler"), stack)
    try:
        run([SCRIPT, "start"], env=env | {"RPS_PROJECT_DIR": str(scheduler_checkout.dir)}, timeout=300)
        for q in QUEUES:
            run([SCRIPT, "start-worker", q, q], env=env | {"RPS_PROJECT_DIR": str(checkouts[q].dir)}, timeout=300)
        yield env, port, checkouts, scheduler_checkout
    finally:
        run([SCRIPT, "stop"], env=env, check=False, timeout=180)


def task_instances(port: int, run_id: str) -> dict[str, dict]:
    url = f"http://127.0.0.1:{port}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"
    with urlopen(url, timeout=30) as resp:
        return {ti["task_id"]: ti for ti in json.load(resp)["task_instances"]}


def test_a_run_spread_over_two_workers_goes_green_and_the_champion_is_served(cluster, stack, tmp_path):
    env, port, checkouts, scheduler_checkout = cluster
    heads = {q: c.git("rev-parse", "HEAD") for q, c in checkouts.items()}
    started = time.monotonic()
    waited = run([SCRIPT, "trigger-and-wait", LOGICAL_DATE], env=env, timeout=1800, check=False)
    print(f"\ncelery run: exit {waited.returncode} in {time.monotonic() - started:.1f} s\n{waited.stdout[-3000:]}")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    run_id = json.loads(urlopen(f"http://127.0.0.1:{port}/api/v2/dags/{DAG_ID}/dagRuns", timeout=30).read())[
        "dag_runs"
    ][0]["dag_run_id"]

    # Every task succeeded, on the queue it was given, so consecutive tasks ran on different workers.
    tis = task_instances(port, run_id)
    assert {t: ti["state"] for t, ti in tis.items()} == dict.fromkeys(ORDER, "success")
    assert {t: ti["queue"] for t, ti in tis.items()} == {t: q for q, tasks in ON.items() for t in tasks}

    # Each worker's working directory holds only what its own tasks made or restored.
    a, b = checkouts["worker-a"].dir, checkouts["worker-b"].dir
    assert ON["worker-a"] == ["fetch", "featurize", "push", "drift", "compare"]
    assert (a / "reports/drift/drift.json").exists() and (a / "reports/compare/report.json").exists()
    assert not (a / "reports/profile.html").exists() and not (a / ".rps/run").exists()
    assert (b / "reports/profile.html").exists() and not (b / "reports/drift").exists()
    # promote (worker b) read the decision and the compare report worker a stored for this run.
    assert json.loads((b / ".rps/run/drift/drift.json").read_text())["decision"]["trigger"] == "first_model"
    assert (b / ".rps/run/compare/report.json").exists()
    # The scheduler's checkout ran nothing.
    assert not (scheduler_checkout.dir / "data").exists() and not (scheduler_checkout.dir / "reports").exists()

    # The data version: in S3 (CURRENT names the version every task of the run used), never in git.
    current = json.loads(stack.s3_get("processed/CURRENT.json"))
    assert len(current["sha256"]) == 64 and len(current["dvcMd5"]) == 32
    assert f"processed/{current['sha256']}/dataset.parquet" in stack.s3_keys("processed/")
    for q, checkout in checkouts.items():
        assert checkout.git("rev-parse", "HEAD") == heads[q], f"{q} committed to git"
    assert any(k.endswith("/reports/drift/drift.json") for k in stack.s3_keys("runs/"))

    # The model trained on worker b from the version worker a stored, promoted on worker b.
    name = "rps-temperature"
    model = stack.mlflow("registered-models/get", {"name": name})["registered_model"]
    aliases = {a["alias"]: a["version"] for a in model.get("aliases", [])}
    assert aliases.get("champion") == "1", aliases
    version = stack.mlflow("model-versions/get", {"name": name, "version": "1"})["model_version"]
    run_tags = {
        t["key"]: t["value"] for t in stack.mlflow("runs/get", {"run_id": version["run_id"]})["run"]["data"]["tags"]
    }
    assert run_tags["rps.data_versioned_by_dvc"] == "true" and run_tags["rps.data_version"] == current["dvcMd5"]

    # The champion is served from a directory that has nothing but the registry.
    serve_port = free_port()
    proc = subprocess.Popen(
        [str(RPS_BIN), "serve", "--port", str(serve_port)],
        cwd=tmp_path,
        env=stack.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urlopen(f"http://127.0.0.1:{serve_port}/ready", timeout=5) as resp:
                    ready = json.load(resp)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert ready["model"]["version"] == "1", ready
    finally:
        proc.terminate()
        proc.wait(30)
