#!/usr/bin/env python3
"""A stand-in for `rps serve`'s GET /metrics, for monitoring tests that must not need the real server.

Serves the rps metric contract (names, labels, buckets) in the Prometheus text format. Each scrape
advances a simulated minute of traffic, so counters grow and rate() has something to show:
`--requests` POST /predict requests (3 instances each), a share `--ood-ratio` of them with an
out-of-distribution feature, every one taking `--latency` seconds, plus one 4xx, one 5xx and one
GET /health. The model gauges describe one served model (rps_model_info with its promotion trigger,
its validation MAE `--validation-mae`) and the live error gauges that rps serve reads from
live-errors.json: MAE `--live-mae` (model) and `--persistence-mae` over 24h, 0.1 more over 7d, RMSE
1.25 x MAE, sample counts and the time of the last update; per horizon 1 and 6 the live errors, the
bands' coverage (the 6 h 80 % band covers `--coverage-80` over 7d, the others their level) with its
shortfall, and the live bands' half-width and ACI alpha. Stdlib only.

  fake_exporter.py --port 0 --port-file /tmp/x.port [--ood-ratio 0.9] [--latency 2.0]
                   [--live-mae 0.8] [--persistence-mae 1.4] [--validation-mae 0.7] [--coverage-80 0.8]
"""

import argparse
import http.server
import math
import threading
import time
from pathlib import Path

BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
FEATURES = ["temperature_2m", "relative_humidity_2m", "wind_speed_10m", "surface_pressure"]


