#!/usr/bin/env python3
"""A minimal Alertmanager webhook receiver for monitoring tests (the real one is `rps alerts-sink`).

POST /alerts with Alertmanager's webhook payload: appends one JSON line per alert to --out
({receivedAt, receiver, groupKey, status, labels, annotations, startsAt, endsAt, fingerprint}) and
answers 200. A body that is not such a payload: 400, nothing written. With --token-file, like
`rps alerts-sink`: a POST without "Authorization: Bearer <the file's token>" is answered 401 and
nothing is written (proves Alertmanager's http_config sends the token). Stdlib only.

  webhook_sink.py --port 0 --port-file /tmp/sink.port --out /tmp/alerts.jsonl [--token-file F]
"""

import argparse
import datetime
import hmac
import http.server
import json
import threading
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--token-file", type=Path)
    args = ap.parse_args()
    token = args.token_file.read_text().strip() if args.token_file else None
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            if self.path != "/alerts":
                self.send_error(404)
                return
            if token is not None and not hmac.compare_digest(
                self.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
            ):
                self.send_error(401, "missing or wrong bearer token")
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                alerts = body["alerts"]
                assert isinstance(alerts, list)
            except (ValueError, KeyError, AssertionError, TypeError):
                self.send_error(400, "expected an Alertmanager webhook payload")
                return
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            lines = [json.dumps({
                "receivedAt": now, "receiver": body.get("receiver"), "groupKey": body.get("groupKey"),
                "status": a.get("status"), "labels": a.get("labels", {}), "annotations": a.get("annotations", {}),
                "startsAt": a.get("startsAt"), "endsAt": a.get("endsAt"), "fingerprint": a.get("fingerprint"),
            }, sort_keys=True) for a in alerts]
            with lock, args.out.open("a") as f:
                f.write("".join(line + "\n" for line in lines))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    if args.port_file:
        args.port_file.write_text(f"{server.server_address[1]}\n")
    print(f"webhook sink on http://{args.host}:{server.server_address[1]}/alerts -> {args.out}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
