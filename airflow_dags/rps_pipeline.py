"""
### rps_pipeline

The rps MLOps pipeline, one `rps` command per task:

`fetch` -> `check` -> `featurize` -> `profile` -> `push` -> `forecast` -> `drift` -> `train` -> `compare` -> `promote`

This file only wires commands; every decision lives in the `rps` CLI (`bin/rps <cmd> --help`).
Each task runs `cd "$RPS_PROJECT_DIR" && "$RPS_BIN" <cmd>` in bash, so a task does exactly what a
developer or CI does by hand in the project directory.

- **Data interval**: the schedule is a `CronDataIntervalTimetable`, so every run has a real window
  `[data_interval_start, data_interval_end)`. Its end is the replay clock (`RPS_REPLAY_AT`) of the
  offline `replay` source; live sources ignore it.
- **check** is the quality gate: exit 3 fails the run and nothing downstream runs (no new dataset
  version, no new model version). It is never retried: bad data stays bad.
- **forecast** logs the champion's forecast from the newest hour and rewrites the live errors
  (`reports/live/live-errors.json`, served as `rps_live_error_*`); without a champion it exits 0.
- **drift** is the retrain branch: `rps drift --gate` exits 0 when a retrain is due (no champion yet;
  k of the last n error windows flagged; the model older than `drift.max_model_age_days`; or the run
  parameter `retrain` = `always`) and 99 when not: then drift, train, compare and promote are
  *skipped* and the run succeeds. The decision (trigger and reason, with the values) goes to
  `reports/drift/drift.json` and an MLflow run.
- **compare** runs with `--lose-exit-code 99`: a challenger that loses is *skipped* (and so is
  `promote`), the run still succeeds. Any other non-zero exit is an error.
- **promote** records the trigger and reason of `drift.json` (plus the compare RMSEs) on the promoted
  version (`rps.promotion_trigger`, `rps.promotion_reason`) and in the promotion log.
- Network-facing tasks (fetch, push, forecast, drift, train, compare, promote) retry with exponential
  backoff.

Environment, read when the file is parsed (all optional):

| variable | default | meaning |
|---|---|---|
| `RPS_PROJECT_DIR` | this file's repository | DVC/git project the tasks run in (`rps push` commits `dvc.lock`) |
| `RPS_BIN` | `bin/rps` of this file's repository | the rps launcher |
| `RPS_DAG_SCHEDULE` | `0 * * * *` (hourly) | cron expression of the data interval; `none` = manual runs only |
| `RPS_DAG_START_DATE` | `2026-01-01T00:00:00+00:00` | first data interval (UTC when no offset is given) |
| `RPS_DAG_CATCHUP` | `false` | `true` to let the scheduler backfill missed intervals |
| `RPS_DAG_TIMEOUT_MINUTES` | `60` | dagrun_timeout |
| `RPS_DAG_RETRIES` | `3` | retries of the network-facing tasks (`check` never retries) |
| `RPS_DAG_RETRY_DELAY_SECONDS` | `30` | first retry delay; doubles per try, capped at 10 minutes |
| `RPS_BACKFILL_DAYS` | `0` | default of the run parameter `backfill_days` |

Run parameters (trigger conf, e.g. `{"backfill_days": 365}` or
`{"retrain": "always", "triggered_by": "alert:RpsLiveErrorHigh"}`):

| parameter | default | meaning |
|---|---|---|
| `backfill_days` | `RPS_BACKFILL_DAYS` | `fetch --backfill-days`: history for a first run (365); 0 = recent hours |
| `retrain` | `auto` | `auto`: the drift gate decides; `always`: `drift --force`, a retrain is due |
| `triggered_by` | `schedule` | who started the run (`manual`, `alert:<name>`, ...): `drift --triggered-by` |

A forced retrain is recorded with the trigger `alert` when `triggered_by` starts with `alert:`, else
`forced`; `triggered_by` is recorded with every drift decision.

Read by the tasks at run time (passed through from the worker's environment): `RPS_SOURCE`,
`RPS_CSV_FILE` (fetch `--file`, only with `RPS_SOURCE=csv`), `RPS_S3_ENDPOINT`, `RPS_S3_BUCKET`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `MLFLOW_TRACKING_URI`.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

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
# Where drift writes its decision and promote reads it (relative to the project directory).
DRIFT_DIR = "reports/drift"


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
}

# Tasks that talk to a data source, S3/DVC or MLflow: a transient outage should not fail the run.
NETWORK_RETRIES: dict = {
    "retries": _env_int("RPS_DAG_RETRIES", 3),
    "retry_delay": timedelta(seconds=_env_int("RPS_DAG_RETRY_DELAY_SECONDS", 30)),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}


def rps_task(task_id: str, command: str, **kwargs) -> BashOperator:
    """One task = `rps <command>` in the project directory. Only drift and compare may end as
    skipped: BashOperator skips on exit 99 by default, every other task turns that off."""
    kwargs.setdefault("skip_on_exit_code", None)
    return BashOperator(
        task_id=task_id,
        bash_command=f'cd "$RPS_PROJECT_DIR" && "$RPS_BIN" {command}',
        env=TASK_ENV,
        append_env=True,
        **kwargs,
    )


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
    },
) as dag:
    fetch = rps_task(
        "fetch",
        'fetch ${RPS_BACKFILL_DAYS:+--backfill-days "$RPS_BACKFILL_DAYS"} ${RPS_CSV_FILE:+--file "$RPS_CSV_FILE"}',
        **NETWORK_RETRIES,
    )
    check = rps_task("check", "check", retries=0)  # the gate: bad data stays bad, never retried
    featurize = rps_task("featurize", "featurize")
    profile = rps_task("profile", "profile")
    push = rps_task("push", "push", **NETWORK_RETRIES)
    forecast = rps_task("forecast", "forecast", **NETWORK_RETRIES)
    # The branch: exit 0 = a retrain is due, 99 = not (drift, train, compare, promote skipped).
    drift = rps_task(
        "drift",
        f'drift --gate --out-dir {DRIFT_DIR} --triggered-by "$RPS_TRIGGERED_BY" ${{RPS_FORCE_RETRAIN:+--force}}',
        skip_on_exit_code=NO_RETRAIN_EXIT_CODE,
        **NETWORK_RETRIES,
    )
    train = rps_task("train", "train", **NETWORK_RETRIES)
    # A losing challenger exits 99: the task is skipped, so is promote, and the run succeeds.
    compare = rps_task(
        "compare",
        f"compare --lose-exit-code {LOSE_EXIT_CODE}",
        skip_on_exit_code=LOSE_EXIT_CODE,
        **NETWORK_RETRIES,
    )
    promote = rps_task("promote", f"promote --reason-file {DRIFT_DIR}/drift.json", **NETWORK_RETRIES)

    fetch >> check >> featurize >> profile >> push >> forecast >> drift >> train >> compare >> promote
