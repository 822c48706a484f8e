"""
### rps_pipeline

The rps MLOps pipeline, one `rps` command per task:

`fetch` -> `check` -> `featurize` -> `profile` -> `push` -> `forecast` -> `drift` -> `train` -> `compare` -> `promote`

This file only wires commands; every decision lives in the `rps` CLI (`bin/rps <cmd> --help`).
Each task runs `cd "$RPS_PROJECT_DIR" && "$RPS_BIN" <cmd>` in bash, so a task does exactly what a
developer or CI does by hand in the project directory.

**Tasks share nothing but object storage and the registry** (docs/DEPLOY.md), so consecutive tasks
may run on different workers (Celery hosts, Kubernetes pods) with empty working directories. Each
task restores its inputs by version with `rps pull` and stores its outputs with `rps push`:

| task | restores (`rps pull`) | stores (`rps push`) |
|---|---|---|
| fetch | - | raw files (`--raw-only`) |
| check | `--data-version current --raw` (raw files not merged yet) | raw files + quality reports |
| featurize | `--data-version current --raw` | `processed/<sha256>/` (`--no-dvc`); the sha256 is the task's XCom |
| profile | `--data-version <XCom of featurize>` | `runs/<run_id>/reports/profile.*` |
| push | `--data-version <XCom>` | DVC remote + `processed/CURRENT.json` (the next run's base) |
| forecast | `--data-version <XCom> --live` | `live/` (log, live errors); `runs/<run_id>/reports/live/forecast.html` |
| drift | `--data-version <XCom> --live` | `runs/<run_id>/reports/drift/drift.json` (the decision) |
| train | `--data-version <XCom>` | MLflow (run, model version, @challenger or the run's `candidate_alias`) |
| compare | `--data-version <XCom>` | `runs/<run_id>/reports/compare/` |
| promote | `--run <run_id>` (drift decision + compare report) | MLflow aliases |

**dvc.lock**: the DAG never commits to git. Each data version is recorded in S3
(`processed/<sha256>/version.json` with its DVC md5, `processed/CURRENT.json`), in the DVC remote and
on the MLflow runs that use it (`rps.data_version`); the worker's dvc.lock is scratch. Git commits
of dvc.lock happen only where a developer runs `rps push` by hand (local development), or with
`RPS_DAG_GIT_COMMIT=true` on a single host whose checkout is meant to record them.

**A failed task** (after its retries) posts an Alertmanager-style webhook (`RpsDagTaskFailed`) to
`RPS_ALERT_SINK_URL` (`rps alerts-sink`, e.g. `http://127.0.0.1:9095/alerts`; bearer token
`RPS_ALERT_SINK_TOKEN`); unset: logged only.

- **Data interval**: the schedule is a `CronDataIntervalTimetable`, so every run has a real window
  `[data_interval_start, data_interval_end)`. Its end is the replay clock (`RPS_REPLAY_AT`) of the
  offline `replay` source; live sources ignore it.
- **check** is the quality gate: exit 3 fails the run and nothing downstream runs (no new dataset
  version, no new model version). It is never retried: bad data stays bad.
- **forecast** logs the champion's forecast from the newest hour and rewrites the live errors
  (`reports/live/live-errors.json`, served as `rps_live_error_*`) and the forecast page
  (`reports/live/forecast.html`, kept with the run's reports); without a champion it exits 0 and
  writes no page.
- **drift** is the retrain branch: `rps drift --gate` exits 0 when a retrain is due (no champion yet;
  k of the last n error windows flagged; the model older than `drift.max_model_age_days`; or the run
  parameter `retrain` = `always`) and 99 when not: then drift, train, compare and promote are
  *skipped* and the run succeeds. The decision (trigger and reason, with the values) goes to
  `reports/drift/drift.json` and an MLflow run.
- **compare** runs with `--lose-exit-code 99`: a challenger that loses is *skipped* (and so is
  `promote`), the run still succeeds. Any other non-zero exit is an error.
- **promote** records the trigger and reason of `drift.json` (plus the compare RMSEs) on the promoted
  version (`rps.promotion_trigger`, `rps.promotion_reason`) and in the promotion log.
- Every task but the gate talks to S3 or MLflow and retries with exponential backoff; `check`
  (which pulls and pushes too) never retries, so a storage outage there fails the run.

Environment, read when the file is parsed (all optional):

| variable | default | meaning |
|---|---|---|
| `RPS_PROJECT_DIR` | this file's repository | DVC project the tasks run in (its data/ and reports/ are scratch) |
| `RPS_BIN` | `bin/rps` of this file's repository | the rps launcher |
| `RPS_DAG_SCHEDULE` | `0 * * * *` (hourly) | cron expression of the data interval; `none` = manual runs only |
| `RPS_DAG_START_DATE` | `2026-01-01T00:00:00+00:00` | first data interval (UTC when no offset is given) |
| `RPS_DAG_CATCHUP` | `false` | `true` to let the scheduler backfill missed intervals |
| `RPS_DAG_TIMEOUT_MINUTES` | `60` | dagrun_timeout |
| `RPS_DAG_RETRIES` | `3` | retries of the network-facing tasks (`check` never retries) |
| `RPS_DAG_RETRY_DELAY_SECONDS` | `30` | first retry delay; doubles per try, capped at 10 minutes |
| `RPS_BACKFILL_DAYS` | `0` | default of the run parameter `backfill_days` |
| `RPS_DAG_GIT_COMMIT` | `false` | `true`: the push task commits dvc.lock to the project's git checkout |
| `RPS_DAG_QUEUES` | (none) | comma-separated Celery queues the tasks cycle through (tests: two workers) |

Run parameters (trigger conf, e.g. `{"backfill_days": 365}` or
`{"retrain": "always", "triggered_by": "alert:RpsLiveErrorHigh"}`):

| parameter | default | meaning |
|---|---|---|
| `backfill_days` | `RPS_BACKFILL_DAYS` | `fetch --backfill-days`: history for a first run (365); 0 = recent hours |
| `retrain` | `auto` | `auto`: the drift gate decides; `always`: `drift --force`, a retrain is due |
| `triggered_by` | `schedule` | who started the run (`manual`, `alert:<name>`, ...): `drift --triggered-by` |
| `candidate_alias` | `challenger` | `train --alias`, `compare --challenger`, `promote --from-alias`; CI: `pr-<n>` |

CI passes `candidate_alias: pr-<number>`, so a pull request's run never moves `@challenger`.
A forced retrain is recorded with the trigger `alert` when `triggered_by` starts with `alert:`, else
`forced`; `triggered_by` is recorded with every drift decision.

Read by the tasks at run time (passed through from the worker's environment): `RPS_SOURCE`,
`RPS_CSV_FILE` (fetch `--file`, only with `RPS_SOURCE=csv`), `RPS_S3_ENDPOINT`, `RPS_S3_BUCKET`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `MLFLOW_TRACKING_URI`, `RPS_ALERT_SINK_URL`,
`RPS_ALERT_SINK_TOKEN`.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta, timezone
from urllib.request import Request, urlopen

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

DAG_ID = "rps_pipeline"
# The repository this file lives in (airflow_dags/..): path arithmetic only, no file system access.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_DIR = os.environ.get("RPS_PROJECT_DIR") or REPO_ROOT
RPS_BIN = os.environ.get("RPS_BIN") or os.path.join(REPO_ROOT, "bin", "rps")

# Exit code of `rps compare` when the challenger loses: BashOperator marks the task skipped.
LOSE_EXIT_CODE = 99
# Exit code of `rps drift --gate` when no retrain is due: skipped, and so are train, compare, promote.
NO_RETRAIN_EXIT_CODE = 99
# Where drift writes its decision (stored under runs/<run_id>/reports/drift/ by rps push).
DRIFT_DIR = "reports/drift"
# Where `rps pull --run` puts the run's stored reports for promote (emptied first).
RUN_DIR = ".rps/run"
# The page rps forecast writes beside the live errors; none without a champion (the first run).
FORECAST_PAGE = "reports/live/forecast.html"


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r}: expected true or false")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _schedule() -> CronDataIntervalTimetable | None:
    cron = os.environ.get("RPS_DAG_SCHEDULE", "").strip() or "0 * * * *"
    if cron.lower() == "none":
        return None
    return CronDataIntervalTimetable(cron, timezone="UTC")


def _start_date() -> datetime:
    value = os.environ.get("RPS_DAG_START_DATE", "").strip() or "2026-01-01T00:00:00+00:00"
    start = datetime.fromisoformat(value.replace("Z", "+00:00"))  # Python 3.10 has no "Z"
    return start if start.tzinfo else start.replace(tzinfo=timezone.utc)


def _queues() -> list[str]:
    return [q.strip() for q in os.environ.get("RPS_DAG_QUEUES", "").split(",") if q.strip()]


# Per-run environment of every task, on top of the worker's own (append_env=True keeps PATH, HOME,
# S3 and MLflow settings). Values are Jinja templates rendered per run.
TASK_ENV = {
    "RPS_PROJECT_DIR": PROJECT_DIR,
    "RPS_BIN": RPS_BIN,
    # The replay source serves the hours up to this instant: the end of the run's data interval.
    "RPS_REPLAY_AT": "{{ data_interval_end.isoformat() }}",
    # fetch --backfill-days for this run only (run conf {"backfill_days": N}); empty = no backfill.
    "RPS_BACKFILL_DAYS": "{{ params.backfill_days or '' }}",
    # drift --force for this run only (run conf {"retrain": "always"}); empty = the gate decides.
    "RPS_FORCE_RETRAIN": "{{ 'true' if params.retrain == 'always' else '' }}",
    "RPS_TRIGGERED_BY": "{{ params.triggered_by }}",
    # train --alias / compare --challenger / promote --from-alias (run conf {"candidate_alias": "pr-42"}).
    "RPS_CANDIDATE_ALIAS": "{{ params.candidate_alias }}",
    # The key of this run's reports in S3 (runs/<run_id>/...).
    "RPS_RUN_KEY": "{{ run_id }}",
    # The dataset version featurize stored (its XCom: the sha256 of processed/<sha256>/).
    "RPS_DATA_VERSION": "{{ ti.xcom_pull(task_ids='featurize') or '' }}",
    "RPS_GIT_COMMIT_FLAG": "--git-commit" if _env_bool("RPS_DAG_GIT_COMMIT", False) else "--no-git-commit",
}

# Tasks that talk to a data source, S3/DVC or MLflow: a transient outage should not fail the run.
NETWORK_RETRIES: dict = {
    "retries": _env_int("RPS_DAG_RETRIES", 3),
    "retry_delay": timedelta(seconds=_env_int("RPS_DAG_RETRY_DELAY_SECONDS", 30)),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def notify_failure(context) -> None:
    """on_failure_callback: one Alertmanager-style webhook (the format `rps alerts-sink` and Slack
    relays take) per task that failed for good, to RPS_ALERT_SINK_URL, with the sink's bearer token
    RPS_ALERT_SINK_TOKEN (the sink answers 401 without it). Never raises: a sink that is
    down must not hide the task's own failure."""
    url = os.environ.get("RPS_ALERT_SINK_URL", "").strip()
    ti = context.get("task_instance") or context.get("ti")
    dag_id, task_id = getattr(ti, "dag_id", DAG_ID), getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
    error = str(context.get("exception") or "failed")[:500]
    now = datetime.now(timezone.utc).isoformat()
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "RpsDagTaskFailed",
            "severity": "critical",
            "dag_id": dag_id,
            "task_id": task_id,
            "run_id": run_id,
        },
        "annotations": {
            "summary": f"{dag_id}.{task_id} failed in run {run_id}",
            "description": error,
            "try_number": str(getattr(ti, "try_number", "")),
        },
        "startsAt": now,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": str(getattr(ti, "log_url", "") or ""),
    }
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "airflow",
        "groupLabels": {"alertname": "RpsDagTaskFailed"},
        "alerts": [alert],
    }
    if not url:
        logging.getLogger(__name__).warning(
            "RPS_ALERT_SINK_URL unset; not notified: %s", alert["annotations"]["summary"]
        )
        return
    try:
        headers = {"Content-Type": "application/json"}
        token = os.environ.get("RPS_ALERT_SINK_TOKEN", "").strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urlopen(request, timeout=10) as response:
            response.read()
    except Exception as exc:  # noqa: BLE001 -- the notification is best effort
        logging.getLogger(__name__).error("failure notification to %s failed: %s", url, exc)


