"""Issue 8 end to end with real services: injected drift in the replay -> drift detected -> DAG run
-> new champion -> `rps serve` reports the new version.

`airflow dags test` runs of the real DAG in a scratch project against a real MinIO + MLflow (this
module's own), and a real `rps serve` that follows @champion by polling the registry every second.
The tests run in file order and share the project, the registry and the server:

1. T1, a year of replay history: no champion yet, so the drift gate lets training through (trigger
   first_model); v1 is promoted and served.
2. T1 + 6 h, no drift: the gate finds no retrain due and exits 99, so drift, train, compare and
   promote are skipped and the run succeeds; v1 stays.
3. T2 = T1 + 28 days, with RPS_REPLAY_SHIFT scaling the temperature by 1.8 from T1 + 1 day (the
   label is the 6-hour change of temperature, so bigger swings raise the forecast error; a constant
   offset would not): the gate sees the error windows flagged (trigger concept_drift), a challenger
   is trained and beats v1 on the same fresh holdout, promote records the reason, and the running
   server hot-reloads v2 and reports it with its trigger.

The test project's params.yaml differs from the shipped one in the split, the forest size and the
maximum age only: holdout_days 3 and validation_days 3 (shipped: 14 and 0), so the challenger's
training rows end 6 days before the data end and include 21 days of the changed temperature;
drift.max_model_age_days 30 (shipped 14), so T2 - T1 (28 days) stays under it and the trigger is the
drift, not the age; n_estimators 30 (shipped 60) for time. Everything is seeded: the same decisions every time.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from urllib.request import Request, urlopen

import pytest
import yaml
from conftest import DAG_ID, RPS_BIN, failure_context, run_dag

pytestmark = pytest.mark.integration

ORDER = ["fetch", "check", "featurize", "profile", "push", "forecast", "drift", "train", "compare", "promote"]
BRANCH = ["drift", "train", "compare", "promote"]
T1 = "2026-04-10T00:00:00+00:00"
QUIET_RUN = "2026-04-10T06:00:00+00:00"
SHIFT = "temperature_2m:*1.8@2026-04-11T00:00:00Z"
T2 = "2026-05-08T00:00:00+00:00"
# Hours between the two fetches, with some to spare: run 3 fetches the 28 days it missed.
T2_BACKFILL_DAYS = 30


@pytest.fixture(scope="module")
def model_name(project) -> str:
    """The test project's params: a shorter split and a smaller forest (see the module docstring)."""
    path = project.dir / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["model"] |= {"holdout_days": 3, "validation_days": 3, "n_estimators": 30}
    params["drift"] |= {"max_model_age_days": 30}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    project.git("commit", "-qam", "test params: 3-day holdout and validation, 30 trees, 30-day maximum age")
    return params["model"]["registered_name"]


def replay_env(**extra: str) -> dict[str, str]:
    return {"RPS_SOURCE": "replay"} | extra


def version_tags(stack, name: str, version: int) -> dict[str, str]:
    got = stack.mlflow("model-versions/get", {"name": name, "version": str(version)})["model_version"]
    return {t["key"]: t["value"] for t in got.get("tags", [])}


def registry(stack, name: str) -> dict:
    versions = stack.mlflow("model-versions/search", {"filter": f"name='{name}'"}).get("model_versions", [])
    model = stack.mlflow("registered-models/get", {"name": name})["registered_model"]
    return {
        "versions": sorted(int(v["version"]) for v in versions),
        "aliases": {a["alias"]: int(a["version"]) for a in model.get("aliases", [])},
        "log": json.loads(next(t["value"] for t in model.get("tags", []) if t["key"] == "rps.promotion_log")),
    }


def drift_runs(stack, name: str) -> list[dict[str, str]]:
    """Tags of the drift checks logged to MLflow (rps.kind=drift), oldest first."""
    experiment = stack.mlflow("experiments/get-by-name", {"experiment_name": name})["experiment"]
    body = {"experiment_ids": [experiment["experiment_id"]], "filter": "tags.`rps.kind` = 'drift'", "max_results": 100}
    found = stack.mlflow("runs/search", body=body).get("runs", [])
    found.sort(key=lambda r: r["info"]["start_time"])
    return [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in found]


