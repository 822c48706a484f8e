#!/usr/bin/env python3
"""Run every PromQL expression of the Grafana dashboards and alert rules against a Prometheus.

Extracts the `expr` of every panel target in grafana/dashboards/*.json (rows' nested panels too), of
every Prometheus annotation query of those dashboards (annotations.list[].expr, or .target.expr), and
of every query in grafana/provisioning/alerting/*.yml, replaces Grafana's built-in variables
($__rate_interval -> 1m, $__interval -> 15s, $__range -> 1h, ...; any other $variable is an error),
sends each to <url>/api/v1/query and prints one JSON document:

  {"prometheus": URL, "failed": N, "queries": [{"source", "kind", "expr", "query", "status",
   "resultCount", "ok", "problem"?}, ...]}

`kind` is "panel", "annotation" or "alert". `status` is Prometheus's ("success"/"error"), or
"unreachable"; `resultCount` the number of series (1 for a scalar). Exit 0 when every query succeeded
(and, with --require-data, returned at least one series, except those matching an --allow-empty regex
and annotation queries, which return series only while their event happens), 1 otherwise, 2 when the
files cannot be read. Plain python3, stdlib only.

  scripts/grafana_queries.py [--url http://127.0.0.1:9090] [--require-data] [--allow-empty REGEX]...
  scripts/grafana_queries.py --list      only print the extracted expressions, query nothing
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Grafana's global variables as a Prometheus query sees them, at a representative dashboard setting.
VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]")


class ExtractError(Exception):
    pass


def substitute(expr: str) -> str:
    unknown = []

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in VARIABLES:
            return VARIABLES[name]
        unknown.append(name)
        return m.group(0)

    out = _VAR.sub(repl, expr)
    if unknown:
        raise ExtractError(f"unknown Grafana variable(s) {', '.join('$' + u for u in unknown)} (known: "
                           f"{', '.join('$' + v for v in VARIABLES)})")
    return out


def _panels(panels):
    for panel in panels or []:
        yield panel
        yield from _panels(panel.get("panels"))


def dashboard_exprs(path: Path):
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ExtractError(f"{path}: {err}") from err
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for panel in _panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if isinstance(expr, str) and expr.strip():
                yield f"{rel}: panel {panel.get('id')} \"{panel.get('title', '')}\" {target.get('refId', '')}", expr, "panel"
    for annotation in (dashboard.get("annotations") or {}).get("list") or []:
        expr = annotation.get("expr") or (annotation.get("target") or {}).get("expr")
        if isinstance(expr, str) and expr.strip():
            yield f"{rel}: annotation \"{annotation.get('name', '')}\"", expr, "annotation"


_EXPR_LINE = re.compile(r"^\s*(?:-\s+)?expr:\s*(.*?)\s*$")
_TITLE_LINE = re.compile(r"^\s*(?:-\s+)?title:\s*(.*?)\s*$")


def _yaml_scalar(raw: str, where: str) -> str:
    if raw.startswith('"'):
        try:
            return json.loads(raw)  # a YAML double-quoted scalar in its JSON-compatible form
        except json.JSONDecodeError as err:
            raise ExtractError(f"{where}: cannot read the double-quoted expr ({err}); keep it on one line") from err
    if raw.startswith("'"):
        if not raw.endswith("'") or len(raw) < 2:
            raise ExtractError(f"{where}: single-quoted expr must end on the same line")
        return raw[1:-1].replace("''", "'")
    if raw[:1] in ("|", ">", "") or raw.startswith(("&", "*", "!")):
        raise ExtractError(f"{where}: expr as a block scalar/anchor/empty is not supported here; write it on one line")
    return re.sub(r"\s+#.*$", "", raw)


def alerting_exprs(path: Path):
    """expr values of a provisioning YAML, read line by line (no YAML library in the stdlib): one-line
    scalars only, anything else is reported rather than skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise ExtractError(f"{path}: {err}") from err
    title = ""
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("#"):
            continue
        m = _TITLE_LINE.match(line)
        if m:
            title = m.group(1).strip("\"'")
        m = _EXPR_LINE.match(line)
        if m:
            where = f"{rel}:{number}"
            yield f"{where} rule \"{title}\"", _yaml_scalar(m.group(1), where), "alert"


def collect(root: Path):
    found = []
    for path in sorted((root / "grafana" / "dashboards").glob("*.json")):
        found.extend(dashboard_exprs(path))
    alerting = root / "grafana" / "provisioning" / "alerting"
    for path in sorted([*alerting.glob("*.yml"), *alerting.glob("*.yaml")]):
        found.extend(alerting_exprs(path))
    return found


def run_query(url: str, query: str, timeout: float) -> tuple[str, int, str | None]:
    data = urllib.parse.urlencode({"query": query}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/api/v1/query", data=data,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as err:  # 400/422/503 carry a JSON error body
        try:
            body = json.loads(err.read())
        except (ValueError, OSError):
            return "error", 0, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError, ValueError) as err:
        return "unreachable", 0, str(getattr(err, "reason", err))
    status = body.get("status", "error")
    if status != "success":
        return status, 0, f"{body.get('errorType', '')}: {body.get('error', '')}".strip(": ")
    data = body.get("data", {})
    result = data.get("result")
    count = len(result) if data.get("resultType") in ("vector", "matrix") else (1 if result is not None else 0)
    return status, count, None


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=f"http://127.0.0.1:{os.environ.get('RPS_PROMETHEUS_PORT', '9090')}",
                    help="Prometheus base URL (default http://127.0.0.1:$RPS_PROMETHEUS_PORT, 9090)")
    ap.add_argument("--require-data", action="store_true", help="a query that returns no series fails")
    ap.add_argument("--allow-empty", action="append", default=[], metavar="REGEX",
                    help="with --require-data: expressions matching REGEX may return nothing (repeatable)")
    ap.add_argument("--list", action="store_true", help="print the extracted expressions only")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        allow_empty = [re.compile(r) for r in args.allow_empty]
    except re.error as err:
        ap.error(f"--allow-empty: {err}")
    try:
        found = [(source, kind, expr, substitute(expr)) for source, expr, kind in collect(args.root.resolve())]
    except ExtractError as err:
        print(f"grafana_queries: error: {err}", file=sys.stderr)
        return 2
    if not found:
        print(f"grafana_queries: error: no expressions found under {args.root}/grafana", file=sys.stderr)
        return 2
    if args.list:
        print(json.dumps([{"source": s, "kind": k, "expr": e, "query": q} for s, k, e, q in found], indent=2))
        return 0
    results, failed = [], 0
    for source, kind, expr, query in found:
        status, count, problem = run_query(args.url, query, args.timeout)
        ok = status == "success"
        if (ok and args.require_data and count == 0 and kind != "annotation"
                and not any(r.search(expr) for r in allow_empty)):
            ok, problem = False, "no series (--require-data)"
        entry = {"source": source, "kind": kind, "expr": expr, "query": query, "status": status, "resultCount": count, "ok": ok}
        if problem:
            entry["problem"] = problem
        results.append(entry)
        failed += not ok
    print(json.dumps({"prometheus": args.url, "failed": failed, "queries": results}, indent=2))
    for entry in results:
        if not entry["ok"]:
            print(f"grafana_queries: FAILED {entry['source']}: {entry.get('problem')}\n    {entry['query']}",
                  file=sys.stderr)
    print(f"grafana_queries: {len(results) - failed} of {len(results)} queries ok against {args.url}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
