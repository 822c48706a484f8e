#!/usr/bin/env python3
"""The README's first run, followed literally on a fresh clone (issue 17): the documentation cannot
drift from the code.

Takes the shell blocks of README.md between `<!-- readme-test:first-run -->` and
`<!-- /readme-test:first-run -->`, clones this repository (HEAD plus the working tree's uncommitted
changes) into a temporary directory and runs every command there in order, as a user would paste
it. Checks on top of each command's exit status:
  - every `curl` that POSTs to /predict answers 200 with one finite prediction per instance;
  - after `make up`, every http://127.0.0.1 address of its closing summary and of the README's
    URL table (between `<!-- readme-test:urls -->` markers) answers below 400;
  - after `make down`, nothing listens on the stack's ports any more.
The clone's installs reuse the machine's package caches (npm, pip, Go). The stack's ports are moved
to free ones (RPS_*_PORT, and the same substitution in the commands' `127.0.0.1:<port>` text), so a
`make up` already running on this machine is left alone. Usage: scripts/readme_first_run.py
(RPS_README_TEST_KEEP=1 keeps the clone). Stdlib only: runs on the system Python.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {
    "RPS_MINIO_PORT": 9000, "RPS_MINIO_CONSOLE_PORT": 9001, "RPS_MLFLOW_PORT": 5000, "RPS_AIRFLOW_PORT": 8080,
    "RPS_API_PORT": 8000, "RPS_PROMETHEUS_PORT": 9090, "RPS_ALERTMANAGER_PORT": 9093, "RPS_ALERT_SINK_PORT": 9095,
}
COMMAND_TIMEOUT_S = 45 * 60


def log(msg: str) -> None:
    print(f"readme-test: {msg}", file=sys.stderr, flush=True)


def section(text: str, name: str) -> str:
    m = re.search(rf"<!-- readme-test:{name} -->(.*?)<!-- /readme-test:{name} -->", text, re.DOTALL)
    if not m:
        raise SystemExit(f"readme-test: README.md has no <!-- readme-test:{name} --> ... <!-- /readme-test:{name} --> section")
    return m.group(1)


def commands(block_text: str) -> list[str]:
    """Shell commands of the fenced blocks, one per line (a trailing backslash continues it)."""
    out: list[str] = []
    for block in re.findall(r"```(?:sh|bash|shell)?\n(.*?)```", block_text, re.DOTALL):
        pending = ""
        for line in block.splitlines():
            pending += line
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            if pending.strip() and not pending.strip().startswith("#"):
                out.append(pending.strip())
            pending = ""
    if not out:
        raise SystemExit("readme-test: the first-run section has no commands")
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def fresh_clone(dest: Path) -> None:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    # What is on disk, not only what is committed: the working tree's changes and new files.
    diff = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary"], check=True, capture_output=True).stdout
    if diff.strip():
        subprocess.run(["git", "-C", str(dest), "apply", "--whitespace=nowarn"], input=diff, check=True)
    untracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "--others", "--exclude-standard", "-z"], check=True, capture_output=True).stdout
    for rel in filter(None, untracked.decode().split("\0")):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)


def clean_env(ports: dict[str, int]) -> dict[str, str]:
    """The caller's environment without rps/MLflow/S3/Airflow settings (a new user has none), plus the moved ports."""
    drop = ("RPS_", "_RPS_", "MLFLOW_", "AWS_", "AIRFLOW_", "DVC_", "GIT_DIR", "GIT_WORK_TREE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update({k: str(v) for k, v in ports.items()})
    env["NO_COLOR"] = "1"
    return env


def substitute(cmd: str, ports: dict[str, int]) -> str:
    for key, default in DEFAULT_PORTS.items():
        cmd = re.sub(rf"\b(127\.0\.0\.1|localhost):{default}\b", rf"\g<1>:{ports[key]}", cmd)
    return cmd


def run(cmd: str, cwd: Path, env: dict[str, str], logf) -> tuple[int, str, str]:
    """Runs one command. curl's stdout is kept apart (the answer is checked); anything else streams
    its output, stderr merged, to the log and to stderr (a long `make up` shows its progress)."""
    log(f"$ {cmd}")
    logf.write(f"$ {cmd}\n")
    started = time.monotonic()
    separate = cmd.startswith("curl")
    p = subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE if separate else subprocess.STDOUT, text=True)
    timer = threading.Timer(COMMAND_TIMEOUT_S, p.kill)
    timer.start()
    try:
        if separate:
            out, err = p.communicate()
            logf.write(f"{out}\n{err}")
        else:
            lines = []
            for line in p.stdout:
                lines.append(line)
                logf.write(line)
                sys.stderr.write(f"  | {line}")
            p.wait()
            out, err = "", "".join(lines)
    finally:
        timer.cancel()
    logf.write(f"--- exit {p.returncode} after {time.monotonic() - started:.0f} s\n")
    logf.flush()
    log(f"  exit {p.returncode} after {time.monotonic() - started:.0f} s")
    return p.returncode, out, err


