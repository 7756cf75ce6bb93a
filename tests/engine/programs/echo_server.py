"""A replica for tests: serves on $PORT, ready on /v2/health/ready, reports itself on /self.

`/self` answers with the process's argv, cwd, environment and pid, so tests can check what the
engine launched without reaching into it.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/v2/health/ready":
            self._send(200, {"ready": True})
        elif self.path == "/self":
            me = {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "pid": os.getpid()}
            self._send(200, me)
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep replica logs to what the tests print

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"echo server on {os.environ['PORT']}", flush=True)
    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
