"""scripts/protect-branches: the exact requests of --dry-run, and the real requests against a fake
GitHub API (GITHUB_API_URL) that records them."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT, run

SCRIPT = "scripts/protect-branches"
REPO = "acme/rps"

EXPECTED = {
    "dev": {
        "required_status_checks": {"strict": False, "checks": [{"context": "dev-checks"}, {"context": "infra-lint"}]},
        "enforce_admins": False,
        "required_pull_request_reviews": {"required_approving_review_count": 0, "dismiss_stale_reviews": False},
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    },
    "test": {
        "required_status_checks": {
            "strict": True,
            "checks": [{"context": "dev-checks"}, {"context": "infra-lint"}, {"context": "test-model-gate"}],
        },
        "enforce_admins": True,
        "required_pull_request_reviews": {"required_approving_review_count": 1, "dismiss_stale_reviews": True, "require_code_owner_reviews": False},
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
        "required_conversation_resolution": True,
    },
    "master": {
        "required_status_checks": {
            "strict": True,
            "checks": [{"context": "dev-checks"}, {"context": "infra-lint"}, {"context": "image-build"}],
        },
        "enforce_admins": True,
        "required_pull_request_reviews": {"required_approving_review_count": 1, "dismiss_stale_reviews": True, "require_code_owner_reviews": False},
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
        "required_conversation_resolution": True,
    },
}


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "RPS_REQUIRED_APPROVALS")}
    base.update(extra)
    return base


def parse_dry_run(stdout: str) -> list[tuple[str, str, dict]]:
    """Blocks of 'METHOD URL' + one JSON line, separated by blank lines."""
    blocks = [b for b in stdout.strip().split("\n\n") if b]
    out = []
    for block in blocks:
        request_line, body_line = block.split("\n")
        method, url = request_line.split(" ")
        out.append((method, url, json.loads(body_line)))
    return out


class FakeGitHub:
    """Answers PUT .../protection with 200, or with `fail` = {branch: (status, body)}."""

    def __init__(self, fail: dict[str, tuple[int, dict]] | None = None) -> None:
        self.fail = fail or {}
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
                branch = self.path.split("/")[-2]
                status, answer = fake.fail.get(branch, (200, {"url": self.path}))
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeGitHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_when_dry_run_then_it_prints_one_put_per_branch_with_the_exact_body():
    result = run([SCRIPT, "--dry-run"], env=env(GITHUB_REPOSITORY=REPO))
    assert result.returncode == 0, result.stderr
    requests = parse_dry_run(result.stdout)
    assert [(m, u) for m, u, _ in requests] == [
        ("PUT", f"https://api.github.com/repos/{REPO}/branches/{b}/protection") for b in ("dev", "test", "master")
    ]
    for (_, _, body), branch in zip(requests, ("dev", "test", "master")):
        assert body == EXPECTED[branch]


def test_when_dry_run_then_every_body_has_the_four_required_keys_and_no_deprecated_contexts():
    result = run([SCRIPT, "--dry-run"], env=env(GITHUB_REPOSITORY=REPO))
    for _, _, body in parse_dry_run(result.stdout):
        assert {"required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"} <= body.keys()
        assert "contexts" not in body["required_status_checks"]  # GitHub rejects contexts together with checks


def test_when_test_and_master_then_one_approval_admins_enforced_and_no_push_restrictions():
    result = run([SCRIPT, "--dry-run"], env=env(GITHUB_REPOSITORY=REPO))
    bodies = {u.split("/")[-2]: b for _, u, b in parse_dry_run(result.stdout)}
    for branch in ("test", "master"):
        assert bodies[branch]["required_pull_request_reviews"]["required_approving_review_count"] == 1
        assert bodies[branch]["enforce_admins"] is True
        assert bodies[branch]["restrictions"] is None
    assert bodies["dev"]["required_pull_request_reviews"]["required_approving_review_count"] == 0


def test_when_dry_run_then_nothing_is_sent_even_with_a_token():
    with FakeGitHub() as fake:
        result = run([SCRIPT, "--dry-run"], env=env(GITHUB_REPOSITORY=REPO, GITHUB_TOKEN="tok", GITHUB_API_URL=fake.url))
    assert result.returncode == 0
    assert fake.requests == []
    assert f"PUT {fake.url}/repos/{REPO}/branches/dev/protection" in result.stdout


def test_when_branch_is_given_then_only_that_branch():
    result = run([SCRIPT, "--dry-run", "--branch", "test"], env=env(GITHUB_REPOSITORY=REPO))
    assert [u for _, u, _ in parse_dry_run(result.stdout)] == [f"https://api.github.com/repos/{REPO}/branches/test/protection"]


def test_when_the_token_is_missing_then_exit_2_with_a_clear_message_and_no_request():
    with FakeGitHub() as fake:
        result = run([SCRIPT], env=env(GITHUB_REPOSITORY=REPO, GITHUB_API_URL=fake.url))
    assert result.returncode == 2
    assert "protect-branches: GITHUB_TOKEN is not set: a token with admin rights on acme/rps is needed" in result.stderr
    assert "--dry-run" in result.stderr
    assert fake.requests == []


@pytest.mark.parametrize(
    ("repo", "message"),
    [(None, "GITHUB_REPOSITORY is not set"), ("just-a-name", "GITHUB_REPOSITORY='just-a-name' is not owner/name")],
)
def test_when_the_repository_is_missing_or_malformed_then_exit_2(repo: str | None, message: str):
    extra = {"GITHUB_REPOSITORY": repo} if repo else {}
    result = run([SCRIPT, "--dry-run"], env=env(**extra))
    assert result.returncode == 2
    assert message in result.stderr


def test_when_an_argument_is_unknown_then_exit_2():
    assert run([SCRIPT, "--branch", "main", "--dry-run"], env=env(GITHUB_REPOSITORY=REPO)).returncode == 2
    assert run([SCRIPT, "--force"], env=env(GITHUB_REPOSITORY=REPO)).returncode == 2


def test_when_sent_then_the_requests_carry_the_token_api_version_and_the_dry_run_bodies():
    with FakeGitHub() as fake:
        result = run([SCRIPT], env=env(GITHUB_REPOSITORY=REPO, GITHUB_TOKEN="tok-123", GITHUB_API_URL=fake.url + "/"))
    assert result.returncode == 0, result.stderr
    assert [r["path"] for r in fake.requests] == [f"/repos/{REPO}/branches/{b}/protection" for b in ("dev", "test", "master")]
    for request, branch in zip(fake.requests, ("dev", "test", "master")):
        assert request["headers"]["Authorization"] == "Bearer tok-123"
        assert request["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
        assert request["headers"]["Accept"] == "application/vnd.github+json"
        assert request["body"] == EXPECTED[branch]
    assert "tok-123" not in result.stderr + result.stdout
    assert result.stderr.count("protected (HTTP 200)") == 3


def test_when_github_refuses_a_branch_then_exit_1_naming_it_and_the_others_are_still_applied():
    refusal = {"message": "Branch not found", "documentation_url": "https://docs.github.com/rest"}
    with FakeGitHub(fail={"test": (404, refusal)}) as fake:
        result = run([SCRIPT], env=env(GITHUB_REPOSITORY=REPO, GITHUB_TOKEN="tok", GITHUB_API_URL=fake.url))
    assert result.returncode == 1
    assert len(fake.requests) == 3
    assert f"protect-branches: test: HTTP 404 from PUT {fake.url}/repos/{REPO}/branches/test/protection: Branch not found (branch 'test' does not exist" in result.stderr
    assert "dev: protected (HTTP 200)" in result.stderr and "master: protected (HTTP 200)" in result.stderr


def test_when_the_api_is_unreachable_then_exit_1_with_curls_reason():
    result = run([SCRIPT, "--branch", "dev"], env=env(GITHUB_REPOSITORY=REPO, GITHUB_TOKEN="tok", GITHUB_API_URL="http://127.0.0.1:9"))
    assert result.returncode == 1
    assert "dev: request to http://127.0.0.1:9/repos/acme/rps/branches/dev/protection failed: curl: (7)" in result.stderr


def reviews(stdout: str) -> dict[str, dict]:
    return {u.split("/")[-2]: b["required_pull_request_reviews"] for _, u, b in parse_dry_run(stdout)}


@pytest.mark.parametrize(("args", "extra", "count"), [
    (["--approvals", "0"], {}, 0),  # a solo maintainer: GitHub never counts an author's own approval
    ([], {"RPS_REQUIRED_APPROVALS": "0"}, 0),
    (["--approvals", "2"], {"RPS_REQUIRED_APPROVALS": "0"}, 2),  # the flag wins over the environment
])
def test_when_approvals_are_configured_then_test_and_master_need_that_many_and_dev_none(args, extra, count):
    result = run([SCRIPT, "--dry-run", *args], env=env(GITHUB_REPOSITORY=REPO, **extra))
    assert result.returncode == 0, result.stderr
    got = reviews(result.stdout)
    assert got["test"]["required_approving_review_count"] == got["master"]["required_approving_review_count"] == count
    assert got["dev"]["required_approving_review_count"] == 0
    bodies = {u.split("/")[-2]: b for _, u, b in parse_dry_run(result.stdout)}
    for branch in ("test", "master"):  # everything else stays: the PR, its checks, admins bound
        assert {k: v for k, v in bodies[branch].items() if k != "required_pull_request_reviews"} == {
            k: v for k, v in EXPECTED[branch].items() if k != "required_pull_request_reviews"}


@pytest.mark.parametrize(("args", "extra", "message"), [
    (["--approvals", "7"], {}, "--approvals='7': expected a whole number of approvals from 0 to 6"),
    (["--approvals", "one"], {}, "--approvals='one'"),
    (["--approvals"], {}, "--approvals needs a number"),
    ([], {"RPS_REQUIRED_APPROVALS": "-1"}, "RPS_REQUIRED_APPROVALS='-1'"),
    (["--approvals", "0", "--code-owners"], {}, "--code-owners needs --approvals 1 or more"),
])
def test_when_approvals_are_out_of_range_then_exit_2_and_nothing_is_sent(args, extra, message):
    with FakeGitHub() as fake:
        result = run([SCRIPT, *args], env=env(GITHUB_REPOSITORY=REPO, GITHUB_TOKEN="tok", GITHUB_API_URL=fake.url, **extra))
    assert result.returncode == 2
    assert message in result.stderr
    assert fake.requests == []


def test_when_code_owners_are_required_then_test_and_master_ask_for_their_review():
    result = run([SCRIPT, "--dry-run", "--code-owners"], env=env(GITHUB_REPOSITORY=REPO))
    assert result.returncode == 0, result.stderr
    got = reviews(result.stdout)
    assert got["test"]["require_code_owner_reviews"] is got["master"]["require_code_owner_reviews"] is True
    assert "require_code_owner_reviews" not in got["dev"]


def test_the_codeowners_placeholder_assigns_nobody_until_edited():
    lines = [line.strip() for line in (ROOT / ".github" / "CODEOWNERS").read_text().splitlines()]
    assert [line for line in lines if line and not line.startswith("#")] == []  # a placeholder: every rule commented
    assert any(line.startswith("# *") and "@" in line for line in lines)  # with an example to uncomment
