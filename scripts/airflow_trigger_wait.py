"""Trigger one run of a DAG through the Airflow 3 REST API and follow it to the end.

Usage: python scripts/airflow_trigger_wait.py DAG_ID [LOGICAL_DATE]
Called by `scripts/airflow.sh trigger-and-wait` with the Airflow venv's Python (standard library
only). Settings from the environment: RPS_BACKFILL_DAYS (run conf {"backfill_days": N}: fetch
--backfill-days for this run), AIRFLOW__API__BASE_URL (http://127.0.0.1:$RPS_AIRFLOW_PORT),
RPS_AIRFLOW_WAIT_TIMEOUT (seconds, default 3600), RPS_AIRFLOW_DAG_TIMEOUT (seconds to wait for the
DAG to be parsed, default 120), RPS_AIRFLOW_PAUSE_AFTER=1 (pause the DAG again when the run has
ended, so the scheduler starts no hourly runs; default: it stays live).

1. wait until the DAG processor has parsed DAG_ID (import errors are shown, exit 1);
2. create a run with an explicit, timezone-aware logical date (default: the current UTC hour) and
   our own run id, while the DAG is still paused;
3. unpause the DAG (a run on a paused DAG stays queued);
4. poll the run and its task instances every second, printing one line per state change;
5. exit 0 when the run succeeds; exit 1 when it fails, after printing the tail of the log of each
   failed task. Exit 2 on usage errors, 1 on API errors.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import Request, urlopen

BASE = os.environ.get("AIRFLOW__API__BASE_URL", "http://127.0.0.1:8080").rstrip("/")
API = f"{BASE}/api/v2"
TERMINAL_RUN = {"success", "failed"}
LOG_TAIL_LINES = int(os.environ.get("RPS_AIRFLOW_LOG_TAIL", "40"))


def say(message: str) -> None:
    print(f"airflow: {message}", flush=True)


def call(method: str, path: str, body: dict | None = None, token: str | None = None, url: str | None = None):
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = Request(
        url or f"{API}{path}", method=method, headers=headers, data=None if body is None else json.dumps(body).encode()
    )
    # A read (GET) that times out is asked again: on a loaded machine the api-server can stall for
    # longer than 30 s, and the run it reports on goes on regardless.
    for attempt in range(4 if method == "GET" else 1):
        try:
            with urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except TimeoutError:
            if attempt == 3 or method != "GET":
                raise
            say(f"GET {path}: no answer within 30 s; asking again")
    raise AssertionError("unreachable")


def token() -> str:
    # Simple auth manager with all_admins: any user/password gets an admin token.
    return call("POST", "", {"username": "rps", "password": "rps"}, url=f"{BASE}/auth/token")["access_token"]


def parse_logical_date(text: str | None) -> datetime:
    if not text:
        return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def wait_for_dag(dag_id: str, tok: str) -> dict:
    deadline = time.monotonic() + float(os.environ.get("RPS_AIRFLOW_DAG_TIMEOUT", "120"))
    while True:
        try:
            return call("GET", f"/dags/{quote(dag_id)}", token=tok)
        except HTTPError as err:
            if err.code != 404:
                raise
        errors = call("GET", "/importErrors", token=tok).get("import_errors", [])
        if errors:
            for e in errors:
                say(f"import error in {e.get('filename')}:\n{e.get('stack_trace', '').rstrip()}")
            sys.exit(1)
        if time.monotonic() > deadline:
            say(f"DAG {dag_id} not parsed yet after {os.environ.get('RPS_AIRFLOW_DAG_TIMEOUT', '120')} s")
            sys.exit(1)
        time.sleep(1)


def log_tail(dag_id: str, run_id: str, ti: dict, tok: str) -> str:
    path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(ti['task_id'])}/logs/{ti['try_number']}"
    try:
        content = call("GET", path + "?full_content=true", token=tok).get("content", [])
    except (HTTPError, URLError) as err:
        return f"(log unavailable: {err})"
    lines = []
    for entry in content:
        if isinstance(entry, dict):
            event = str(entry.get("event", ""))
            if event.startswith("::"):
                continue
            lines.append(f"{entry.get('timestamp', '')} {event}".strip())
        else:
            lines.append(str(entry))
    return "\n".join(lines[-LOG_TAIL_LINES:])


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    dag_id = argv[1]
    explicit = (argv[2] if len(argv) == 3 else os.environ.get("RPS_LOGICAL_DATE")) or None
    logical = parse_logical_date(explicit)
    tok = token()
    dag = wait_for_dag(dag_id, tok)

    conf = {}
    if os.environ.get("RPS_BACKFILL_DAYS", "").strip():
        conf["backfill_days"] = int(os.environ["RPS_BACKFILL_DAYS"])  # fetch --backfill-days for this run
    body: dict = {"logical_date": logical.isoformat(), "conf": conf, "note": "scripts/airflow.sh trigger-and-wait"}
    if explicit is None:
        # No date asked for: run the interval the scheduler is due to run next, with its own logical
        # date and data interval. Unpausing then finds that run existing and creates no duplicate.
        due = dag.get("next_dagrun_run_after")
        if dag.get("next_dagrun_logical_date") and due and parse_logical_date(due) <= datetime.now(timezone.utc):
            logical = parse_logical_date(dag["next_dagrun_logical_date"])
            body["logical_date"] = logical.isoformat()
            body["data_interval_start"] = dag["next_dagrun_data_interval_start"]
            body["data_interval_end"] = dag["next_dagrun_data_interval_end"]
    elif dag.get("is_paused") and dag.get("next_dagrun_logical_date"):
        say(
            "note: unpausing makes the DAG live, so the scheduler also runs its due interval "
            f"(logical date {dag['next_dagrun_logical_date']}) after or before this one"
        )
    stamp = logical.strftime("%Y%m%dT%H%M%SZ")
    run_id = f"rps_manual__{stamp}__{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
    body["dag_run_id"] = run_id
    try:
        run = call("POST", f"/dags/{quote(dag_id)}/dagRuns", body, token=tok)
    except HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        existing = None
        if err.code == 409 and os.environ.get("RPS_AIRFLOW_FOLLOW_EXISTING") == "1":
            # make up again within the hour: this hour's run exists; follow it instead of failing.
            iso = quote(body["logical_date"])
            runs_of_hour = f"/dags/{quote(dag_id)}/dagRuns?logical_date_gte={iso}&logical_date_lte={iso}"
            found = call("GET", runs_of_hour, token=tok)
            existing = (found.get("dag_runs") or [None])[0]
        if existing:
            run, run_id = existing, existing["dag_run_id"]
            say(f"this interval's run {run_id} already exists ({run['state']}): following it, not triggering another")
            if run["state"] == "failed":
                clear = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/clear"
                call("POST", clear, {"dry_run": False, "only_failed": True}, token=tok)
                say(f"cleared the failed tasks of {run_id}: they run again")
        else:
            if err.code == 409:
                say(f"a run of {dag_id} with logical date {logical.isoformat()} already exists; pass another date")
            else:
                say(f"trigger failed: HTTP {err.code} {detail}")
            return 1
    else:
        say(
            f"triggered {dag_id} run {run_id}: logical date {run['logical_date']}, "
            f"data interval [{run['data_interval_start']}, {run['data_interval_end']})"
        )
    if dag.get("is_paused"):
        call("PATCH", f"/dags/{quote(dag_id)}", {"is_paused": False}, token=tok)
        say(f"{dag_id} unpaused")

    started = time.monotonic()
    timeout = float(os.environ.get("RPS_AIRFLOW_WAIT_TIMEOUT", "3600"))
    seen: dict[str, str] = {}
    run_state = None
    while True:
        run = call("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}", token=tok)
        tis = call("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances", token=tok)["task_instances"]
        elapsed = time.monotonic() - started
        for ti in sorted(tis, key=lambda t: (t.get("start_date") or "~", t["task_id"])):
            state = ti.get("state")
            if state and seen.get(ti["task_id"]) != state:
                seen[ti["task_id"]] = state
                extra = f" (try {ti['try_number']}, {ti['duration']:.1f} s)" if ti.get("duration") else ""
                say(f"[{elapsed:6.1f} s] {ti['task_id']:<10} {state}{extra}")
        if run["state"] != run_state:
            run_state = run["state"]
            say(f"[{elapsed:6.1f} s] run {run_state}")
        if run_state in TERMINAL_RUN:
            break
        if elapsed > timeout:
            say(f"gave up after {timeout:.0f} s; the run is still {run_state} (see the Airflow UI at {BASE})")
            return 1
        time.sleep(1)

    if os.environ.get("RPS_AIRFLOW_PAUSE_AFTER", "").lower() in ("1", "true", "yes"):
        call("PATCH", f"/dags/{quote(dag_id)}", {"is_paused": True}, token=tok)
        say(f"{dag_id} paused again (RPS_AIRFLOW_PAUSE_AFTER): no scheduled runs until it is unpaused")
    summary = ", ".join(f"{t}={s}" for t, s in seen.items())
    if run_state == "success":
        say(f"run {run_id} succeeded in {run.get('duration') or 0:.1f} s: {summary}")
        return 0
    say(f"run {run_id} FAILED: {summary}")
    for ti in tis:
        if ti.get("state") == "failed":
            say(f"log tail of {ti['task_id']} (try {ti['try_number']}):")
            print(log_tail(dag_id, run_id, ti, tok), flush=True)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (HTTPError, URLError) as err:
        say(f"Airflow API error at {BASE}: {err}")
        sys.exit(1)
