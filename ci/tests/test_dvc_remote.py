"""scripts/dvc-remote.sh (run by `make up`, `make pull`, the CI DAG run) with the real DVC: it sets
up the stack's remote `storage`, and never overwrites a remote the user chose."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run

DVC = ROOT / ".rps" / "venv" / "bin" / "dvc"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if not DVC.exists():
        pytest.fail(f"{DVC} missing: run scripts/install-python.sh first")
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    return path


def env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("RPS_", "AWS_", "DVC_"))}
    # DVC's global and system config live under these: the developer's own stay out of the test.
    return base | {"RPS_ENV_FILE": "/dev/null", "HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                   "RPS_S3_BUCKET": "rps-data", "RPS_MINIO_PORT": "9123"}


def dvc(repo: Path, tmp_path: Path, *args: str) -> str:
    result = subprocess.run([str(DVC), *args], cwd=repo, env=env(tmp_path), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def setup(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run(["scripts/dvc-remote.sh", str(repo)], env=env(tmp_path), timeout=120)


def test_when_nothing_is_configured_then_storage_becomes_the_default_with_local_credentials(repo, tmp_path):
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert dvc(repo, tmp_path, "config", "core.remote") == "storage"
    assert dvc(repo, tmp_path, "config", "remote.storage.url") == "s3://rps-data/dvc"
    assert dvc(repo, tmp_path, "config", "--local", "remote.storage.endpointurl") == "http://127.0.0.1:9123"
    assert "endpointurl" not in (repo / ".dvc" / "config").read_text()  # only in the git-ignored config.local
    config = (repo / ".dvc" / "config").read_text()
    assert setup(repo, tmp_path).returncode == 0 and (repo / ".dvc" / "config").read_text() == config  # a re-run changes nothing


@pytest.mark.parametrize("level", ["--project", "--local", "--global"])
def test_when_the_user_set_another_default_remote_then_it_is_kept(repo, tmp_path, level):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", level, "dagshub", "https://dagshub.com/me/rps.dvc")
    dvc(repo, tmp_path, "remote", "default", level, "dagshub")
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "default remote 'dagshub' is yours: kept" in result.stderr
    assert dvc(repo, tmp_path, "config", "core.remote") == "dagshub"
    assert dvc(repo, tmp_path, "config", "remote.dagshub.url") == "https://dagshub.com/me/rps.dvc"
    # The stack's remote is there too, for `dvc push -r storage`, but not the default.
    assert dvc(repo, tmp_path, "config", "remote.storage.url") == "s3://rps-data/dvc"
    assert "endpointurl" not in dvc(repo, tmp_path, "config", "--list", "--local").replace("remote.storage.endpointurl", "")


def test_when_the_user_pointed_storage_elsewhere_then_its_url_and_credentials_are_untouched(repo, tmp_path):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", "--project", "-d", "storage", "https://dagshub.com/me/rps.dvc")
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "remote storage points at https://dagshub.com/me/rps.dvc, not a bucket of this stack: it is yours" in result.stderr
    assert dvc(repo, tmp_path, "config", "remote.storage.url") == "https://dagshub.com/me/rps.dvc"
    assert not (repo / ".dvc" / "config.local").exists() or "endpointurl" not in (repo / ".dvc" / "config.local").read_text()


def test_when_the_stack_bucket_changes_then_the_stack_remote_follows(repo, tmp_path):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", "--project", "-d", "storage", "s3://old-bucket/dvc")
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert dvc(repo, tmp_path, "config", "remote.storage.url") == "s3://rps-data/dvc"
