"""Structure of the rps_pipeline DAG: it imports, it is wired as intended, and it only calls rps
commands (and flags) that exist. No database, no services."""

from __future__ import annotations

import copy
import re
import shlex
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import DAG_ID, DAGS_FOLDER, REPO, RPS_BIN, clean_environ, run

ORDER = ["fetch", "check", "featurize", "profile", "push", "forecast", "drift", "train", "compare", "promote"]
# Every task but the gate talks to S3 (rps pull / push) or MLflow.
NETWORK_FACING = {"fetch", "featurize", "profile", "push", "forecast", "drift", "train", "compare", "promote"}
# Tasks that end as skipped on exit 99: the retrain branch and the losing challenger.
SKIPPING = {"drift": "--gate", "compare": "--lose-exit-code 99"}


def load_dagbag(extra_env: dict[str, str] | None = None):
    """A fresh DagBag of the DAG folder (DAG-level env settings are read at parse time)."""
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as mp:
        for key, value in (extra_env or {}).items():
            mp.setenv(key, value)
        return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="module")
def dagbag():
    return load_dagbag()


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags[DAG_ID]


def test_the_dag_folder_imports_without_errors_and_holds_only_rps_pipeline(dagbag):
    assert dagbag.import_errors == {}
    # tests/ is in .airflowignore: the DAG processor never imports the test modules.
    assert sorted(dagbag.dags) == [DAG_ID]
    assert all("tests" not in Path(f).parts for f in dagbag.file_last_changed)


def test_tasks_run_in_pipeline_order_with_exact_dependencies(dag):
    assert sorted(dag.task_ids) == sorted(ORDER)
    downstream = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    expected = {task: ([ORDER[i + 1]] if i + 1 < len(ORDER) else []) for i, task in enumerate(ORDER)}
    assert downstream == expected
    upstream = {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks}
    assert upstream == {task: ([ORDER[i - 1]] if i else []) for i, task in enumerate(ORDER)}
    assert [t.task_id for t in dag.topological_sort()] == ORDER


def test_the_dag_has_no_cycle(dag):
    dag.check_cycle()  # raises on a cycle
    assert dag.topological_sort()  # and a full order exists


def test_dag_settings(dag):
    assert dag.dag_id == DAG_ID
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"  # a real data interval
    assert dag.timetable.expression == "0 * * * *"
    assert dag.start_date.utcoffset() == timedelta(0)
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout == timedelta(minutes=60)
    assert {"rps", "mlops"} <= set(dag.tags)
    assert dag.doc_md and dag.doc_md.lstrip().startswith("### rps_pipeline")


def test_schedule_start_date_catchup_and_retries_follow_the_environment():
    bag = load_dagbag(
        {
            "RPS_DAG_SCHEDULE": "15 */6 * * *",
            "RPS_DAG_START_DATE": "2025-03-01T00:00:00Z",
            "RPS_DAG_CATCHUP": "true",
            "RPS_DAG_TIMEOUT_MINUTES": "90",
            "RPS_DAG_RETRIES": "1",
        }
    )
    assert bag.import_errors == {}
    dag = bag.dags[DAG_ID]
    assert dag.timetable.expression == "15 */6 * * *"
    assert dag.start_date.isoformat() == "2025-03-01T00:00:00+00:00"
    assert dag.catchup is True
    assert dag.dagrun_timeout == timedelta(minutes=90)
    assert dag.get_task("fetch").retries == 1
    assert dag.get_task("check").retries == 0

    manual = load_dagbag({"RPS_DAG_SCHEDULE": "none"}).dags[DAG_ID]
    assert manual.timetable.__class__.__name__ == "NullTimetable"


def test_network_facing_tasks_retry_with_exponential_backoff_and_the_gate_never_retries(dag):
    for task in dag.tasks:
        if task.task_id in NETWORK_FACING:
            assert task.retries == 3, task.task_id
            assert task.retry_exponential_backoff, task.task_id
            assert task.retry_delay == timedelta(seconds=30), task.task_id
            assert task.max_retry_delay == timedelta(minutes=10), task.task_id
        else:
            assert task.retries == 0, task.task_id
    assert dag.get_task("check").retries == 0


