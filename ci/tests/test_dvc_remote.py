"""scripts/dvc-remote.sh (run by `make up`, `make pull`, the CI DAG run) with the real DVC: it sets
up the stack's remote `storage`, and never overwrites a remote the user chose."""

from __future__ import annotations

import configparser
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


def config(repo: Path, tmp_path: Path) -> dict[str, str]:
    """DVC's merged configuration (global, then project, then local), read from the files without
    starting DVC (a second each): {"core.remote": ..., "remote.NAME.url": ...}."""
    merged: dict[str, str] = {}
    for path in (tmp_path / "xdg" / "dvc" / "config", repo / ".dvc" / "config", repo / ".dvc" / "config.local"):
        parser = configparser.ConfigParser()
        parser.read(path)
        for section in parser.sections():
            name = section.strip("'").replace('remote "', "remote.").rstrip('"')
            merged.update({f"{name}.{k}": v for k, v in parser[section].items()})
    return merged


def local_config(repo: Path) -> str:
    path = repo / ".dvc" / "config.local"
    return path.read_text() if path.exists() else ""


def setup(repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run(["scripts/dvc-remote.sh", str(repo)], env=env(tmp_path), timeout=120)


def test_when_nothing_is_configured_then_storage_becomes_the_default_with_local_credentials(repo, tmp_path):
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    conf = config(repo, tmp_path)
    assert (conf["core.remote"], conf["remote.storage.url"]) == ("storage", "s3://rps-data/dvc")
    assert conf["remote.storage.endpointurl"] == "http://127.0.0.1:9123"
    assert "endpointurl" not in (repo / ".dvc" / "config").read_text()  # only in the git-ignored config.local
    committed = (repo / ".dvc" / "config").read_text()
    assert setup(repo, tmp_path).returncode == 0 and (repo / ".dvc" / "config").read_text() == committed  # a re-run changes nothing


@pytest.mark.parametrize("level", ["--project", "--local", "--global"])
def test_when_the_user_set_another_default_remote_then_it_is_kept(repo, tmp_path, level):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", level, "dagshub", "https://dagshub.com/me/rps.dvc")
    dvc(repo, tmp_path, "remote", "default", level, "dagshub")
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "default remote 'dagshub' is yours: kept" in result.stderr
    conf = config(repo, tmp_path)
    assert (conf["core.remote"], conf["remote.dagshub.url"]) == ("dagshub", "https://dagshub.com/me/rps.dvc")
    assert "remote.dagshub.endpointurl" not in conf
    # The stack's remote is there too, for `dvc push -r storage`, but not the default.
    assert conf["remote.storage.url"] == "s3://rps-data/dvc"
    assert dvc(repo, tmp_path, "config", "core.remote") == "dagshub"  # as DVC itself resolves it


def test_when_the_user_pointed_storage_elsewhere_then_its_url_and_credentials_are_untouched(repo, tmp_path):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", "--project", "-d", "storage", "https://dagshub.com/me/rps.dvc")
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "remote storage points at https://dagshub.com/me/rps.dvc, not a bucket of this stack: it is yours" in result.stderr
    assert config(repo, tmp_path)["remote.storage.url"] == "https://dagshub.com/me/rps.dvc"
    assert "endpointurl" not in local_config(repo)


def test_when_the_stack_bucket_changes_then_the_stack_remote_follows(repo, tmp_path):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", "--project", "-d", "storage", "s3://old-bucket/dvc")
    result = setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert config(repo, tmp_path)["remote.storage.url"] == "s3://rps-data/dvc"


SHARED = {"RPS_DVC_S3_ENDPOINT": "https://dagshub.com/api/v1/repo-buckets/s3/me", "RPS_DVC_S3_BUCKET": "rps",
          "RPS_DVC_ACCESS_KEY_ID": "dagshub-token-id", "RPS_DVC_SECRET_ACCESS_KEY": "dagshub-token-secret"}


def shared_setup(repo: Path, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return run(["scripts/dvc-remote.sh", str(repo)], env=env(tmp_path) | SHARED | extra, timeout=120)


def test_when_a_shared_remote_is_given_then_storage_is_it_and_the_default_in_config_local_only(repo, tmp_path):
    dvc(repo, tmp_path, "init", "-q")
    dvc(repo, tmp_path, "remote", "add", "--project", "-d", "dagshub", "https://dagshub.com/me/rps.dvc")
    result = shared_setup(repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "remote storage (default): the shared s3://rps/dvc via https://dagshub.com/api/v1/repo-buckets/s3/me" in result.stderr
    assert "dagshub-token-secret" not in result.stderr + result.stdout
    # DVC itself resolves the shared remote as the default, with its endpoint and keys, not the stack's.
    assert dvc(repo, tmp_path, "config", "core.remote") == "storage"
    assert dvc(repo, tmp_path, "config", "remote.storage.url") == "s3://rps/dvc"
    conf = config(repo, tmp_path)
    assert (conf["remote.storage.endpointurl"], conf["remote.storage.access_key_id"]) == (SHARED["RPS_DVC_S3_ENDPOINT"], "dagshub-token-id")
    assert conf["remote.storage.secret_access_key"] == "dagshub-token-secret"
    # The committed config keeps the user's default; nothing shared is in it.
    assert dvc(repo, tmp_path, "config", "--project", "core.remote") == "dagshub"
    assert "dagshub-token" not in (repo / ".dvc" / "config").read_text() and "repo-buckets" not in (repo / ".dvc" / "config").read_text()


def test_when_a_local_run_follows_a_shared_one_then_the_stack_remote_is_back(repo, tmp_path):
    assert shared_setup(repo, tmp_path).returncode == 0
    again = setup(repo, tmp_path)
    assert again.returncode == 0, again.stderr
    assert dvc(repo, tmp_path, "config", "remote.storage.url") == "s3://rps-data/dvc"
    assert dvc(repo, tmp_path, "config", "core.remote") == "storage"
    assert config(repo, tmp_path)["remote.storage.endpointurl"] == "http://127.0.0.1:9123"
    assert "dagshub-token" not in local_config(repo)


def test_when_a_shared_remote_lacks_its_keys_then_nothing_is_configured(repo, tmp_path):
    result = run(["scripts/dvc-remote.sh", str(repo)], env=env(tmp_path) | {**SHARED, "RPS_DVC_SECRET_ACCESS_KEY": ""}, timeout=120)
    assert result.returncode == 1
    assert "RPS_DVC_S3_ENDPOINT is set (a shared DVC remote) but RPS_DVC_SECRET_ACCESS_KEY is not" in result.stderr
    assert not (repo / ".dvc").exists()
