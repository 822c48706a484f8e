"""scripts/airflow.sh for real: api-server, scheduler and dag-processor on a free loopback port,
a run triggered through the REST API and followed to the end, then a clean stop."""

from __future__ import annotations

import json
import re
import socket
from urllib.request import urlopen

import pytest
from conftest import REPO, free_port, run

pytestmark = pytest.mark.integration

SCRIPT = REPO / "scripts" / "airflow.sh"


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def services(tmp_path_factory, stack, project):
    state = tmp_path_factory.mktemp("airflow-services")
    port = free_port()
    env = stack.env | {
        "RPS_STATE_DIR": str(state),  # MinIO/MLflow pid files stay in the stack's own state dir
        "RPS_AIRFLOW_PORT": str(port),
        "RPS_PROJECT_DIR": str(project.dir),
        "RPS_SOURCE": "replay",
        "RPS_BACKFILL_DAYS": "120",
        "RPS_DAG_RETRIES": "0",
        "RPS_DAG_GIT_COMMIT": "true",
    }
    try:
        yield env, port
    finally:
        run([SCRIPT, "stop"], env=env, check=False, timeout=120)


def test_start_trigger_and_wait_status_and_stop(services, project):
    env, port = services
    started = run([SCRIPT, "start"], env=env, timeout=300)
    assert "healthy at http://127.0.0.1:" in started.stderr
    assert listening(port)
    status = run([SCRIPT, "status"], env=env)
    assert status.stdout.count(": running (pid") == 3 and "airflow: healthy" in status.stdout
    # A second start finds everything up and does nothing.
    again = run([SCRIPT, "start"], env=env, timeout=120)
    assert "already running and healthy" in again.stderr

    # No date: the run takes the interval the scheduler is due to run next, so unpausing the DAG
    # creates no second run of the same interval.
    waited = run([SCRIPT, "trigger-and-wait"], env=env | {"RPS_AIRFLOW_PAUSE_AFTER": "1"}, timeout=1200, check=False)
    print(waited.stdout)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    interval = re.search(r"logical date (\S+), data interval \[(\S+), (\S+)\)", waited.stdout)
    assert interval, waited.stdout
    logical, start, end = interval.groups()
    assert logical == start and end > start  # a real hourly data interval
    for task in ("fetch", "check", "featurize", "profile", "push", "forecast", "drift", "train", "compare", "promote"):
        assert f"] {task:<10} success" in waited.stdout, task  # one progress line per state change
    assert "run success" in waited.stdout
    # RPS_DAG_GIT_COMMIT=true (set above): the single-host opt-in commits dvc.lock to the checkout.
    assert project.git("log", "-1", "--format=%s").startswith("data: dataset ")
    with urlopen(f"http://127.0.0.1:{port}/api/v2/dags/rps_pipeline/dagRuns", timeout=30) as resp:
        runs = json.load(resp)["dag_runs"]
    same_interval = [r["dag_run_id"] for r in runs if r["data_interval_start"] == start]
    assert len(same_interval) == 1, runs
    with urlopen(f"http://127.0.0.1:{port}/api/v2/dags/rps_pipeline", timeout=30) as resp:
        assert json.load(resp)["is_paused"] is True, "RPS_AIRFLOW_PAUSE_AFTER=1 pauses the DAG again"

    # The same logical date again is refused clearly (the run exists), not a traceback.
    dup = run([SCRIPT, "trigger-and-wait", logical], env=env, timeout=300, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stdout, dup.stdout + dup.stderr

    stopped = run([SCRIPT, "stop"], env=env, timeout=120)
    assert stopped.stderr.count(" stopped") == 3
    assert run([SCRIPT, "status"], env=env, check=False).returncode == 3
    assert not listening(port)
