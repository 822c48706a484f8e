"""Remote mode (docs/cicd-delivery.md, "Remote mode"; docs/credentials.md): the workflow jobs against a
shared registry and DVC remote that are not on the runner, with a production promotion interleaved
with a pull request's model gate. The pull request's gate holds only a read-only user of the
registry (the proxy refuses that user anything but reads) and writes nothing there; the promotion
after the merge, the only job with the write secrets, trains and compares the merged code itself.

The shared remote (what DagsHub or S3 + a hosted MLflow would be): a second MinIO + MLflow started
by this test with scripts/stack.sh in a state dir of its own, on free ports, with credentials of its
own and bucket names of its own. Its MLflow is reached only through HTTP basic auth, as DagsHub's
(BasicAuthProxy: a request without a known user and password gets 401; the read-only user's
requests other than GET and HEAD get 403). The jobs see it only through the workflow's documented
secrets and variables (MLFLOW_TRACKING_URI/USERNAME/PASSWORD and RPS_DVC_* for the promotion,
MLFLOW_READ_* for the gate and the delivery); their own stack (MinIO, MLflow, Airflow, started by
the job steps, ci/tests/lab.py) is the runner's.

In file order (about 5 minutes on 2 shared cores: the remote and production about 80 s, the gate
about 105 s, deliver about 90 s):
1. production, on the remote: trains a stump (v1) and promotes it (@champion), trains the base
   branch's forest (v2, @challenger) and compares it;
2. ci-test `test-model-gate` of pull request #11 with the read-only secrets, every step: it exports
   the remote's @champion (v1) and registers its candidate @pr-11 in the runner's own MLflow; as
   soon as its DAG run starts, production promotes v2 (rps promote, the gate) on the remote,
   concurrently;
3. the gate compared its candidate with the exported v1 and wrote nothing to the remote: its
   registry is exactly as production left it, its data version is not in the remote DVC remote;
4. `test-promote-candidate` on the push of #11's merge, with the write secrets: the merged code's
   own candidate @merge-201 (v3 on the remote, its data version pushed to the remote DVC remote,
   where the bytes match the run's rps.data_version), compared with the champion of that moment
   (v2); production then rolls back to v1 and the promotion is refused, the comparison being stale;
   production restores v2, the promotion step is re-run: @champion = v3 on the remote;
5. cd-master `deliver` in remote mode, read-only: the image is labelled model.version 3;
6. none of it touched the remote's processes or put its data on the runner, and the read-only user
   never tried to write.
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
# The read-only user of the pull requests' gate and of the delivery.
REMOTE_READER, REMOTE_READER_TOKEN = "rps-ci-reader", f"read-{secrets.token_hex(16)}"
RUNNER_BUCKET = "rps-data"  # scripts/lib/common.sh's default, the jobs' own MinIO
SERVICES = ("minio", "mlflow")


class BasicAuthProxy:
    """The remote MLflow as DagsHub serves it: HTTP basic auth in front. A request whose
    Authorization is neither the user's nor the reader's gets 401 (recorded in `refused`); the
    reader may only read (GET, HEAD): anything else gets 403 (recorded in `refused_writes`); the
    others are forwarded to the MLflow behind it, and its answer relayed."""

    HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}

    def __init__(self, upstream: str, user: str, token: str, reader: str, reader_token: str):
        self.upstream = urlsplit(upstream)
        self.expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.reader = "Basic " + base64.b64encode(f"{reader}:{reader_token}".encode()).decode()
        self.refused: list[str] = []
        self.refused_writes: list[str] = []
        self.forwarded = 0
        self.forwarded_reads = 0
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
                auth = self.headers.get("Authorization")
                if auth not in (proxy.expected, proxy.reader):
                    proxy.refused.append(f"{self.command} {self.path}")
                    self.answer(401, [("WWW-Authenticate", 'Basic realm="rps-shared"'), ("Content-Type", "application/json")],
                                b'{"error_code": "UNAUTHENTICATED", "message": "credentials required"}')
                    return
                if auth == proxy.reader and self.command not in ("GET", "HEAD"):
                    proxy.refused_writes.append(f"{self.command} {self.path}")
                    self.answer(403, [("Content-Type", "application/json")], b'{"error_code": "PERMISSION_DENIED", "message": "read-only user"}')
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
                proxy.forwarded_reads += auth == proxy.reader
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
        self.proxy = BasicAuthProxy(self.registry.uri, REMOTE_MLFLOW_USER, REMOTE_MLFLOW_TOKEN, REMOTE_READER, REMOTE_READER_TOKEN)
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
        """The write secrets of remote mode: environment production-registry's (docs/credentials.md)."""
        return {"MLFLOW_TRACKING_URI": self.uri, "MLFLOW_TRACKING_USERNAME": REMOTE_MLFLOW_USER, "MLFLOW_TRACKING_PASSWORD": REMOTE_MLFLOW_TOKEN,
                "RPS_DVC_ACCESS_KEY_ID": REMOTE_KEY, "RPS_DVC_SECRET_ACCESS_KEY": REMOTE_SECRET}

    def read_secrets(self) -> dict[str, str]:
        """The read-only user's repository secrets (docs/credentials.md)."""
        return {"MLFLOW_READ_TRACKING_URI": self.uri, "MLFLOW_READ_USERNAME": REMOTE_READER, "MLFLOW_READ_PASSWORD": REMOTE_READER_TOKEN}

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
    for user, token in ((REMOTE_MLFLOW_USER, REMOTE_MLFLOW_TOKEN), (REMOTE_READER, REMOTE_READER_TOKEN)):
        auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}
        with urlopen(Request(search, headers=auth), timeout=10) as r:
            assert r.status == 200
    # The reader cannot write: a new registered model is refused before it reaches MLflow.
    reader = {"Authorization": "Basic " + base64.b64encode(f"{REMOTE_READER}:{REMOTE_READER_TOKEN}".encode()).decode(), "Content-Type": "application/json"}
    with pytest.raises(HTTPError) as forbidden:
        urlopen(Request(f"{remote.uri}/api/2.0/mlflow/registered-models/create", data=b'{"name": "intruder"}', headers=reader, method="POST"), timeout=10)
    assert forbidden.value.code == 403
    assert remote.registry.get("registered-models/search").get("registered_models", []) == []
    remote.proxy.refused.clear()
    remote.proxy.refused_writes.clear()
    remote.proxy.forwarded_reads = 0


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


