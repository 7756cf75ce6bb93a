"""The wrk Lua script against a real HTTP server on loopback: exact body, parsed summary."""

import http.server
import shutil
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from mlsbench import wrk

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Class-level on purpose: http.server builds a handler per request; the test reads this.
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.bodies.append(self.rfile.read(length))
        status = 200 if self.path == "/ok" else 500
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    _Recorder.bodies.clear()


def test_lua_body_survives_a_closing_long_bracket(tmp_path, http_url):
    body = b'{"inputs": [[1.5]], "note": "]]"}'
    script = tmp_path / "body.lua"
    script.write_text(wrk.lua_script(body))
    result = wrk.run(http_url + "/ok", script=script, connections=2, seconds=1, core=None)
    assert result.requests > 0
    assert result.errors == 0
    assert result.p99_ms >= result.p50_ms > 0
    assert set(_Recorder.bodies) == {body}


def test_non_2xx_answers_count_as_errors(tmp_path, http_url):
    script = tmp_path / "body.lua"
    script.write_text(wrk.lua_script(b"{}"))
    result = wrk.run(http_url + "/fail", script=script, connections=1, seconds=1, core=None)
    assert result.requests > 0
    assert result.errors == result.requests


def test_parse_rejects_output_without_the_summary_line():
    with pytest.raises(ValueError, match="printed no MLSBENCH line"):
        wrk.parse("Running 1s test @ http://127.0.0.1:1/\n")
