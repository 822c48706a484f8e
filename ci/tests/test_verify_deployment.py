"""scripts/verify-deployment against a fake rps serve: the healthy path and every failure mode."""

from __future__ import annotations

import time

import pytest
from conftest import free_port, run
from fake_serve import FEATURES, FakeServe

SCRIPT = "scripts/verify-deployment"


def verify(url: str, *extra: str):
    return run([SCRIPT, url, "--interval", "0.1", *extra], timeout=30)


def test_when_the_service_is_healthy_then_exit_0_with_one_ok_line():
    with FakeServe("healthy") as fake:
        result = verify(fake.url, "--timeout", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"verify-deployment: OK {fake.url} ready after ")
    assert "model rps-temperature v3; prediction 14.2 for 2026-06-01T06:00:00.000Z" in lines[0]
    assert result.stderr == ""


def test_when_healthy_then_it_posts_the_models_example_as_one_instance():
    with FakeServe("healthy") as fake:
        result = verify(fake.url, "--timeout", "5")
    assert result.returncode == 0, result.stderr
    posts = [r for r in fake.requests if r[0] == "POST"]
    assert posts == [("POST", "/predict", {"instances": [{"features": FEATURES}]})]
    paths = [p for _, p, _ in fake.requests]
    assert paths.index("/health") < paths.index("/ready") < paths.index("/model") < paths.index("/predict")


def test_when_target_time_is_null_for_explicit_features_then_it_passes():
    with FakeServe("null-time") as fake:
        result = verify(fake.url, "--timeout", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("prediction 14.2 for explicit features (target_time null)")


def test_when_ready_comes_late_but_within_the_timeout_then_it_waits_and_passes():
    with FakeServe("slow-ready", ready_after=3.0) as fake:
        result = verify(fake.url, "--timeout", "10")
    assert result.returncode == 0, result.stderr
    assert sum(1 for _, p, _ in fake.requests if p == "/ready") > 1


def test_when_nothing_listens_then_health_fails_with_connection_refused_after_the_timeout():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = verify(url, "--timeout", "1")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "verify-deployment: FAIL GET /health: no 200 within 1s (last: connection refused (nothing listening))"
    assert 0.9 <= elapsed < 10


def test_when_ready_stays_503_then_it_fails_naming_ready_and_the_last_answer():
    with FakeServe("unhealthy") as fake:
        result = verify(fake.url, "--timeout", "1")
    assert result.returncode == 1
    assert result.stderr.strip() == 'verify-deployment: FAIL GET /ready: no 200 within 1s (last: HTTP 503 {"status":"loading"})'
    assert not any(p == "/predict" for _, p, _ in fake.requests)


def test_when_health_answers_500_then_it_fails_naming_health():
    with FakeServe("health-500") as fake:
        result = verify(fake.url, "--timeout", "1")
    assert result.returncode == 1
    assert result.stderr.strip() == 'verify-deployment: FAIL GET /health: no 200 within 1s (last: HTTP 500 {"error":"internal"})'


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("no-example", "GET /model: no `example` with a non-empty `features` object to send to /predict"),
        ("predict-500", 'POST /predict: HTTP 500 {"error":"internal error"}'),
        ("predict-html", "POST /predict: the answer is not JSON: <html>oops</html>"),
        ("predict-shape", "POST /predict: the answer has no `predictions` list: "),
        ("predict-two", "POST /predict: expected 1 prediction for 1 instance, got 2"),
        ("predict-nan", "POST /predict: predictions[0].prediction is not a finite number: NaN"),
        ("predict-null", "POST /predict: predictions[0].prediction is not a finite number: null"),
        ("predict-time", 'POST /predict: predictions[0].target_time is neither an ISO 8601 timestamp nor null: "tomorrow"'),
        ("predict-notime", "POST /predict: predictions[0] has no target_time"),
        ("predict-model", "POST /predict: predictions[0].model must have name and version: null"),
        ("predict-band", "POST /predict: predictions[0].path[1].interval_80 is not a [lower, upper] around the value 13.5: [14.0, 15.0]"),
    ],
)
def test_when_model_or_predict_answer_wrongly_then_exit_1_naming_what_failed(mode: str, message: str):
    with FakeServe(mode) as fake:
        result = verify(fake.url, "--timeout", "5")
    assert result.returncode == 1, result.stdout
    assert result.stdout == ""
    assert result.stderr.startswith(f"verify-deployment: FAIL {message}")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [[], ["ftp://x"], ["http://127.0.0.1:1", "--timeout", "0"], ["http://127.0.0.1:1", "--timeout", "abc"]])
def test_when_usage_is_wrong_then_exit_2(args: list[str]):
    result = run([SCRIPT, *args])
    assert result.returncode == 2
    assert "usage: verify-deployment" in result.stderr
