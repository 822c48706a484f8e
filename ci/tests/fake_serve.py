"""A stand-in for `rps serve` with switchable failure modes, for the scripts/verify-deployment tests.

Modes (FakeServe(mode=...)):
  healthy        /health 200, /ready 200, /model with an example, /predict a valid answer
  slow-ready     like healthy, but /ready answers 503 for the first `ready_after` seconds
  unhealthy      /health 200, /ready 503 forever
  health-500     /health 500 forever
  no-example     /model without `example`
  predict-500    /predict answers 500 {"error": ...}
  predict-shape  /predict answers 200 {"result": ...} (no predictions list)
  predict-two    /predict answers 2 predictions for 1 instance
  predict-nan    /predict answers prediction NaN (a bare NaN token, as some JSON encoders write it)
  predict-null   /predict answers prediction null (what JSON.stringify(NaN) gives)
  predict-time   /predict answers target_time "tomorrow"
  predict-notime /predict answers without target_time
  null-time      like healthy, but target_time null (what rps serve answers for explicit features)
  predict-model  /predict answers without model {name, version}
  predict-html   /predict answers 200 with an HTML page
  predict-band   /predict answers a path whose +2 h band does not hold its value
Every request is recorded in `requests` as (method, path, parsed JSON body or None).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FEATURES = {"temperature_2m": 12.5, "temperature_2m_lag_1": 12.1, "relative_humidity_2m": 71.0}
MODEL = {
    "name": "rps-temperature",
    "version": "3",
    "alias": "champion",
    "features": list(FEATURES),
    "example": {"features": FEATURES},
}


class FakeServe:
    def __init__(self, mode: str = "healthy", ready_after: float = 0.0) -> None:
        self.mode = mode
        self.ready_after = ready_after
        self.requests: list[tuple[str, str, object]] = []
        self.started = time.monotonic()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeServe":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, method: str, path: str, body: object) -> tuple[int, bytes, str]:
        mode = self.mode
        if path == "/health":
            if mode == "health-500":
                return 500, b'{"error":"internal"}', "application/json"
            return 200, b'{"status":"ok"}', "application/json"
        if path == "/ready":
            not_yet = mode == "slow-ready" and time.monotonic() - self.started < self.ready_after
            if mode == "unhealthy" or not_yet:
                return 503, b'{"status":"loading"}', "application/json"
            return 200, b'{"status":"ready"}', "application/json"
        if path == "/model" and method == "GET":
            model = dict(MODEL)
            if mode == "no-example":
                del model["example"]
            return 200, json.dumps(model).encode(), "application/json"
        if path == "/predict" and method == "POST":
            good = {
                "prediction": 14.2, "target_time": "2026-06-01T06:00:00.000Z", "model": {"name": "rps-temperature", "version": "3"},
                "path": [{"horizon": 6, "target_time": "2026-06-01T06:00:00.000Z", "value": 14.2, "interval_80": [12.9, 15.5], "interval_95": [12.1, 16.3]}],
            }
            if mode == "predict-500":
                return 500, b'{"error":"internal error"}', "application/json"
            if mode == "predict-html":
                return 200, b"<html>oops</html>", "text/html"
            if mode == "predict-shape":
                return 200, json.dumps({"result": [good]}).encode(), "application/json"
            if mode == "predict-two":
                return 200, json.dumps({"predictions": [good, good]}).encode(), "application/json"
            if mode == "predict-nan":
                raw = json.dumps({"predictions": [dict(good, prediction=float("nan"))]})
                return 200, raw.encode(), "application/json"
            if mode == "predict-null":
                return 200, json.dumps({"predictions": [dict(good, prediction=None)]}).encode(), "application/json"
            if mode == "null-time":
                return 200, json.dumps({"predictions": [dict(good, target_time=None)]}).encode(), "application/json"
            if mode == "predict-notime":
                return 200, json.dumps({"predictions": [{k: v for k, v in good.items() if k != "target_time"}]}).encode(), "application/json"
            if mode == "predict-time":
                return 200, json.dumps({"predictions": [dict(good, target_time="tomorrow")]}).encode(), "application/json"
            if mode == "predict-band":
                path = [{"horizon": 1, "value": 13.0, "interval_80": [12.0, 14.0]}, {"horizon": 2, "value": 13.5, "interval_80": [14.0, 15.0]}]
                return 200, json.dumps({"predictions": [dict(good, path=path)]}).encode(), "application/json"
            if mode == "predict-model":
                return 200, json.dumps({"predictions": [{k: v for k, v in good.items() if k != "model"}]}).encode(), "application/json"
            instances = body.get("instances") if isinstance(body, dict) else None
            if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0].get("features"), dict):
                return 400, b'{"error":"instances must be a list of {features}"}', "application/json"
            return 200, json.dumps({"predictions": [good]}).encode(), "application/json"
        return 404, b'{"error":"not found"}', "application/json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                fake.requests.append((self.command, self.path, body))
                status, payload, ctype = fake.answer(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        return Handler
