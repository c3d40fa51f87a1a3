"""The leader's job-status endpoint: workers follow it instead of guessing from the master."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..spark.ports import STATUS_PORT

# Job states served by the leader.
STARTING, WAITING, RUNNING, SUCCEEDED, FAILED = "starting", "waiting_for_workers", "running", "succeeded", "failed"
FINAL = (SUCCEEDED, FAILED)


@dataclass
class Status:
    state: str = STARTING
    reason: str = ""
    acknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"state": self.state, "reason": self.reason}

    def set(self, state: str, reason: str = "") -> None:
        with self.lock:
            self.state, self.reason = state, reason


def serve_status(status: Status, bind: str, port: int = STATUS_PORT) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            snap = status.snapshot()
            host = (parse_qs(urlparse(self.path).query).get("host") or [""])[0]
            if host and snap["state"] in FINAL:
                with status.lock:
                    status.acknowledged.add(host)
            body = json.dumps(snap).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="alsreco-status", daemon=True).start()
    return server
