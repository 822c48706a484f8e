"""Remote mode (docs/cicd-delivery.md, "Remote mode"): the workflow jobs against a shared registry and DVC
remote that are not on the runner, with a production promotion interleaved with a pull request's
model gate.

The shared remote (what DagsHub or S3 + a hosted MLflow would be): a second MinIO + MLflow started
by this test with scripts/stack.sh in a state dir of its own, on free ports, with credentials of its
own and bucket names of its own. Its MLflow is reached only through HTTP basic auth, as DagsHub's
(BasicAuthProxy: a request without the repository secrets' user and password gets 401). The jobs see it only through the workflow's documented secrets and
variables (MLFLOW_TRACKING_URI/USERNAME/PASSWORD, RPS_DVC_*); their own stack (MinIO, MLflow,
Airflow, started by the job steps, ci/tests/lab.py) is the runner's.

In file order (about 5 minutes on 2 shared cores: the remote and production about 80 s, the gate
about 105 s, deliver about 90 s):
1. production, on the remote: trains a stump (v1) and promotes it (@champion), trains the base
   branch's forest (v2, @challenger) and compares it;
2. ci-test `test-model-gate` of pull request #11 in remote mode, every step; as soon as its DAG run
   starts, production promotes v2 (rps promote, the gate) on the remote, concurrently;
3. the gate registered only @pr-11 (v3), compared it with production's champion of that moment (v2),
   and pushed its data version to the remote DVC remote, where the bytes match the run's
   rps.data_version;
4. `test-promote-candidate` on #11's merge, while production has rolled back to v1: refused, the
   report is stale (it compared against v2); production restores v2, the job is re-run: @champion
   = v3 on the remote;
5. cd-master `deliver` in remote mode: the image is labelled model.version 3;
6. none of it touched the remote's processes or put its data on the runner.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

import pytest
from conftest import ROOT, free_port
from gha import clean_environ
from lab import BASE, MASTER, MODEL_NAME, STUMP, WIN, Registry, failed_steps, image_config, open_lab, pr_github

PR = 11
# The remote's own names and credentials: none of them is a default of the runner's stack.
REMOTE_BUCKET, REMOTE_MLFLOW_BUCKET = "rps-shared", "rps-shared-mlflow"
REMOTE_KEY = "shared-remote-key"
REMOTE_SECRET = f"shared-{secrets.token_hex(16)}"
REMOTE_MLFLOW_USER, REMOTE_MLFLOW_TOKEN = "rps-ci", f"token-{secrets.token_hex(16)}"
RUNNER_BUCKET = "rps-data"  # scripts/lib/common.sh's default, the jobs' own MinIO
SERVICES = ("minio", "mlflow")


class BasicAuthProxy:
    """The remote MLflow as DagsHub serves it: HTTP basic auth in front. A request whose
    Authorization is not the user and token gets 401 (recorded in `refused`); the others are
    forwarded to the MLflow behind it, and its answer relayed."""

    HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}

    def __init__(self, upstream: str, user: str, token: str):
        self.upstream = urlsplit(upstream)
        self.expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.refused: list[str] = []
        self.forwarded = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def forward(self) -> None:
                body = self.body()
                if self.headers.get("Authorization") != proxy.expected:
                    proxy.refused.append(f"{self.command} {self.path}")
                    self.answer(401, [("WWW-Authenticate", 'Basic realm="rps-shared"'), ("Content-Type", "application/json")],
                                b'{"error_code": "UNAUTHENTICATED", "message": "credentials required"}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in proxy.HOP_BY_HOP | {"host", "content-length", "authorization"}}
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=300)
                try:
                    conn.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT", "PATCH") else None, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                finally:
                    conn.close()
                proxy.forwarded += 1
                self.answer(response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in proxy.HOP_BY_HOP | {"content-length"}], data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SharedRemote:
    """A second MinIO + MLflow, the project's own scripts in another state dir (never a job's)."""

    def __init__(self, root: Path):
        self.state = root / "shared-remote"
        ports = {name: free_port() for name in ("minio", "console", "mlflow")}
        self.endpoint = f"http://127.0.0.1:{ports['minio']}"
        # The test reads the registry behind the proxy; the jobs and production only through it.
        self.registry = Registry(f"http://127.0.0.1:{ports['mlflow']}")
        self.proxy = BasicAuthProxy(self.registry.uri, REMOTE_MLFLOW_USER, REMOTE_MLFLOW_TOKEN)
        self.uri = self.proxy.uri
        self.started: dict[str, str] = {}
        self.env = clean_environ() | {
            "RPS_ENV_FILE": "/dev/null",
            "RPS_STATE_DIR": str(self.state),
            "RPS_MINIO_PORT": str(ports["minio"]),
            "RPS_MINIO_CONSOLE_PORT": str(ports["console"]),
            "RPS_MLFLOW_PORT": str(ports["mlflow"]),
            "RPS_S3_BUCKET": REMOTE_BUCKET,
            "RPS_MLFLOW_BUCKET": REMOTE_MLFLOW_BUCKET,
            "AWS_ACCESS_KEY_ID": REMOTE_KEY,
            "AWS_SECRET_ACCESS_KEY": REMOTE_SECRET,
        }

    def stack(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ROOT / "scripts/stack.sh"), action], env=self.env, capture_output=True, text=True, timeout=300, check=False)

    def pids(self) -> dict[str, str]:
        """Each service's "<pid> <start time>": another start would change it."""
        return {name: (self.state / "run" / f"{name}.pid").read_text().strip() for name in SERVICES}

    def secrets(self) -> dict[str, str]:
        """The repository secrets of remote mode (docs/cicd-delivery.md)."""
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_TRACKING_USERNAME": REMOTE_MLFLOW_USER, "MLFLOW_TRACKING_PASSWORD": REMOTE_MLFLOW_TOKEN,
                "RPS_DVC_ACCESS_KEY_ID": REMOTE_KEY, "RPS_DVC_SECRET_ACCESS_KEY": REMOTE_SECRET}

    def vars(self) -> dict[str, str]:
        """The repository variables of remote mode (docs/cicd-delivery.md)."""
        return {"RPS_DVC_S3_ENDPOINT": self.endpoint, "RPS_DVC_S3_BUCKET": REMOTE_BUCKET}

    def dvc_object_md5(self, md5: str) -> str | None:
        """md5 of the bytes the remote's DVC cache holds for `md5` (DVC 3 layout), None when absent,
        read through the S3 API with the remote's credentials (boto3 of the project venv)."""
        script = (
            "import boto3, hashlib, sys\n"
            "s3 = boto3.client('s3', endpoint_url=sys.argv[1])\n"
            "try:\n"
            "    body = s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].read()\n"
            "except s3.exceptions.NoSuchKey:\n"
            "    sys.exit(3)\n"
            "print(hashlib.md5(body).hexdigest())\n"
        )
        key = f"dvc/files/md5/{md5[:2]}/{md5[2:]}"
        result = subprocess.run([str(ROOT / ".rps/venv/bin/python"), "-c", script, self.endpoint, REMOTE_BUCKET, key],
                                env=self.env, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode == 3:
            return None
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


class Production:
    """Production's own use of the remote registry (the scheduled DAG or a person with the CLI):
    this working tree's rps in a checkout of the base branch, talking to the remote only."""

    def __init__(self, workspace: Path, remote: SharedRemote, root: Path):
        self.workspace = workspace
        self.env = clean_environ() | {
            "RPS_ENV_FILE": "/dev/null", "RPS_STATE_DIR": str(root / "production-state"), "MLFLOW_TRACKING_URI": remote.uri,
            "MLFLOW_TRACKING_USERNAME": REMOTE_MLFLOW_USER, "MLFLOW_TRACKING_PASSWORD": REMOTE_MLFLOW_TOKEN,
            "RPS_SOURCE": "replay", "RPS_REPLAY_AT": "2026-06-01T00:00:00+00:00",
        }

    def rps(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(ROOT / "bin/rps"), *args], cwd=self.workspace, env=self.env, capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, f"rps {' '.join(args)}: {result.stderr[-3000:]}"
        return result


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with open_lab(tmp_path_factory.mktemp("remote-mode")) as lab:
        yield lab


@pytest.fixture(scope="module")
def remote(lab):
    remote = SharedRemote(lab.root)
    up = remote.stack("up")
    assert up.returncode == 0, up.stderr[-3000:]
    remote.started = remote.pids()
    try:
        yield remote
    finally:
        remote.proxy.stop()
        remote.stack("down")


def test_the_remote_registry_refuses_a_request_without_the_secrets_credentials(remote):
    search = f"{remote.uri}/api/2.0/mlflow/registered-models/search"
    for headers in ({}, {"Authorization": "Basic " + base64.b64encode(f"{REMOTE_MLFLOW_USER}:wrong".encode()).decode()}):
        with pytest.raises(HTTPError) as refused:
            urlopen(Request(search, headers=headers), timeout=10)
        assert refused.value.code == 401
    auth = {"Authorization": "Basic " + base64.b64encode(f"{REMOTE_MLFLOW_USER}:{REMOTE_MLFLOW_TOKEN}".encode()).decode()}
    with urlopen(Request(search, headers=auth), timeout=10) as r:
        assert r.status == 200
    remote.proxy.refused.clear()


@pytest.fixture(scope="module")
def production(lab, remote):
    prod = Production(lab.checkout("production", BASE), remote, lab.root)
    prod.rps("fetch", "--backfill-days", "365")
    prod.rps("check")
    prod.rps("featurize")
    prod.rps("train", "--n-estimators", str(STUMP["n_estimators"]), "--max-depth", str(STUMP["max_depth"]))
    prod.rps("promote", "--reason", "production's first model")
    prod.rps("train")  # the base branch's params.yaml: BASE_FOREST
    prod.rps("compare", "--json")
    assert remote.registry.aliases() == {"champion": "1", "challenger": "2"}
    return prod


def dag_running(state: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{state / 'airflow' / 'airflow.db'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("select 1 from dag_run where dag_id = 'rps_pipeline' and state = 'running'").fetchone() is not None
    except sqlite3.Error:
        return False  # no database or no table yet


@pytest.fixture(scope="module")
def gate(lab, remote, production):
    workspace = lab.checkout("pr", WIN)
    job = lab.job("ci-test.yml", "model-gate", workspace, pr_github(PR, head_ref=WIN),
                  {"GITHUB_TOKEN": "ghs_fake_token_for_the_cml_shim", **remote.secrets()}, vars=remote.vars(), shared_registry=True)
    promotion: dict = {}
    done = threading.Event()

    def promote_during_the_dag_run() -> None:
        # Production's promotion of its @challenger, once the PR's DAG run is under way.
        while not done.is_set() and not dag_running(lab.state):
            time.sleep(0.5)
        if done.is_set():
            return
        promotion["candidate_registered_before"] = f"pr-{PR}" in remote.registry.aliases()
        promotion["result"] = subprocess.run([str(ROOT / "bin/rps"), "promote", "--reason", "production: the nightly retrain won", "--json"],
                                             cwd=production.workspace, env=production.env, capture_output=True, text=True, timeout=300, check=False)
        promotion["dag_still_running"] = dag_running(lab.state)
        promotion["aliases"] = remote.registry.aliases()
        promotion["tags"] = {v: version_tags(remote, v) for v in ("1", "2")}

    thread = threading.Thread(target=promote_during_the_dag_run)
    thread.start()
    try:
        results = job.run()
    finally:
        done.set()
        thread.join(timeout=300)
    return job, results, promotion


def version_tags(remote: SharedRemote, version: str) -> dict[str, str]:
    mv = remote.registry.get("model-versions/get", name=MODEL_NAME, version=version)["model_version"]
    return {t["key"]: t["value"] for t in mv.get("tags", [])}


def test_the_model_gate_runs_green_in_remote_mode_against_the_shared_registry(gate, remote):
    job, results, _ = gate
    assert [r.outcome for r in results] == ["success"] * len(job.steps()), failed_steps(results)
    assert (job.env["MLFLOW_TRACKING_URI"], job.env["RPS_SHARED_REGISTRY"]) == (remote.uri, "true")
    assert (job.env["RPS_DVC_S3_ENDPOINT"], job.env["RPS_DVC_S3_BUCKET"]) == (remote.endpoint, REMOTE_BUCKET)
    champion_step = next(r for r in results if r.run == "make ci-champion")
    assert "nothing to train here" in champion_step.output
    dag = next(r for r in results if r.run == "make dag-test-ci")
    assert f"remote storage (default): the shared s3://{REMOTE_BUCKET}/dvc via {remote.endpoint}" in dag.output
    assert "::warning title=Data version not shared" not in dag.output


def test_a_production_promotion_during_the_gate_went_through_and_the_gate_touched_only_its_candidate(gate, remote, lab):
    job, _, promotion = gate
    assert promotion, "the DAG run was never seen running"
    assert promotion["result"].returncode == 0, promotion["result"].stderr[-2000:]
    # It happened during the PR's DAG run, before the candidate existed.
    assert promotion["dag_still_running"] and not promotion["candidate_registered_before"]
    production_aliases = {"champion": "2", "challenger": "2", "previous-champion": "1"}
    assert promotion["aliases"] == production_aliases
    # After the gate: production's aliases and versions exactly as production left them; the PR
    # wrote its candidate @pr-11 (v3) and nothing else.
    assert remote.registry.aliases() == {**production_aliases, f"pr-{PR}": "3"}
    assert {v: version_tags(remote, v) for v in ("1", "2")} == promotion["tags"]
    assert remote.registry.run_of("3")["tags"]["rps.code_version"] == lab.shas[WIN]


def test_the_gate_report_names_the_champion_it_compared_against(gate):
    job, results, _ = gate
    report = json.loads((job.workspace / "reports/compare/report.json").read_text())
    assert (report["decision"], report["passed"]) == ("challenger_wins", True)
    assert (report["challenger"]["version"], report["challenger"]["alias"], report["champion"]["version"]) == ("3", f"pr-{PR}", "2")
    assert "v2" in (job.workspace / "reports/compare/report.md").read_text()
    assert "compare-gate: passed: challenger_wins: challenger v3 vs champion v2" in results[-1].output


def test_the_candidate_data_version_is_in_the_shared_dvc_remote_and_nothing_of_the_remote_on_the_runner(gate, remote, lab):
    job, _, _ = gate
    data_version = remote.registry.run_of("3")["tags"]["rps.data_version"]
    assert len(data_version) == 32 and remote.registry.run_of("3")["tags"]["rps.data_versioned_by_dvc"] == "true"
    # The lineage resolves on the remote: the bytes DVC pushed there are that data version.
    assert remote.dvc_object_md5(data_version) == data_version
    # The runner's own MinIO got the task state (raw/, processed/), no DVC data, no bucket of the
    # remote; the runner's MLflow registered nothing.
    runner_minio = lab.state / "minio"
    assert (runner_minio / RUNNER_BUCKET / "processed").is_dir()
    assert not (runner_minio / RUNNER_BUCKET / "dvc").exists() and not (runner_minio / REMOTE_BUCKET).exists()
    assert lab.registry.get("registered-models/search").get("registered_models", []) == []
    # The job knew the remote only through its secrets and variables.
    for value, keys in ((REMOTE_SECRET, {"RPS_DVC_SECRET_ACCESS_KEY"}), (REMOTE_MLFLOW_TOKEN, {"MLFLOW_TRACKING_PASSWORD"}), (remote.uri, {"MLFLOW_TRACKING_URI"}),
                        (remote.endpoint, {"RPS_DVC_S3_ENDPOINT"}), (str(remote.state), set())):
        assert {k for k, v in job.env.items() if value in v} == keys, value


@pytest.fixture(scope="module")
def merged(gate, lab, remote, production):
    """#11 merged while production had rolled back (the gate's report is then stale), then again
    after production restored its champion."""
    workspace = gate[0].workspace

    def promote_candidate():
        job = lab.job("ci-test.yml", "promote-candidate", workspace, pr_github(PR, "closed", **{"event.pull_request.merged": True}),
                      remote.secrets(), vars=remote.vars(), shared_registry=True)
        return job, job.run(start=job.index_of_run("make ci-promote"))

    production.rps("promote", "--rollback", "--reason", "production: v2 misbehaves in the field")
    rolled_back = remote.registry.aliases()
    _, refused = promote_candidate()
    after_refusal = remote.registry.aliases()
    production.rps("promote", "--rollback", "--reason", "production: v2 was fine after all")
    job, results = promote_candidate()
    return job, results, {"rolled_back": rolled_back, "refused": refused, "after_refusal": after_refusal}


def test_a_merge_after_production_moved_the_champion_is_refused_as_stale(merged):
    _, _, before = merged
    assert before["rolled_back"] == {"champion": "1", "challenger": "1", "previous-champion": "2", f"pr-{PR}": "3"}
    [step] = before["refused"]
    assert step.outcome == "failure"
    assert f"::error title=Candidate @pr-{PR} not promoted::rps promote exited 10: refusing to promote" in step.output
    assert "its champion was v2, the current one is v1" in step.output
    assert before["after_refusal"] == before["rolled_back"]


def test_the_merge_promotes_exactly_the_gated_candidate_once_its_report_is_current_again(merged, gate, remote):
    job, results, _ = merged
    assert [r.outcome for r in results] == ["success"], failed_steps(results)
    promote = json.loads((job.workspace / "reports/promote/promote.json").read_text())
    assert (promote["action"], promote["champion"], promote["previousChampion"]) == ("promoted", "3", "2")
    aliases = remote.registry.aliases()
    assert {k: aliases[k] for k in ("champion", "previous-champion", "challenger")} == {"champion": "3", "previous-champion": "2", "challenger": "3"}


@pytest.fixture(scope="module")
def deliver(merged, lab, remote):
    workspace = lab.checkout("master", MASTER)
    secrets_ = {"DOCKERHUB_USERNAME": "rps-ci-test", "DOCKERHUB_TOKEN": "fake-token", **remote.secrets()}
    job = lab.job("cd-master.yml", "deliver", workspace, {"event_name": "push", "ref": "refs/heads/master"}, secrets_,
                  vars=remote.vars(), shared_registry=True, **{"http://127.0.0.1:8000": f"http://127.0.0.1:{lab.ports['serve']}"})
    results = job.run()
    return job, results


def test_deliver_in_remote_mode_ships_the_version_that_passed_the_gate_and_was_promoted(deliver, gate, remote, lab):
    job, results = deliver
    assert all(r.outcome == "success" for r in results[:-1]) and results[-1].outcome == "skipped", failed_steps(results)
    assert "nothing to train here" in next(r for r in results if r.run == "make ci-champion").output
    gated = json.loads((gate[0].workspace / "reports/compare/report.json").read_text())["challenger"]["version"]
    v = "v" + json.loads((ROOT / "package.json").read_text())["version"]
    labels = image_config(f"{lab.image}:{v}")["Labels"]
    assert labels["model.version"] == gated == remote.registry.aliases()["champion"] == "3"
    assert labels["model.data_version"] == remote.registry.run_of("3")["tags"]["rps.data_version"]
    with urlopen(f"http://127.0.0.1:{lab.ports['serve']}/ready", timeout=10) as r:
        assert json.loads(r.read())["model"]["version"] == "3"


def test_no_job_step_started_or_restarted_the_shared_remote(deliver, remote):
    assert remote.pids() == remote.started
    assert remote.stack("status").returncode == 0


def test_every_request_of_the_jobs_and_production_to_the_remote_registry_carried_the_secrets_credentials(deliver, remote):
    assert remote.proxy.forwarded > 0
    assert remote.proxy.refused == []