def check_prediction(cmd: str, out: str) -> str | None:
    try:
        body = json.loads(out)
    except ValueError:
        return f"not JSON: {out[:300]}"
    preds = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(preds, list) or not preds:
        return f"no predictions: {out[:300]}"
    for p in preds:
        if not isinstance(p.get("prediction"), (int, float)) or not math.isfinite(p["prediction"]):
            return f"bad prediction {p}"
    log(f"  {len(preds)} prediction(s), first {preds[0]['prediction']:.2f} (target time {preds[0].get('target_time')})")
    return None


def summary_urls(output: str) -> list[str]:
    """The address of each line of make up's closing summary (after "make up: done"), not the example curl."""
    tail = output.rsplit("make up: done", 1)[-1]
    urls = []
    for line in tail.splitlines()[1:]:
        if "curl" in line:
            continue
        m = re.search(r"http://127\.0\.0\.1:\d+[^\s)(,]*", line)
        if m:
            urls.append(m.group(0))
    return urls


def check_urls(urls: list[str]) -> list[str]:
    bad = []
    for url in sorted(set(urls)):
        target = url.split("#", 1)[0]
        try:
            with urllib.request.urlopen(target, timeout=15) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except (OSError, ValueError) as e:
            bad.append(f"{url}: {e}")
            continue
        log(f"  {status} {url}")
        if status >= 400:
            bad.append(f"{url}: HTTP {status}")
    return bad


def env_example_problems() -> list[str]:
    """.env.example says it shows the built-in defaults: each active line the scripts default must match."""
    pairs = re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE)
    script = "source scripts/lib/common.sh; " + "; ".join(f'printf "%s=%s\\n" {k} "${{{k}-<unset>}}"' for k, _ in pairs)
    r = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                       env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), "RPS_ENV_FILE": "/dev/null"})
    defaults = dict(line.split("=", 1) for line in r.stdout.splitlines())
    return [f".env.example {k}={v!r} but the built-in default is {defaults[k]!r}" for k, v in pairs if defaults.get(k, "<unset>") not in ("<unset>", v)]


def main() -> int:
    readme = (ROOT / "README.md").read_text()
    if problems := env_example_problems():
        for p in problems:
            log(f"FAILED: {p}")
        return 1
    cmds = commands(section(readme, "first-run"))
    table_urls = re.findall(r"http://127\.0\.0\.1:\d+[^\s|)`<]*", section(readme, "urls"))
    ports = {k: free_port() for k in DEFAULT_PORTS}
    work = Path(tempfile.mkdtemp(prefix="rps-readme-"))
    clone = work / "rps"
    log_path = ROOT / ".rps" / "readme-test.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    up_ran = down_ran = False
    env = clean_env(ports)
    started = time.monotonic()
    with open(log_path, "w") as logf:
        try:
            fresh_clone(clone)
            log(f"fresh clone in {clone}; ports moved: {', '.join(f'{DEFAULT_PORTS[k]}->{v}' for k, v in ports.items())}; log {log_path}")
            for raw in cmds:
                cmd = substitute(raw, ports)
                rc, out, err = run(cmd, clone, env, logf)
                up_ran = up_ran or bool(re.match(r"make\s+up\b", raw))  # a failed make up may have started services
                if rc != 0:
                    failures.append(f"`{raw}` exited {rc}:\n{(out + err)[-3000:]}")
                    break
                if re.match(r"make\s+up\b", raw):
                    log(f"  first run took {time.monotonic() - started:.0f} s; the clone uses {du(clone)}")
                    summary = summary_urls(err)
                    sink = str(ports["RPS_ALERT_SINK_PORT"])
                    urls = [u for u in summary + [substitute(u, ports) for u in table_urls] if f":{sink}/" not in u]  # the sink only takes POST
                    failures += check_urls(urls)
                elif re.match(r"make\s+down\b", raw):
                    down_ran = True
                    still = [f"{k} {p}" for k, p in ports.items() if listening(p)]
                    if still:
                        failures.append(f"after make down, still listening: {', '.join(still)}")
                elif raw.startswith("curl") and "/predict" in raw:
                    problem = check_prediction(raw, out)
                    if problem:
                        failures.append(f"`{raw}`: {problem}")
            if not failures and not (up_ran and down_ran):
                failures.append("the first-run section must contain `make up` and `make down`")
        finally:
            if up_ran and not down_ran:
                run("make down", clone, env, logf)
            if os.environ.get("RPS_README_TEST_KEEP") == "1" or not clone.exists():
                log(f"kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    if failures:
        for f in failures:
            log(f"FAILED: {f}")
        return 1
    log(f"passed: {len(cmds)} README commands on a fresh clone in {time.monotonic() - started:.0f} s")
    return 0


def du(path: Path) -> str:
    r = subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True, check=False)
    return r.stdout.split()[0] if r.returncode == 0 and r.stdout else "?"


if __name__ == "__main__":
    sys.exit(main())
