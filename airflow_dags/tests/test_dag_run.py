"""The real DAG, run for real: `airflow dags test rps_pipeline <date>` in a scratch rps project,
against a real MinIO and a real MLflow started for this module (free ports, temporary state).

The tests run in file order and share one project, one MLflow and one Airflow DB:
1. a replay run with a year of history: every task succeeds (no champion yet: the drift gate lets
   the first model through), the data and the model are recorded;
2. a weak challenger, forced through the gate by the run parameters retrain=always and
   triggered_by=alert:<name>: compare exits 99, so compare and promote are skipped, the run succeeds;
3. bad data (csv source, >1 % null temperatures): the gate fails the run, nothing after it runs,
   and no dataset or model version is added.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import DAG_ID, REPO, failure_context, run_dag

pytestmark = pytest.mark.integration

ORDER = ["fetch", "check", "featurize", "profile", "push", "forecast", "drift", "train", "compare", "promote"]
MODEL = yaml.safe_load((REPO / "params.yaml").read_text())["model"]
# A year of replay history in the first fetch (RPS_BACKFILL_DAYS, fetch --backfill-days).
BACKFILL_DAYS = 365
FIRST_RUN = "2026-04-10T00:00:00+00:00"
SECOND_RUN = "2026-04-10T06:00:00+00:00"
BAD_RUN = "2026-04-10T12:00:00+00:00"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def locked_dataset_md5(project, rev: str = "HEAD") -> str | None:
    """The dataset md5 recorded in dvc.lock as committed in git (None when not committed)."""
    try:
        text = project.git("show", f"{rev}:dvc.lock")
    except AssertionError:
        return None
    outs = yaml.safe_load(text)["stages"]["featurize"]["outs"]
    return next(o["md5"] for o in outs if o["path"] == "data/processed/dataset.parquet")


def mlflow_state(stack) -> dict:
    """Runs of the experiment, versions of the registered model, and its aliases."""
    experiment = stack.mlflow("experiments/get-by-name", {"experiment_name": MODEL["experiment"]})["experiment"]
    runs = stack.mlflow("runs/search", body={"experiment_ids": [experiment["experiment_id"]], "max_results": 1000})
    versions = stack.mlflow("model-versions/search", {"filter": f"name='{MODEL['registered_name']}'"})
    model = stack.mlflow("registered-models/get", {"name": MODEL["registered_name"]})["registered_model"]
    return {
        "runs": {r["info"]["run_id"]: r["info"]["status"] for r in runs.get("runs", [])},
        "versions": sorted(int(v["version"]) for v in versions.get("model_versions", [])),
        "aliases": {a["alias"]: int(a["version"]) for a in model.get("aliases", [])},
    }


@pytest.fixture(scope="module")
def first_run(airflow, project, stack):
    # The year of history comes from the run parameter, as a first triggered run would pass it.
    proc, seconds = run_dag(airflow, FIRST_RUN, {"RPS_SOURCE": "replay"}, conf={"backfill_days": BACKFILL_DAYS})
    return proc, seconds


def test_replay_run_succeeds_and_records_data_and_model(first_run, airflow, project, stack):
    proc, seconds = first_run
    assert proc.returncode == 0, failure_context(proc)
    assert airflow.task_states(DAG_ID, FIRST_RUN) == dict.fromkeys(ORDER, "success")
    assert proc.stdout.count("Command exited with return code 0") == len(ORDER)
    # fetch ran with the run's data interval end as the replay clock, and the year of backfill.
    metas = [json.loads(p.read_text()) for p in (project.dir / "data/raw/replay").rglob("*.meta.json")]
    assert [m["observedUntil"] for m in metas] == ["2026-04-10T00:00:00.000Z"], metas
    assert metas[0]["request"]["params"]["hours"] == 24 * BACKFILL_DAYS

    # Data: raw + processed objects in S3; the dataset version recorded in S3 (CURRENT.json, with
    # its DVC md5) and on the MLflow run, never committed to git by the DAG.
    assert any(k.startswith("raw/replay/") for k in stack.s3_keys("raw/")), "no raw/ objects"
    assert any(k.endswith(".quality.json") for k in stack.s3_keys("raw/")), "check's reports not stored"
    current = json.loads(stack.s3_get("processed/CURRENT.json"))
    dataset = project.dir / "data/processed/dataset.parquet"
    assert current["sha256"] == hashlib.sha256(dataset.read_bytes()).hexdigest()
    assert current["dvcMd5"] == md5(dataset)
    processed = stack.s3_keys(f"processed/{current['sha256']}/")
    assert {f"processed/{current['sha256']}/{n}" for n in ("dataset.parquet", "dataset.json", "version.json")} <= set(
        processed
    )
    assert locked_dataset_md5(project) is None, "the DAG must not commit dvc.lock"
    assert project.git("log", "-1", "--format=%s") == "scratch project"
    assert any(k.endswith("/reports/drift/drift.json") for k in stack.s3_keys("runs/"))
    # forecast ran before the first champion existed: no forecast page, and the task still succeeded.
    assert not any(k.endswith("/reports/live/forecast.html") for k in stack.s3_keys("runs/"))

    # Model: a finished MLflow run, a registered version, promoted to champion (no champion before).
    state = mlflow_state(stack)
    assert list(state["runs"].values()) == ["FINISHED"], state
    train_run = stack.mlflow("runs/get", {"run_id": next(iter(state["runs"]))})["run"]
    tags = {t["key"]: t["value"] for t in train_run["data"]["tags"]}
    assert tags["rps.data_version"] == current["dvcMd5"] and tags["rps.data_versioned_by_dvc"] == "true", tags
    assert state["versions"] == [1], state
    assert state["aliases"].get("challenger") == 1 and state["aliases"].get("champion") == 1, state
    # The gate let the first model through, and promote recorded why on the version.
    decision = json.loads((project.dir / "reports/drift/drift.json").read_text())["decision"]
    assert decision == {"retrain": True, "trigger": "first_model", "reason": "no champion yet"}
    tags = version_tags(stack, 1)
    assert tags["rps.promotion_trigger"] == "first_model"
    reason = r"no champion yet; challenger v1 holdout RMSE \d+\.\d{3} on \d+ rows, no champion to beat"
    assert re.fullmatch(reason, tags["rps.promotion_reason"]), tags


def version_tags(stack, version: int) -> dict[str, str]:
    got = stack.mlflow("model-versions/get", {"name": MODEL["registered_name"], "version": str(version)})
    return {t["key"]: t["value"] for t in got["model_version"].get("tags", [])}


def test_a_losing_challenger_skips_compare_and_promote_and_the_run_succeeds(first_run, airflow, project, stack):
    assert first_run[0].returncode == 0, "needs the first run's champion"
    before = mlflow_state(stack)
    # A one-stump forest: it cannot beat the champion on the same holdout.
    params = project.dir / "params.yaml"
    original = params.read_text()
    params.write_text(
        re.sub(r"(?m)^(  n_estimators:)\s*\d+", r"\1 1", re.sub(r"(?m)^(  max_depth:)\s*\d+", r"\1 1", original))
    )
    # The champion is 6 h old: only a forced retrain gets past the drift gate (here: as an alert would).
    conf = {"retrain": "always", "triggered_by": "alert:RpsLiveErrorHigh"}
    try:
        proc, _ = run_dag(airflow, SECOND_RUN, {"RPS_SOURCE": "replay"}, conf=conf)
    finally:
        params.write_text(original)
    assert proc.returncode == 0, failure_context(proc)
    states = airflow.task_states(DAG_ID, SECOND_RUN)
    assert states == dict.fromkeys(ORDER[:-2], "success") | {"compare": "skipped", "promote": "skipped"}, states
    # With a champion, forecast wrote its page, kept with this run's reports (the first run had none).
    pages = [k for k in stack.s3_keys("runs/") if k.endswith("/reports/live/forecast.html")]
    assert len(pages) == 1, pages
    assert re.search(r"\(@champion\) · issued 2026-04-10 \d\d:00 UTC", stack.s3_get(pages[0]))
    assert "Command exited with return code 99" in proc.stdout
    drift = json.loads((project.dir / "reports/drift/drift.json").read_text())
    assert drift["triggeredBy"] == "alert:RpsLiveErrorHigh" and drift["forced"] is True
    assert drift["decision"]["trigger"] == "alert"
    reason = drift["decision"]["reason"]
    assert reason.startswith("alert RpsLiveErrorHigh asked for a retrain; drift check: no retrain due ("), reason
    after = mlflow_state(stack)
    assert len(after["versions"]) == len(before["versions"]) + 1, after
    assert after["aliases"]["challenger"] == max(after["versions"])
    assert after["aliases"]["champion"] == before["aliases"]["champion"], "the champion must stay"


def write_bad_csv(path: Path, hours: int = 200, null_every: int = 20) -> None:
    """Hourly observations from the replay series with every 20th temperature missing (5 % > 1 %)."""
    with (REPO / "data/replay/greensboro-nc.csv").open() as f:
        rows = list(csv.DictReader(f))[2000 : 2000 + hours]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rows):
            if i % null_every == 5:
                row["temperature_2m"] = ""
            writer.writerow(row)


def test_bad_data_fails_the_gate_nothing_downstream_runs_and_the_sink_is_told(
    first_run, airflow, project, stack, alerts_sink, tmp_path
):
    head_before = project.git("rev-parse", "HEAD")
    lock_before = locked_dataset_md5(project)
    dataset = project.dir / "data/processed/dataset.parquet"
    dataset_before = md5(dataset) if dataset.exists() else None
    models_before = mlflow_state(stack)
    processed_before = stack.s3_keys("processed/")

    bad = tmp_path / "bad observations.csv"
    write_bad_csv(bad)
    env = {"RPS_SOURCE": "csv", "RPS_CSV_FILE": str(bad), "RPS_ALERT_SINK_URL": alerts_sink.url,
           "RPS_ALERT_SINK_TOKEN": alerts_sink.token}
    proc, _ = run_dag(airflow, BAD_RUN, env)

    assert proc.returncode != 0, "dags test must fail when the gate fails"
    assert "DagRun failed" in proc.stderr
    assert "Command exited with return code 3" in proc.stdout  # rps check: gate failed
    states = airflow.task_states(DAG_ID, BAD_RUN)
    assert states == {"fetch": "success", "check": "failed"} | dict.fromkeys(ORDER[2:], "upstream_failed"), states
    assert '"$RPS_BIN" check' in proc.stdout
    for task in ORDER[2:]:
        assert f"starting task_id={task}" not in proc.stdout, f"{task} ran after a failed gate"
        assert f'"$RPS_BIN" {task} ' not in proc.stdout.replace('"$RPS_BIN" push --raw-only', ""), task
    # Nothing after the gate ran: same git HEAD, same dataset version, same dataset, same models.
    assert project.git("rev-parse", "HEAD") == head_before
    assert locked_dataset_md5(project) == lock_before
    assert (md5(dataset) if dataset.exists() else None) == dataset_before
    assert stack.s3_keys("processed/") == processed_before
    assert mlflow_state(stack) == models_before
    # The failed task reached the alert sink as an Alertmanager-style alert.
    failed = [a for a in alerts_sink.alerts() if a["labels"].get("alertname") == "RpsDagTaskFailed"]
    assert [a["labels"]["task_id"] for a in failed] == ["check"], alerts_sink.alerts()
    assert failed[0]["status"] == "firing" and failed[0]["labels"]["dag_id"] == DAG_ID
    # (`airflow dags test` names its run manual__<now>.)
    assert failed[0]["labels"]["run_id"].startswith("manual__")
    assert failed[0]["annotations"]["summary"] == f"{DAG_ID}.check failed in run {failed[0]['labels']['run_id']}"