def test_only_the_drift_gate_and_compare_turn_exit_99_into_skipped(dag):
    for task_id, flag in SKIPPING.items():
        task = dag.get_task(task_id)
        assert flag in task.bash_command, task_id
        assert list(task.skip_on_exit_code) == [99], task_id
    for task in dag.tasks:
        if task.task_id not in SKIPPING:
            assert not task.skip_on_exit_code, f"{task.task_id} would turn exit 99 into skipped"
        # Default trigger rule: a skipped drift gate skips train, compare and promote, a skipped
        # compare skips promote; a failed task stops everything after it.
        assert task.trigger_rule == "all_success", task.task_id


def test_promote_records_the_decision_the_drift_gate_stored_for_this_run(dag):
    drift, compare, promote = dag.get_task("drift"), dag.get_task("compare"), dag.get_task("promote")
    out_dir = re.search(r"--out-dir (\S+)", drift.bash_command)[1]
    # drift and compare store their reports under runs/<run_id>/; promote restores them, not local files.
    assert drift.bash_command.endswith(f'push --state-only --run "$RPS_RUN_KEY" --report {out_dir}')
    assert compare.bash_command.endswith('push --state-only --run "$RPS_RUN_KEY" --report reports/compare')
    into = re.search(r'pull --run "\$RPS_RUN_KEY" --into (\S+)', promote.bash_command)[1]
    assert promote.bash_command.endswith(
        'promote --from-alias "$RPS_CANDIDATE_ALIAS"'
        f" --reason-file {into}/{out_dir.split('/')[-1]}/drift.json --compare-report {into}/compare/report.json"
    )


def test_the_forecast_page_is_kept_with_the_run_when_forecast_wrote_one(dag):
    # Without a champion (a first run) rps forecast writes no page: optional, so the task still succeeds.
    assert dag.get_task("forecast").bash_command.endswith(
        'push --state-only --live --run "$RPS_RUN_KEY" --optional-report reports/live/forecast.html'
    )


def test_tasks_share_only_object_storage_each_restores_its_inputs_by_version(dag):
    """Every task after featurize restores the dataset version featurize stored (its XCom); the
    tasks before it start from the newest versioned dataset in S3."""
    for task_id in ("check", "featurize"):
        assert '"$RPS_BIN" pull --data-version current --raw && ' in dag.get_task(task_id).bash_command
    assert dag.get_task("featurize").bash_command.endswith("push --no-dvc --print-version")
    assert dag.get_task("featurize").do_xcom_push
    for task_id in ("profile", "push", "forecast", "drift", "train", "compare"):
        assert '"$RPS_BIN" pull --data-version "$RPS_DATA_VERSION"' in dag.get_task(task_id).bash_command, task_id
    for task_id in ("fetch", "check"):
        assert dag.get_task(task_id).bash_command.endswith("push --raw-only"), task_id
    # The DAG never commits dvc.lock to git unless asked (RPS_DAG_GIT_COMMIT=true).
    assert dag.get_task("push").bash_command.endswith('push "$RPS_GIT_COMMIT_FLAG"')
    assert dag.get_task("push").env["RPS_GIT_COMMIT_FLAG"] == "--no-git-commit"
    assert (
        load_dagbag({"RPS_DAG_GIT_COMMIT": "true"}).dags[DAG_ID].get_task("push").env["RPS_GIT_COMMIT_FLAG"]
        == "--git-commit"
    )


def test_queues_spread_the_tasks_over_the_celery_workers():
    assert {t.queue for t in load_dagbag().dags[DAG_ID].tasks} == {"default"}
    dag = load_dagbag({"RPS_DAG_QUEUES": "worker-a, worker-b"}).dags[DAG_ID]
    assert [dag.get_task(t).queue for t in ORDER] == ["worker-a", "worker-b"] * 5


def test_every_task_notifies_the_alert_sink_when_it_fails(dag):
    for task in dag.tasks:
        callbacks = (
            task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
        )
        assert [c.__name__ for c in callbacks] == ["notify_failure"], task.task_id