class Traffic:
    def __init__(self, requests: int, ood_ratio: float, latency: float, live_mae: float = 0.8,
                 persistence_mae: float = 1.4, validation_mae: float = 0.7, coverage_80: float = 0.8):
        self.lock = threading.Lock()
        self.requests, self.ood_ratio, self.latency = requests, ood_ratio, latency
        self.live_mae, self.persistence_mae, self.validation_mae = live_mae, persistence_mae, validation_mae
        self.coverage_80 = coverage_80
        self.hist = {}       # (route, method, status) -> [bucket counts..., +Inf count, sum]
        self.counts = {}     # (route, method, status) -> requests
        self.predictions = 0
        self.prediction_requests = 0
        self.ood_requests = 0
        self.feature_ood = {f: 0 for f in FEATURES}
        self.reloaded_at = time.time()

    def _observe(self, key, seconds, n=1):
        h = self.hist.setdefault(key, [0] * (len(BUCKETS) + 1) + [0.0])
        for i, le in enumerate(BUCKETS):
            if seconds <= le:
                h[i] += n
        h[len(BUCKETS)] += n
        h[-1] += seconds * n
        self.counts[key] = self.counts.get(key, 0) + n

    def tick(self):
        with self.lock:
            n = self.requests
            ood = round(n * self.ood_ratio)
            self._observe(("/predict", "POST", "200"), self.latency, n)
            self._observe(("/predict", "POST", "422"), 0.002)
            self._observe(("/predict", "POST", "500"), 0.004)
            self._observe(("/health", "GET", "200"), 0.0005)
            self.predictions += 3 * n
            self.prediction_requests += n
            self.ood_requests += ood
            for i, f in enumerate(FEATURES):
                self.feature_ood[f] += ood // (i + 1)

    def render(self) -> str:
        with self.lock:
            out = []

            def metric(name, kind, help_, samples):
                out.append(f"# HELP {name} {help_}")
                out.append(f"# TYPE {name} {kind}")
                out.extend(samples)

            def lbl(route, method, status):
                return f'route="{route}",method="{method}",status="{status}"'

            hist = []
            for (route, method, status), h in sorted(self.hist.items()):
                base = lbl(route, method, status)
                for i, le in enumerate(BUCKETS):
                    hist.append(f'rps_http_request_duration_seconds_bucket{{{base},le="{le:g}"}} {h[i]}')
                hist.append(f'rps_http_request_duration_seconds_bucket{{{base},le="+Inf"}} {h[len(BUCKETS)]}')
                hist.append(f"rps_http_request_duration_seconds_sum{{{base}}} {h[-1]:.6f}")
                hist.append(f"rps_http_request_duration_seconds_count{{{base}}} {h[len(BUCKETS)]}")
            metric("rps_http_request_duration_seconds", "histogram", "HTTP request duration.", hist)
            metric("rps_http_requests_total", "counter", "HTTP requests.",
                   [f"rps_http_requests_total{{{lbl(*k)}}} {v}" for k, v in sorted(self.counts.items())])
            metric("rps_predictions_total", "counter", "Predicted instances.", [f"rps_predictions_total {self.predictions}"])
            metric("rps_prediction_requests_total", "counter", "Prediction requests.",
                   [f"rps_prediction_requests_total {self.prediction_requests}"])
            metric("rps_prediction_requests_ood_total", "counter", "Prediction requests with an OOD feature.",
                   [f"rps_prediction_requests_ood_total {self.ood_requests}"])
            metric("rps_ood_ratio", "gauge", "OOD share of the last prediction requests.", [f"rps_ood_ratio {self.ood_ratio}"])
            metric("rps_feature_ood_total", "counter", "OOD values per feature.",
                   [f'rps_feature_ood_total{{feature="{f}"}} {v}' for f, v in self.feature_ood.items()])
            metric("rps_model_info", "gauge", "Served model.",
                   ['rps_model_info{name="rps-temperature",version="3",alias="champion",trigger="concept_drift"} 1'])
            metric("rps_model_last_reload_timestamp_seconds", "gauge", "Last model reload.",
                   [f"rps_model_last_reload_timestamp_seconds {self.reloaded_at:.3f}"])
            metric("rps_model_validation_mae", "gauge", "Validation MAE of the served model.",
                   [f"rps_model_validation_mae {self.validation_mae:g}"])
            metric("rps_model_digest_mismatch_total", "counter", "Models refused for a file that differs from its recorded sha256.",
                   ["rps_model_digest_mismatch_total 0"])
            metric("rps_model_unverified", "gauge", "The served model had no recorded digests.", ["rps_model_unverified 0"])
            mae = {("24h", "model"): self.live_mae, ("24h", "persistence"): self.persistence_mae,
                   ("7d", "model"): self.live_mae + 0.1, ("7d", "persistence"): self.persistence_mae + 0.1}
            metric("rps_live_error_mae", "gauge", "Live MAE.",
                   [f'rps_live_error_mae{{window="{w}",model="{m}"}} {v:g}' for (w, m), v in mae.items()])
            metric("rps_live_error_rmse", "gauge", "Live RMSE.",
                   [f'rps_live_error_rmse{{window="{w}",model="{m}"}} {1.25 * v:g}' for (w, m), v in mae.items()])
            metric("rps_live_error_samples", "gauge", "Scored forecasts per window.",
                   ['rps_live_error_samples{window="24h"} 24', 'rps_live_error_samples{window="7d"} 168'])
            metric("rps_live_error_updated_timestamp_seconds", "gauge", "Last live error update.",
                   [f"rps_live_error_updated_timestamp_seconds {self.reloaded_at:.3f}"])
            # per horizon (by_horizon and intervals of live-errors.json)
            horizons = {"1": 0.5, "6": self.live_mae}
            samples = {"24h": 24, "7d": 168}
            hw = [(w, h) for w in samples for h in horizons]
            metric("rps_live_horizon_error_rmse", "gauge", "Live RMSE per horizon.",
                   [f'rps_live_horizon_error_rmse{{window="{w}",horizon="{h}"}} {1.25 * horizons[h]:g}' for w, h in hw])
            metric("rps_live_horizon_error_mae", "gauge", "Live MAE per horizon.",
                   [f'rps_live_horizon_error_mae{{window="{w}",horizon="{h}"}} {horizons[h]:g}' for w, h in hw])
            metric("rps_live_horizon_error_samples", "gauge", "Scored forecasts per horizon.",
                   [f'rps_live_horizon_error_samples{{window="{w}",horizon="{h}"}} {samples[w]}' for w, h in hw])
            metric("rps_live_interval_samples", "gauge", "Scored forecasts with bands per horizon.",
                   [f'rps_live_interval_samples{{window="{w}",horizon="{h}"}} {samples[w]}' for w, h in hw])
            levels = ["0.8", "0.95"]
            coverage = {(w, h, lv): (self.coverage_80 if (w, h, lv) == ("7d", "6", "0.8") else float(lv))
                        for w, h in hw for lv in levels}
            metric("rps_live_interval_coverage_ratio", "gauge", "Live band coverage.",
                   [f'rps_live_interval_coverage_ratio{{window="{w}",horizon="{h}",level="{lv}"}} {c:g}'
                    for (w, h, lv), c in coverage.items()])
            metric("rps_live_interval_coverage_shortfall", "gauge", "Band level minus live coverage.",
                   [f'rps_live_interval_coverage_shortfall{{window="{w}",horizon="{h}",level="{lv}"}} {float(lv) - c:g}'
                    for (w, h, lv), c in coverage.items()])
            metric("rps_interval_half_width", "gauge", "Live band half-width.",
                   [f'rps_interval_half_width{{horizon="{h}",level="{lv}"}} {mae * (2 if lv == "0.95" else 1.3):g}'
                    for h, mae in horizons.items() for lv in levels])
            metric("rps_interval_aci_alpha", "gauge", "ACI miscoverage target.",
                   [f'rps_interval_aci_alpha{{horizon="{h}",level="{lv}"}} {1 - float(lv):g}' for h in horizons for lv in levels])
            # the newest drift check (rps serve reads it from reports/drift/drift.json)
            metric("rps_drift_psi", "gauge", "Window PSI per variable.",
                   ['rps_drift_psi{variable="temperature_2m"} 0.42', 'rps_drift_psi{variable="surface_pressure"} 0.12'])
            metric("rps_drift_psi_threshold", "gauge", "Calibrated PSI threshold per variable.",
                   ['rps_drift_psi_threshold{variable="temperature_2m"} 0.6', 'rps_drift_psi_threshold{variable="surface_pressure"} 0.3'])
            metric("rps_drift_retrain", "gauge", "Newest drift decision.", ['rps_drift_retrain{trigger="none"} 0'])
            metric("rps_drift_model_age_seconds", "gauge", "Model age at the drift check.", ["rps_drift_model_age_seconds 259200"])
            return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port (see --port-file)")
    ap.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    ap.add_argument("--requests", type=int, default=20, help="POST /predict per scrape")
    ap.add_argument("--ood-ratio", type=float, default=0.9)
    ap.add_argument("--latency", type=float, default=2.0, help="seconds per POST /predict")
    ap.add_argument("--live-mae", type=float, default=0.8, help="rps_live_error_mae of the model, 24h (7d: +0.1)")
    ap.add_argument("--persistence-mae", type=float, default=1.4, help="rps_live_error_mae of persistence, 24h (7d: +0.1)")
    ap.add_argument("--validation-mae", type=float, default=0.7, help="rps_model_validation_mae")
    ap.add_argument("--coverage-80", type=float, default=0.8, help="7d live coverage of the 6 h 80 %% band")
    args = ap.parse_args()
    if not (0 <= args.ood_ratio <= 1 and args.latency > 0 and not math.isinf(args.latency)):
        ap.error("--ood-ratio must be in [0, 1] and --latency a positive number")
    maes = (args.live_mae, args.persistence_mae, args.validation_mae)
    if not all(v > 0 and math.isfinite(v) for v in maes):
        ap.error("--live-mae, --persistence-mae and --validation-mae must be positive numbers")
    if not 0 <= args.coverage_80 <= 1:
        ap.error("--coverage-80 must be in [0, 1]")
    traffic = Traffic(args.requests, args.ood_ratio, args.latency, *maes, args.coverage_80)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            traffic.tick()
            body = traffic.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    if args.port_file:
        args.port_file.write_text(f"{server.server_address[1]}\n")
    print(f"fake rps exporter on http://{args.host}:{server.server_address[1]}/metrics", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