_task_count = 0


def rps_task(task_id: str, *commands: str, **kwargs) -> BashOperator:
    """One task = `rps <command>` (and the `rps pull` / `rps push` around it) in the project
    directory. Only drift and compare may end as skipped: BashOperator skips on exit 99 by default,
    every other task turns that off. With RPS_DAG_QUEUES the tasks cycle through those Celery queues."""
    global _task_count
    kwargs.setdefault("skip_on_exit_code", None)
    queues = _queues()
    if queues:
        kwargs.setdefault("queue", queues[_task_count % len(queues)])
    _task_count += 1
    script = " && ".join(f'"$RPS_BIN" {c}' for c in commands)
    return BashOperator(
        task_id=task_id,
        bash_command=f'cd "$RPS_PROJECT_DIR" && {script}',
        env=TASK_ENV,
        append_env=True,
        **kwargs,
    )


PULL_VERSION = 'pull --data-version "$RPS_DATA_VERSION"'


with DAG(
    dag_id=DAG_ID,
    description="fetch -> check -> featurize -> profile -> push -> forecast -> drift -> train -> compare -> promote",
    doc_md=__doc__,
    schedule=_schedule(),
    start_date=_start_date(),
    catchup=_env_bool("RPS_DAG_CATCHUP", False),
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=_env_int("RPS_DAG_TIMEOUT_MINUTES", 60)),
    default_args={
        "owner": "rps",
        "retries": 0,
        "execution_timeout": timedelta(minutes=_env_int("RPS_DAG_TIMEOUT_MINUTES", 60)),
        "on_failure_callback": notify_failure,
    },
    tags=["rps", "mlops", "weather"],
    params={
        "backfill_days": Param(
            _env_int("RPS_BACKFILL_DAYS", 0),
            type="integer",
            minimum=0,
            maximum=36500,
            description="Days of history fetch also gets (fetch --backfill-days), e.g. 365 on a first run.",
        ),
        "retrain": Param(
            "auto",
            type="string",
            enum=["auto", "always"],
            description="auto: the drift gate decides whether to retrain; always: retrain anyway (drift --force).",
        ),
        "triggered_by": Param(
            "schedule",
            type="string",
            minLength=1,
            maxLength=200,
            description="Who started the run (schedule, manual, alert:<name>): recorded with the retrain decision.",
        ),
        "candidate_alias": Param(
            "challenger",
            type="string",
            pattern="^[A-Za-z0-9_-]{1,100}$",
            description="Alias the new model is registered under, compared and promoted from (CI: pr-<number>).",
        ),
    },
) as dag:
    fetch = rps_task(
        "fetch",
        'fetch ${RPS_BACKFILL_DAYS:+--backfill-days "$RPS_BACKFILL_DAYS"} ${RPS_CSV_FILE:+--file "$RPS_CSV_FILE"}',
        "push --raw-only",
        **NETWORK_RETRIES,
    )
    # The gate: bad data stays bad, never retried. Its quality reports are stored with the raw files.
    check = rps_task("check", "pull --data-version current --raw", "check", "push --raw-only", retries=0)
    # The XCom of featurize (the last stdout line) is the stored dataset's sha256: every later task's version.
    featurize = rps_task(
        "featurize",
        "pull --data-version current --raw",
        "featurize",
        "push --no-dvc --print-version",
        **NETWORK_RETRIES,
    )
    profile = rps_task(
        "profile",
        PULL_VERSION,
        "profile",
        'push --state-only --run "$RPS_RUN_KEY" --report reports/profile.html --report reports/profile.json',
        **NETWORK_RETRIES,
    )
    # DVC versioning; records processed/CURRENT.json, the base of the next run's check and featurize.
    push = rps_task("push", f"{PULL_VERSION} --raw", 'push "$RPS_GIT_COMMIT_FLAG"', **NETWORK_RETRIES)
    forecast = rps_task(
        "forecast",
        f"{PULL_VERSION} --live",
        "forecast",
        f'push --state-only --live --run "$RPS_RUN_KEY" --optional-report {FORECAST_PAGE}',
        **NETWORK_RETRIES,
    )
    # The branch: exit 0 = a retrain is due, 99 = not (drift, train, compare, promote skipped).
    drift = rps_task(
        "drift",
        f"{PULL_VERSION} --live",
        f'drift --gate --out-dir {DRIFT_DIR} --triggered-by "$RPS_TRIGGERED_BY" ${{RPS_FORCE_RETRAIN:+--force}}',
        f'push --state-only --run "$RPS_RUN_KEY" --report {DRIFT_DIR}',
        skip_on_exit_code=NO_RETRAIN_EXIT_CODE,
        **NETWORK_RETRIES,
    )
    train = rps_task("train", PULL_VERSION, 'train --alias "$RPS_CANDIDATE_ALIAS"', **NETWORK_RETRIES)
    # A losing challenger exits 99: the task is skipped, so is promote, and the run succeeds.
    compare = rps_task(
        "compare",
        PULL_VERSION,
        f'compare --lose-exit-code {LOSE_EXIT_CODE} --challenger "$RPS_CANDIDATE_ALIAS"',
        'push --state-only --run "$RPS_RUN_KEY" --report reports/compare',
        skip_on_exit_code=LOSE_EXIT_CODE,
        **NETWORK_RETRIES,
    )
    promote = rps_task(
        "promote",
        f'pull --run "$RPS_RUN_KEY" --into {RUN_DIR}',
        'promote --from-alias "$RPS_CANDIDATE_ALIAS"'
        f" --reason-file {RUN_DIR}/drift/drift.json --compare-report {RUN_DIR}/compare/report.json",
        **NETWORK_RETRIES,
    )

    fetch >> check >> featurize >> profile >> push >> forecast >> drift >> train >> compare >> promote