def aliases_or_none(registry: Registry) -> dict[str, str]:
    """The registered model's aliases; none while the model is not registered yet."""
    try:
        return registry.aliases()
    except HTTPError:
        return {}


def dag_running(state: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{state / 'airflow' / 'airflow.db'}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("select 1 from dag_run where dag_id = 'rps_pipeline' and state = 'running'").fetchone() is not None
    except sqlite3.Error:
        return False  # no database or no table yet


@pytest.fixture(scope="module")
def gate(lab, remote, production):
    workspace = lab.checkout("pr", WIN)
    # A pull request's secrets: GitHub's token and the registry's read-only user, nothing else.
    job = lab.job("ci-test.yml", "model-gate", workspace, pr_github(PR, head_ref=WIN),
                  {"GITHUB_TOKEN": "ghs_fake_token_for_the_cml_shim", **remote.read_secrets()}, vars=remote.vars())
    promotion: dict = {}
    done = threading.Event()

    def promote_during_the_dag_run() -> None:
        # Production's promotion of its @challenger, once the PR's DAG run is under way.
        while not done.is_set() and not dag_running(lab.state):
            time.sleep(0.5)
        if done.is_set():
            return
        promotion["candidate_registered_before"] = f"pr-{PR}" in aliases_or_none(lab.registry)
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


def test_the_model_gate_runs_green_with_the_read_only_user_and_its_own_registry(gate, remote, lab):
    job, results, _ = gate
    assert [r.outcome for r in results] == ["success"] * len(job.steps()), failed_steps(results)
    assert (job.env["MLFLOW_TRACKING_URI"], job.env["RPS_SHARED_REGISTRY"]) == (lab.uri, "false")
    assert not [k for k in job.env if k.startswith("RPS_DVC_")]
    champion_step = next(r for r in results if r.run == "make ci-champion")
    assert f"production's @champion from {remote.uri} (read-only) into build/champion" in champion_step.output
    assert (job.workspace / "build/champion/registry.json").exists()
    # The candidate lives in the runner's MLflow only (its v1: version numbers of another registry).
    assert lab.registry.aliases() == {f"pr-{PR}": "1"}
    assert lab.registry.run_of("1")["tags"]["rps.code_version"] == lab.shas[WIN]


def test_a_production_promotion_during_the_gate_went_through_and_the_gate_wrote_nothing_to_the_remote(gate, remote, lab):
    job, _, promotion = gate
    assert promotion, "the DAG run was never seen running"
    assert promotion["result"].returncode == 0, promotion["result"].stderr[-2000:]
    assert promotion["dag_still_running"] and not promotion["candidate_registered_before"]
    production_aliases = {"champion": "2", "challenger": "2", "previous-champion": "1"}
    assert promotion["aliases"] == production_aliases
    # After the gate: production's aliases, versions and tags exactly as production left them.
    assert remote.registry.aliases() == production_aliases
    assert {v: version_tags(remote, v) for v in ("1", "2")} == promotion["tags"]
    versions = remote.registry.get("model-versions/search", filter=f"name='{MODEL_NAME}'").get("model_versions", [])
    assert sorted(v["version"] for v in versions) == ["1", "2"]
    # The read-only user only read, and never tried to write.
    assert remote.proxy.forwarded_reads > 0 and remote.proxy.refused_writes == []


def test_the_gate_report_names_the_exported_champion_it_compared_against(gate):
    job, results, _ = gate
    report = json.loads((job.workspace / "reports/compare/report.json").read_text())
    # v1 locally and v1 on the remote are two models: never "the same version".
    assert (report["decision"], report["passed"]) == ("challenger_wins", True)
    assert (report["challenger"]["version"], report["challenger"]["alias"], report["champion"]["version"]) == ("1", f"pr-{PR}", "1")
    assert "compare-gate: passed: challenger_wins: challenger v1 vs champion v1" in results[-1].output


def test_the_gate_s_data_stays_on_the_runner_and_its_job_env_holds_no_remote_credential(gate, remote, lab):
    job, _, _ = gate
    data_version = lab.registry.run_of("1")["tags"]["rps.data_version"]
    assert remote.dvc_object_md5(data_version) is None
    assert not (lab.state / "minio" / REMOTE_BUCKET).exists()
    # The read-only user was the ci-champion step's only (step env), the write secrets nowhere.
    for value in (REMOTE_SECRET, REMOTE_MLFLOW_TOKEN, REMOTE_READER_TOKEN, remote.uri, remote.endpoint, str(remote.state)):
        assert {k for k, v in job.env.items() if value in v} == set(), value


@pytest.fixture(scope="module")
def merged(gate, lab, remote, production):
    """#11 merged (a push to test): the promotion job with the write secrets trains and compares
    the merged code's candidate; production rolls back before the promotion step (refused as
    stale), restores its champion, and the promotion step is re-run."""
    workspace = gate[0].workspace

    def promotion_job():
        return lab.job("ci-test.yml", "promote-candidate", workspace, {"event_name": "push", "ref": f"refs/heads/{BASE}", "run_id": "201"},
                       remote.secrets(), vars=remote.vars(), shared_registry=True)

    trained = promotion_job()
    promote_step = trained.index_of_run("make ci-promote")
    trained_results = trained.run(stop=promote_step)
    compared = json.loads((workspace / "reports/compare/report.json").read_text())
    production.rps("promote", "--rollback", "--reason", "production: v2 misbehaves in the field")
    rolled_back = remote.registry.aliases()
    refused = promotion_job().run(start=promote_step)
    after_refusal = remote.registry.aliases()
    production.rps("promote", "--rollback", "--reason", "production: v2 was fine after all")
    job = promotion_job()
    results = job.run(start=promote_step)
    return job, results, {"trained": trained, "trained_results": trained_results, "compared": compared, "rolled_back": rolled_back,
                          "refused": refused, "after_refusal": after_refusal}


def test_the_merge_job_trains_its_own_candidate_on_the_remote_and_pushes_its_data_there(merged, remote, lab):
    _, _, before = merged
    job, results = before["trained"], before["trained_results"]
    assert [r.outcome for r in results] == ["success"] * len(results), failed_steps(results)
    assert (job.env["MLFLOW_TRACKING_URI"], job.env["RPS_SHARED_REGISTRY"]) == (remote.uri, "true")
    assert (job.env["RPS_DVC_S3_ENDPOINT"], job.env["RPS_DVC_S3_BUCKET"]) == (remote.endpoint, REMOTE_BUCKET)
    dag = next(r for r in results if r.run == "make dag-test-ci")
    assert f"remote storage (default): the shared s3://{REMOTE_BUCKET}/dvc via {remote.endpoint}" in dag.output
    assert "::warning title=Data version not shared" not in dag.output
    assert remote.registry.aliases()["merge-201"] == "3"
    assert remote.registry.run_of("3")["tags"]["rps.code_version"] == lab.shas[WIN]
    data_version = remote.registry.run_of("3")["tags"]["rps.data_version"]
    assert len(data_version) == 32 and remote.registry.run_of("3")["tags"]["rps.data_versioned_by_dvc"] == "true"
    assert remote.dvc_object_md5(data_version) == data_version
    assert (before["compared"]["decision"], before["compared"]["challenger"]["version"], before["compared"]["champion"]["version"]) == ("challenger_wins", "3", "2")


def test_a_promotion_after_production_moved_the_champion_is_refused_as_stale(merged):
    _, _, before = merged
    assert {k: before["rolled_back"][k] for k in ("champion", "challenger", "previous-champion")} == {"champion": "1", "challenger": "1", "previous-champion": "2"}
    [step] = before["refused"]
    assert step.outcome == "failure"
    assert "::error title=Candidate @merge-201 not promoted::rps promote exited 10: refusing to promote" in step.output
    assert "its champion was v2, the current one is v1" in step.output
    assert before["after_refusal"] == before["rolled_back"]


def test_the_promotion_promotes_exactly_the_candidate_it_compared_once_its_report_is_current_again(merged, remote):
    job, results, _ = merged
    assert [r.outcome for r in results] == ["success"], failed_steps(results)
    promote = json.loads((job.workspace / "reports/promote/promote.json").read_text())
    assert (promote["action"], promote["champion"], promote["previousChampion"]) == ("promoted", "3", "2")
    aliases = remote.registry.aliases()
    assert {k: aliases[k] for k in ("champion", "previous-champion", "challenger")} == {"champion": "3", "previous-champion": "2", "challenger": "3"}


@pytest.fixture(scope="module")
def deliver(merged, lab, remote):
    workspace = lab.checkout("master", MASTER)
    secrets_ = {"DOCKERHUB_USERNAME": "rps-ci-test", "DOCKERHUB_TOKEN": "fake-token", **remote.read_secrets()}
    job = lab.job("cd-master.yml", "deliver", workspace, {"event_name": "push", "ref": "refs/heads/master"}, secrets_,
                  vars=remote.vars(), shared_registry=True, **{"http://127.0.0.1:8000": f"http://127.0.0.1:{lab.ports['serve']}"})
    results = job.run()
    return job, results


def test_deliver_in_remote_mode_ships_the_version_the_merge_compared_and_promoted(deliver, merged, remote, lab):
    job, results = deliver
    assert all(r.outcome == "success" for r in results[:-1]) and results[-1].outcome == "skipped", failed_steps(results)
    assert "nothing to train here" in next(r for r in results if r.run == "make ci-champion").output
    assert (job.env["MLFLOW_TRACKING_URI"], job.env["MLFLOW_TRACKING_USERNAME"]) == (remote.uri, REMOTE_READER)
    gated = merged[2]["compared"]["challenger"]["version"]
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
    assert remote.proxy.forwarded > remote.proxy.forwarded_reads > 0
    assert remote.proxy.refused == []
    assert remote.proxy.refused_writes == []  # the read-only user (the gate, the delivery) never tried to write