def test_the_failure_notification_carries_the_sink_bearer_token(dag, monkeypatch):
    """rps alerts-sink answers 401 without RPS_ALERT_SINK_TOKEN: the callback must send it."""
    import http.server
    import threading

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        callback = dag.get_task("check").on_failure_callback
        callback = callback[0] if isinstance(callback, list) else callback
        monkeypatch.setenv("RPS_ALERT_SINK_URL", f"http://127.0.0.1:{server.server_address[1]}/alerts")
        monkeypatch.setenv("RPS_ALERT_SINK_TOKEN", "dag-test-token-0123456789")
        callback({"run_id": "r1", "exception": "boom"})
        monkeypatch.delenv("RPS_ALERT_SINK_TOKEN")
        callback({"run_id": "r2", "exception": "boom"})
    finally:
        server.shutdown()
    assert seen == ["Bearer dag-test-token-0123456789", None]


def test_every_task_is_a_thin_rps_call_with_the_run_environment(dag):
    for task in dag.tasks:
        assert task.bash_command.startswith('cd "$RPS_PROJECT_DIR" && "$RPS_BIN" '), task.task_id
        assert task.append_env is True, task.task_id
        assert task.env["RPS_PROJECT_DIR"] == str(REPO)
        assert task.env["RPS_BIN"] == str(RPS_BIN)
        assert task.env["RPS_REPLAY_AT"] == "{{ data_interval_end.isoformat() }}"
        assert task.env["RPS_BACKFILL_DAYS"] == "{{ params.backfill_days or '' }}"
        assert task.env["RPS_FORCE_RETRAIN"] == "{{ 'true' if params.retrain == 'always' else '' }}"
        assert task.env["RPS_TRIGGERED_BY"] == "{{ params.triggered_by }}"
        assert task.env["RPS_CANDIDATE_ALIAS"] == "{{ params.candidate_alias }}"
        assert task.env["RPS_RUN_KEY"] == "{{ run_id }}"
        assert task.env["RPS_DATA_VERSION"] == "{{ ti.xcom_pull(task_ids='featurize') or '' }}"


def test_backfill_days_is_a_validated_run_parameter_defaulting_to_the_environment(dag):
    assert dag.params["backfill_days"] == 0
    assert load_dagbag({"RPS_BACKFILL_DAYS": "365"}).dags[DAG_ID].params["backfill_days"] == 365
    spec = dag.params.get_param("backfill_days").schema
    assert spec["type"] == "integer" and spec["minimum"] == 0


def test_retrain_and_triggered_by_are_validated_run_parameters(dag):
    from airflow.sdk.definitions.param import ParamValidationError

    assert dag.params["retrain"] == "auto"
    assert dag.params["triggered_by"] == "schedule"
    assert dag.params.get_param("retrain").schema["enum"] == ["auto", "always"]
    # What a trigger's conf goes through (each value against its Param): known values pass, others are refused.
    params = copy.deepcopy(dag.params)
    conf = {"retrain": "always", "triggered_by": "alert:RpsLiveErrorHigh"}
    params.update(conf)
    assert params.validate() == {"backfill_days": 0, "candidate_alias": "challenger"} | conf
    for key, bad in (("retrain", "sometimes"), ("triggered_by", "")):
        with pytest.raises(ParamValidationError, match=f"Invalid input for param {key}"):
            copy.deepcopy(dag.params)[key] = bad


