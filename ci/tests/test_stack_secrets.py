"""The stack's secrets: scripts/env-file.sh and what docker-compose.yml hands to whom (docs/security.md).

Compose is the real binary of scripts/install-ci-tools.sh (`docker compose config`, no engine needed).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

COMPOSE = ROOT / ".rps" / "venv-ci" / "bin" / "docker-compose"
GENERATED = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD", "AIRFLOW_JWT_SECRET",
             "GRAFANA_ADMIN_PASSWORD", "RPS_ALERT_SINK_TOKEN"]


def clean_env() -> dict[str, str]:
    """No secret from the caller's environment may satisfy compose or the script."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}


def env_file(path: Path, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f'umask {umask:03o} && exec scripts/env-file.sh "$1"', "env-file", str(path)],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60, check=False)


def values(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text(), re.MULTILINE))


def compose_config(env_path: str) -> subprocess.CompletedProcess[str]:
    if not COMPOSE.exists():
        pytest.skip(f"no {COMPOSE} (scripts/install-ci-tools.sh)")
    return subprocess.run([str(COMPOSE), "--env-file", env_path, "-f", "docker-compose.yml", "--profile", "celery", "config", "--format", "json"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60, check=False)


def test_when_the_env_file_is_missing_then_it_is_created_mode_600_with_every_secret(tmp_path):
    path = tmp_path / "sub" / ".env"
    result = env_file(path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    got = values(path)
    assert sorted(got) == sorted(GENERATED)
    assert all(len(v) >= 16 for v in got.values()), got.keys()
    assert 3 <= len(got["AWS_ACCESS_KEY_ID"]) <= 20 and 8 <= len(got["AWS_SECRET_ACCESS_KEY"]) <= 40  # MinIO's limits
    assert "rps-local" not in path.read_text()
    other = tmp_path / "other.env"
    env_file(other)
    assert not set(values(other).values()) & set(got.values()), "two runs generated the same secret"


def test_when_values_exist_then_they_are_never_changed_and_only_missing_or_empty_ones_are_filled(tmp_path):
    path = tmp_path / ".env"
    path.write_text('# mine\nAWS_ACCESS_KEY_ID=my-user\nPOSTGRES_PASSWORD=\nGRAFANA_ADMIN_PASSWORD="quoted value" # note\nRPS_SOURCE=replay')
    path.chmod(0o644)
    result = env_file(path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "an existing world-readable file is tightened"
    text = path.read_text()
    assert text.startswith('# mine\nAWS_ACCESS_KEY_ID=my-user\nPOSTGRES_PASSWORD=')
    assert 'GRAFANA_ADMIN_PASSWORD="quoted value" # note\nRPS_SOURCE=replay\n' in text
    assert text.count("POSTGRES_PASSWORD=") == 1 and len(values(path)["POSTGRES_PASSWORD"]) >= 16
    before = path.read_text()
    again = env_file(path)
    assert again.returncode == 0 and path.read_text() == before, "a second run changes nothing"


def test_when_the_env_file_is_a_symlink_then_nothing_is_written_through_it(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / ".env").symlink_to(target)
    result = env_file(tmp_path / ".env")
    assert result.returncode != 0
    assert "symbolic link" in result.stderr
    assert not target.exists()


def test_when_no_secret_is_set_then_compose_refuses_and_names_each_missing_variable():
    result = compose_config("/dev/null")
    assert result.returncode != 0
    for name in GENERATED:
        assert f"required variable {name} is missing a value: {name} is required: run scripts/env-file.sh or make up" in result.stderr, name


def test_compose_requires_exactly_what_env_file_generates():
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required == set(GENERATED)
    # No credential falls back to a default: PASSWORD/SECRET/KEY/TOKEN variables are required or optional-empty.
    defaults = re.findall(r"\$\{([A-Z0-9_]*(?:PASSWORD|SECRET|KEY|TOKEN)[A-Z0-9_]*):?-([^}]*)\}", text)
    assert [(k, v) for k, v in defaults if v] == []
    assert "env_file" not in text, "no service gets .env as a whole"


def test_when_env_file_has_run_then_compose_validates_and_each_service_gets_only_its_secrets(tmp_path):
    path = tmp_path / ".env"
    assert env_file(path).returncode == 0
    result = compose_config(str(path))
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    secret = set(values(path).values())

    def secrets_of(service: str) -> set[str]:
        env = config["services"][service].get("environment") or {}
        return {k for k, v in env.items() if v and any(s in v for s in secret)}

    assert secrets_of("rps-serve") == set()
    assert secrets_of("prometheus") == set()
    assert secrets_of("alertmanager") == set()
    assert [s["source"] for s in config["services"]["alertmanager"]["secrets"]] == ["alert_sink_token"]
    assert config["secrets"]["alert_sink_token"]["environment"] == "RPS_ALERT_SINK_TOKEN"
    assert secrets_of("alerts-sink") == {"RPS_ALERT_SINK_TOKEN"}
    assert secrets_of("postgres") == {"POSTGRES_PASSWORD"}
    assert secrets_of("minio") == {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"}
    assert secrets_of("grafana") == {"GF_SECURITY_ADMIN_PASSWORD"}
    assert secrets_of("mlflow") == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_BACKEND_STORE_URI"}
    assert "GF_SECURITY_ADMIN_PASSWORD" not in config["services"]["airflow-scheduler"]["environment"]


def test_no_script_opens_a_fixed_tmp_path_for_writing():
    """A root `exec 9> /tmp/x.lock` follows a symlink anyone may plant there and truncates its target."""
    found = []
    for path in sorted([*ROOT.glob("scripts/*"), *ROOT.glob("scripts/lib/*"), *ROOT.glob("docker/*.sh")]):
        if path.is_file():
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if re.search(r"(^|[^<])>>?\s*/tmp/[^\s$\"]", line) and not line.lstrip().startswith("#"):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


def test_make_up_and_the_compose_test_generate_the_secrets_before_using_them():
    up = (ROOT / "scripts" / "up.sh").read_text()
    assert 0 <= up.index("\nscripts/env-file.sh\n") < up.index("source scripts/lib/common.sh"), "up.sh: .env before common.sh reads it"
    compose_test = (ROOT / "scripts" / "test-compose.sh").read_text()
    assert compose_test.index('scripts/env-file.sh "$env_file"') < compose_test.index("compose up -d")