def read_json(path):
    return json.loads(path.read_text())


class Server:
    """A real `rps serve` of the test project's @champion, polling the registry every second."""

    def __init__(self, project, stack):
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            [str(RPS_BIN), "serve", "--port", "0", "--poll-seconds", "1"],
            cwd=project.dir,
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        listening = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.stderr.append(line)
                if "listening on http" in line:
                    self.url = re.search(r"listening on (http://\S+)", line)[1]
                    listening.set()

        threading.Thread(target=pump, daemon=True).start()
        if not listening.wait(90):
            self.stop()
            raise AssertionError("rps serve did not start:\n" + "".join(self.stderr))

    def get(self, path: str) -> str:
        with urlopen(self.url + path, timeout=10) as resp:
            return resp.read().decode()

    def model_info(self) -> list[str]:
        return re.findall(r"^rps_model_info\{(.*)\} 1$", self.get("/metrics"), re.M)

    def wait_for_version(self, version: str, seconds: float = 60) -> dict:
        deadline = time.monotonic() + seconds
        while True:
            ready = json.loads(self.get("/ready"))
            if ready["model"]["version"] == version or time.monotonic() > deadline:
                return ready
            time.sleep(0.5)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def first_run(airflow, project, stack, model_name):
    return run_dag(airflow, T1, replay_env(), conf={"backfill_days": 365})


@pytest.fixture(scope="module")
def server(first_run, project, stack):
    assert first_run[0].returncode == 0, "serving needs the first run's champion"
    srv = Server(project, stack)
    yield srv
    srv.stop()


def test_first_run_the_gate_lets_the_first_model_through_and_it_is_served(
    first_run, server, airflow, project, stack, model_name
):
    proc, _ = first_run
    assert proc.returncode == 0, failure_context(proc)
    assert airflow.task_states(DAG_ID, T1) == dict.fromkeys(ORDER, "success")
    assert "RETRAIN (first_model): no champion yet" in proc.stdout
    decision = read_json(project.dir / "reports/drift/drift.json")["decision"]
    assert decision == {"retrain": True, "trigger": "first_model", "reason": "no champion yet"}
    reg = registry(stack, model_name)
    assert reg["versions"] == [1] and reg["aliases"] == {"challenger": 1, "champion": 1}, reg
    assert [(e["to"], e["trigger"]) for e in reg["log"]] == [("1", "first_model")]
    assert version_tags(stack, model_name, 1)["rps.promotion_trigger"] == "first_model"

    assert server.wait_for_version("1")["model"]["version"] == "1"
    assert server.model_info() == [f'name="{model_name}",version="1",alias="champion",trigger="first_model"']


def test_without_drift_the_gate_skips_train_compare_and_promote(
    first_run, server, airflow, project, stack, model_name
):
    assert first_run[0].returncode == 0, "needs the first run's champion"
    proc, _ = run_dag(airflow, QUIET_RUN, replay_env())
    assert proc.returncode == 0, failure_context(proc)  # skipped is not failed
    states = airflow.task_states(DAG_ID, QUIET_RUN)
    assert states == dict.fromkeys(ORDER[:-4], "success") | dict.fromkeys(BRANCH, "skipped"), states
    assert "Command exited with return code 99" in proc.stdout
    for task in ("train", "compare", "promote"):
        assert f'"$RPS_BIN" {task}' not in proc.stdout, f"{task} ran although no retrain was due"
    # The decision was recorded, with why not.
    drift = read_json(project.dir / "reports/drift/drift.json")
    assert drift["champion"] == {"name": model_name, "version": "1"} and drift["triggeredBy"] == "schedule"
    assert drift["decision"]["retrain"] is False and drift["decision"]["trigger"] is None
    assert re.search(r"need 2 of 3|cooldown", drift["decision"]["reason"]), drift["decision"]
    last = drift_runs(stack, model_name)[-1]
    assert last["rps.retrain"] == "false" and last["rps.retrain_trigger"] == "none", last
    assert registry(stack, model_name)["versions"] == [1]
    assert server.model_info() == [f'name="{model_name}",version="1",alias="champion",trigger="first_model"']