def test_the_candidate_alias_is_what_train_registers_compare_scores_and_promote_takes(dag):
    """CI's run conf {"candidate_alias": "pr-<n>"}: a pull request's run never moves @challenger."""
    from airflow.sdk.definitions.param import ParamValidationError

    assert dag.params["candidate_alias"] == "challenger"
    assert dag.get_task("train").bash_command.endswith('train --alias "$RPS_CANDIDATE_ALIAS"')
    compare = dag.get_task("compare").bash_command
    assert '"$RPS_BIN" compare --lose-exit-code 99 --challenger "$RPS_CANDIDATE_ALIAS"' in compare
    assert '"$RPS_BIN" promote --from-alias "$RPS_CANDIDATE_ALIAS"' in dag.get_task("promote").bash_command
    copy.deepcopy(dag.params)["candidate_alias"] = "pr-42"
    for bad in ("", "pr 42", "pr-42; rm -rf /"):
        with pytest.raises(ParamValidationError, match="Invalid input for param candidate_alias"):
            copy.deepcopy(dag.params)["candidate_alias"] = bad


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"retrain": "auto", "triggered_by": "schedule"}, "--triggered-by schedule"),
        ({"retrain": "always", "triggered_by": "manual"}, "--triggered-by manual --force"),
        (
            {"retrain": "always", "triggered_by": "alert:Rps Live; $(touch pwned)"},
            "--triggered-by 'alert:Rps Live; $(touch pwned)' --force",
        ),
    ],
)
def test_the_drift_gate_gets_force_and_triggered_by_from_the_run_parameters(dag, tmp_path, params, expected):
    # The task's env templates rendered as Airflow would (Jinja over the params), then the real
    # bash_command with an rps stand-in that prints its arguments.
    import jinja2

    task = dag.get_task("drift")
    env = {k: jinja2.Template(task.env[k]).render(params=params) for k in ("RPS_FORCE_RETRAIN", "RPS_TRIGGERED_BY")}
    fake = tmp_path / "rps"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"\n')
    fake.chmod(0o755)
    env |= {"RPS_PROJECT_DIR": str(tmp_path), "RPS_BIN": str(fake)}
    out = subprocess.run(["bash", "-c", task.bash_command], env=clean_environ() | env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    drift = "".join(f"{w}|" for w in shlex.split(f"drift --gate --out-dir reports/drift {expected}"))
    assert f"|{drift}push|" in out.stdout, out.stdout
    assert not (tmp_path / "pwned").exists()


def rps_invocations(bash_command: str) -> list[tuple[str, list[str]]]:
    """Each rps call of a task (pull, the command, push): its subcommand and the flags it passes."""
    calls = []
    for part in bash_command.split('"$RPS_BIN"')[1:]:
        words = shlex.split(part.split(" && ")[0].replace("$", "\\$"))
        calls.append((words[0], sorted({w.split("=")[0] for w in words[1:] if w.startswith("--")})))
    return calls


@pytest.mark.parametrize("task_id", ORDER)
def test_every_task_calls_existing_rps_commands_with_existing_flags(dag, task_id):
    calls = rps_invocations(dag.get_task(task_id).bash_command)
    assert task_id in [command for command, _ in calls]
    assert {command for command, _ in calls} <= {task_id, "pull", "push"}
    for command, flags in calls:
        if command == "drift":  # passed only with retrain=always: ${RPS_FORCE_RETRAIN:+--force}
            flags = sorted({*flags, "--force"})
        # The CLI itself answers, as it would in the task (bin/rps needs the built dist/).
        proc = run([RPS_BIN, command, "--help"], env=clean_environ(), check=False, timeout=120)
        assert proc.returncode == 0, f"bin/rps {command} --help exited {proc.returncode}: {proc.stderr[-2000:]}"
        for flag in flags:
            assert re.search(rf"(^|\s){re.escape(flag)}[=\s]", proc.stdout), f"rps {command} has no {flag} flag"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "fetch push --raw-only"),
        ({"RPS_BACKFILL_DAYS": "365"}, "fetch --backfill-days 365 push --raw-only"),
        ({"RPS_CSV_FILE": "/tmp/my obs.csv"}, "fetch --file /tmp/my obs.csv push --raw-only"),
    ],
)
def test_fetch_passes_backfill_and_csv_file_through_only_when_set(dag, tmp_path, env, expected):
    # The real bash_command with an rps stand-in that prints its arguments.
    fake = tmp_path / "rps"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"\n')
    fake.chmod(0o755)
    base = clean_environ() | {"RPS_PROJECT_DIR": str(tmp_path), "RPS_BIN": str(fake)}
    out = subprocess.run(
        ["bash", "-c", dag.get_task("fetch").bash_command], env=base | env, capture_output=True, text=True, check=True
    ).stdout
    assert out == "".join(f"{w}|" for w in shlex.split(expected.replace("my obs", "my\\ obs")))


def test_ruff_airflow3_rules_pass():
    ruff = shutil.which("ruff") or str(Path(__import__("sys").prefix) / "bin" / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed in the Airflow venv (scripts/requirements-airflow-test.txt)")
    proc = run([ruff, "check", "--select", "AIR3", "--preview", str(DAGS_FOLDER)], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # And the folder's own ruff.toml (pyflakes, imports, bugbear, all AIR rules), also on the
    # trigger helper of scripts/airflow.sh, which runs in the same venv.
    trigger = REPO / "scripts" / "airflow_trigger_wait.py"
    proc = run([ruff, "check", "--config", str(DAGS_FOLDER / "ruff.toml"), str(DAGS_FOLDER), str(trigger)], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
