"""ci/tests/gha.py, the local job runner of test_workflow_jobs.py: GitHub's expression and step
condition semantics, so that the end-to-end tests run what GitHub would run, no more, no less."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from gha import ExpressionError, Job, Local, clean_environ, evaluate, interpolate


def ev(text: str, secrets: dict | None = None, github: dict | None = None, failed: bool = False, files: set[str] = frozenset()):
    functions = {
        "always": lambda: True, "success": lambda: not failed, "failure": lambda: failed, "cancelled": lambda: False,
        "hashFiles": lambda *p: "h" if set(p) & files else "",
    }
    return evaluate(text, {"secrets": secrets or {}, "github": github or {}}, functions)


@pytest.mark.parametrize(
    ("secrets", "expected"), [({}, "http://127.0.0.1:5000"), ({"URI": ""}, "http://127.0.0.1:5000"), ({"URI": "https://x"}, "https://x")]
)
def test_when_a_secret_is_missing_or_empty_then_or_gives_the_default(secrets: dict, expected: str):
    assert ev("secrets.URI || 'http://127.0.0.1:5000'", secrets) == expected


def test_when_expressions_combine_status_functions_and_hashfiles_then_they_evaluate_as_on_github():
    assert ev("always() && hashFiles('reports/compare/report.md') != ''", files={"reports/compare/report.md"}) is True
    assert ev("always() && hashFiles('reports/compare/report.md') != ''") is False
    assert ev("failure()", failed=True) is True and ev("!failure()", failed=True) is False
    assert ev("github.event_name == 'pull_request'", github={"event_name": "push"}) is False
    assert ev("'it''s'") == "it's"
    assert interpolate("minio-${{ github.os }}-x", {"github": {"os": "Linux"}}, {}) == "minio-Linux-x"


@pytest.mark.parametrize("text", ["matrix.os", "needs.build.outputs.tag", "toJSON(github)", "github.a | 1"])
def test_when_an_expression_uses_what_the_runner_does_not_know_then_it_is_an_error(text: str):
    with pytest.raises(ExpressionError):
        ev(text)


def job(tmp_path: Path, steps: list[dict], actions: dict | None = None, rewrite: dict | None = None, env: dict | None = None) -> Job:
    definition = {"env": {"A": "${{ secrets.S || 'dflt' }}"}, "jobs": {"j": {"steps": steps}}}
    return Job("synthetic.yml", "j", workspace=tmp_path, github={}, secrets={}, base_env=clean_environ(), actions=actions or {},
               local=Local(env=env or {}, rewrite=rewrite or {}), log_dir=tmp_path / "logs", definition=definition)


def test_when_a_step_fails_then_later_steps_are_skipped_unless_their_condition_says_otherwise(tmp_path: Path):
    (tmp_path / "here.md").write_text("x")
    j = job(tmp_path, [
        {"run": 'test "$A" = dflt && echo "$CI $GITHUB_WORKSPACE"'},
        {"run": "exit 3"},
        {"run": "echo not after a failure"},
        {"if": "failure()", "run": "echo on failure"},
        {"if": "always() && hashFiles('here.md') != ''", "run": "echo always with the file"},
        {"if": "always() && hashFiles('absent.md') != ''", "run": "echo never"},
        {"if": "success()", "run": "echo never either"},
    ])
    results = j.run()
    assert [(r.outcome, r.returncode) for r in results] == [
        ("success", 0), ("failure", 3), ("skipped", None), ("success", 0), ("success", 0), ("skipped", None), ("skipped", None),
    ]
    assert results[0].output == f"true {tmp_path}\n"


def test_when_a_step_uses_an_action_without_a_handler_then_the_runner_refuses(tmp_path: Path):
    with pytest.raises(AssertionError, match="has no local handler"):
        job(tmp_path, [{"uses": "someone/new-action@0123"}]).run()


def test_when_an_action_handler_raises_then_the_step_fails(tmp_path: Path):
    def boom(step, with_, j):
        raise ValueError("Username and password required")

    results = job(tmp_path, [{"uses": "docker/login-action@1", "with": {"username": ""}}, {"run": "true"}], {"docker/login-action": boom}).run()
    assert [r.outcome for r in results] == ["failure", "skipped"]
    assert "Username and password required" in results[0].output


def test_when_a_rewrite_matches_no_step_then_it_is_reported_unused(tmp_path: Path):
    j = job(tmp_path, [{"run": "echo http://127.0.0.1:8000"}], rewrite={"127.0.0.1:8000": "127.0.0.1:9", "absent": "x"})
    assert j.run()[0].output == "http://127.0.0.1:9\n"
    assert j.unused_rewrites() == {"absent"}


def test_vars_are_a_context_like_secrets():
    contexts = {"secrets": {"KEY": "k"}, "vars": {"ENDPOINT": "https://s3.example"}}
    fns = {"always": lambda: True}
    assert evaluate("secrets.KEY != '' && vars.ENDPOINT || ''", contexts, fns) == "https://s3.example"
    assert evaluate("secrets.NONE != '' && vars.ENDPOINT || ''", contexts, fns) == ""


def test_when_an_action_sets_an_output_and_a_post_step_then_later_steps_read_it_and_the_post_runs_after_the_last(tmp_path: Path):
    def setup(step, with_, job):
        job.set_output(step, "version", "3.11.2")
        job.post.append(("setup", lambda job: f"post ran after {len(job.results)} steps"))

    j = job(tmp_path, [{"id": "py", "uses": "x/setup@v1"}, {"run": "echo ${{ steps.py.outputs.version }} > out"}], actions={"x/setup": setup})
    j.run()
    assert (tmp_path / "out").read_text() == "3.11.2\n"
    assert [(r.label, r.outcome, r.note) for r in j.post_results] == [("Post setup", "success", "post ran after 2 steps")]


def test_hashfiles_is_the_sha256_of_the_files_sha256_as_on_github_so_a_cache_key_is_stable_across_runs(tmp_path: Path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    expected = hashlib.sha256(hashlib.sha256(b"a").digest() + hashlib.sha256(b"b").digest()).hexdigest()
    assert job(tmp_path, []).expr("hashFiles('*.txt')") == expected


def test_the_local_env_is_laid_over_the_workflow_env_and_every_step_env(tmp_path: Path):
    # e.g. a step's RPS_BASE_IMAGES: official (Docker Hub) is local here, where Docker Hub does not answer.
    j = job(tmp_path, [{"run": 'echo "$A $B"', "env": {"B": "official", "C": "kept"}}, {"run": 'echo "$C"', "env": {"C": "kept"}}],
            env={"A": "here", "B": "local"})
    assert [r.output for r in j.run()] == ["here local\n", "kept\n"]