def test_injected_drift_retrains_promotes_and_serve_reloads_the_new_champion(
    first_run, server, airflow, project, stack, model_name
):
    assert first_run[0].returncode == 0, "needs the first run's champion"
    proc, seconds = run_dag(airflow, T2, replay_env(RPS_REPLAY_SHIFT=SHIFT), conf={"backfill_days": T2_BACKFILL_DAYS})
    assert proc.returncode == 0, failure_context(proc)
    assert airflow.task_states(DAG_ID, T2) == dict.fromkeys(ORDER, "success")

    # The decision path: concept drift in the error windows after the change, not the model's age.
    drift = read_json(project.dir / "reports/drift/drift.json")
    decision = drift["decision"]
    assert decision["retrain"] is True and decision["trigger"] == "concept_drift", decision
    assert drift["modelAgeHours"] < drift["settings"]["max_model_age_days"] * 24
    flagged = [c for c in drift["chunks"] if c["flagged"]]
    assert len(flagged) >= drift["settings"]["k"], drift["chunks"]
    assert all(c["start"] >= "2026-04-11" for c in flagged)
    errors = r"MAE \d+\.\d\d = \d+\.\d\dx validation in [23] of the last 3 windows"
    assert re.match(errors, decision["reason"]), decision
    assert drift_runs(stack, model_name)[-1]["rps.retrain_trigger"] == "concept_drift"

    # The challenger beat the champion on the same fresh holdout.
    compare = read_json(project.dir / "reports/compare/report.json")
    assert compare["decision"] == "challenger_wins", compare
    assert compare["challenger"]["version"] == "2" and compare["champion"]["version"] == "1"
    challenger_rmse, champion_rmse = compare["challenger"]["scores"]["rmse"], compare["champion"]["scores"]["rmse"]
    assert challenger_rmse < champion_rmse

    # The promotion and its reason, in the registry (version tags and the promotion log).
    reg = registry(stack, model_name)
    assert reg["versions"] == [1, 2], reg
    assert reg["aliases"] == {"challenger": 2, "champion": 2, "previous-champion": 1}, reg
    tags = version_tags(stack, model_name, 2)
    assert tags["rps.promotion_trigger"] == "concept_drift"
    expected_reason = (
        f"{decision['reason']}; challenger v2 holdout RMSE {challenger_rmse:.3f} vs champion v1 {champion_rmse:.3f}"
        f" on {compare['holdout']['rows']} rows"
    )
    assert tags["rps.promotion_reason"] == expected_reason
    assert [(e["to"], e["trigger"]) for e in reg["log"]] == [("1", "first_model"), ("2", "concept_drift")]
    assert reg["log"][-1]["reason"] == expected_reason

    # The running server picked up v2 by itself and reports it with its trigger.
    ready = server.wait_for_version("2")
    assert ready["ready"] is True and ready["model"]["version"] == "2", ready
    assert server.model_info() == [f'name="{model_name}",version="2",alias="champion",trigger="concept_drift"']
    log = "".join(server.stderr)
    assert re.search(r"serving \S+ v2 \(@champion, promoted for concept_drift\), was v1", log), log
    # And it answers with v2.
    example = json.loads(server.get("/model"))["example"]
    body = json.dumps({"instances": [example]}).encode()
    request = Request(server.url + "/predict", data=body, headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=10) as resp:
        assert json.load(resp)["predictions"][0]["model"]["version"] == "2"
    print(f"drift run: {seconds:.1f} s; {decision['reason']}; RMSE {challenger_rmse:.3f} vs {champion_rmse:.3f}")
