"""`mls replay`: logged requests sent again through a gateway; agreement counted exactly."""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlservice.cli.replay import agree, logged_requests, parse_since, prediction_of
from mlservice.errors import InvalidInput
from mlservice.naming import Hosts
from tests.support.cli import mls

COUNT = 1000
HOSTS = Hosts("localhost")


def model(release: str, x: int) -> tuple[int, Any]:
    """What each fake release answers for input x: two models that disagree on some x."""
    if release == "v1":
        return 200, {"predictions": [int(x % 3 == 0)]}
    if release == "v2":
        return 200, {"predictions": [int(x % 5 == 0)]}
    if release == "v3":  # v1's model, V2 protocol, float noise: agrees within a tolerance
        return 200, {"id": str(x), "outputs": [{"name": "p", "data": [(x % 3 == 0) + 1e-9]}]}
    return (500, {"error": "boom"}) if x % 10 == 0 else (200, {"predictions": [0]})  # "bad"


class Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway

    def do_POST(self) -> None:
        host = self.headers["Host"].split(":")[0]
        release = next(
            r for r in ("v1", "v2", "v3", "bad") if host == HOSTS.release("iris", "default", r)
        )
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/v1/models/iris:predict"
        status, answer = model(release, body["instances"][0])
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose endpoints.json names a fake gateway."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = tmp_path / "home"
    root.mkdir()
    gateway = f"http://127.0.0.1:{server.server_address[1]}"
    (root / "endpoints.json").write_text(json.dumps({"gateway": gateway, "domain": "localhost"}))
    try:
        yield root
    finally:
        server.shutdown()
        server.server_close()


def event(kind: str, n: int, data: Any, *, when: datetime.datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": f"tensorstack.dev.mlservice.{kind}",
        "source": "iris-predict-v1",
        "id": f"id-{n}",
        "time": when.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "component": "predict",
        "inferenceurl": "/v1/models/iris:predict",
        "mlservicename": "iris",
        "namespace": "default",
        "data": data,
    }


def write_log(path: Path, *, flipped: set[int], old: int = 0, count: int = COUNT) -> None:
    """COUNT requests with v1's answers (those in `flipped` logged wrong), after `old` requests
    logged two days ago, and noise: another service's events and a transformer's."""
    now = datetime.datetime.now(datetime.UTC)
    lines = []
    for n in range(old):
        lines.append(
            event("request", -1 - n, {"instances": [n]}, when=now - datetime.timedelta(days=2))
        )
    for x in range(count):
        lines.append(event("request", x, {"instances": [x]}, when=now))
        answer = model("v1", x)[1]
        if x in flipped:
            answer = {"predictions": [1 - answer["predictions"][0]]}
        lines.append(event("response", x, answer, when=now))
    other = event("request", 5000, {"instances": [1]}, when=now)
    lines.append({**other, "mlservicename": "other"})
    lines.append({**event("request", 5001, {"instances": [1]}, when=now), "component": "transform"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")


def test_1000_logged_requests_two_releases_exact_agreement(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    write_log(log, flipped=set())
    result = mls(
        "replay", "iris", "--release", "v1", "--compare-with", "v2", "--from", str(log),
        "--rate", "5000", "-o", "json", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    expected = sum((x % 3 == 0) == (x % 5 == 0) for x in range(COUNT))
    assert found["compared"] == COUNT
    assert found["agreed"] == expected
    assert found["against"] == "v2"
    assert found["agreement"] == pytest.approx(expected / COUNT)
    assert [(r["release"], r["sent"], r["errors"]) for r in found["releases"]] == [
        ("v1", COUNT, 0),
        ("v2", COUNT, 0),
    ]
    assert all(r["p99_ms"] >= r["p50_ms"] > 0 for r in found["releases"])


def test_against_the_logged_answers_from_the_local_log_since_a_moment(home: Path) -> None:
    flipped = {x for x in range(COUNT) if x % 7 == 0}
    day = datetime.datetime.now(datetime.UTC).strftime("%Y.%m.%d")
    write_log(home / "logs" / "requests" / f"mlservice-{day}.jsonl", flipped=flipped, old=50)
    result = mls("replay", "iris", "--release", "v1", "--since", "1h", "--rate", "5000", home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RELEASE", "SENT", "ERRORS", "P50", "P99", "MEAN"]
    assert lines[1].split()[:3] == ["v1", str(COUNT), "0"]  # the 50 old ones left out
    agreed = COUNT - len(flipped)
    assert lines[-1] == (
        f"AGREEMENT with logged answers: {agreed} of {COUNT} ({agreed / COUNT:.1%})"
    )


def test_errors_are_counted_and_left_out_of_agreement(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    write_log(log, flipped=set(), count=100)
    result = mls(
        "replay", "iris", "--release", "bad", "--compare-with", "v1", "--from", str(log),
        "--rate", "5000", "-o", "json", home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    failing = sum(x % 10 == 0 for x in range(100))
    assert found["releases"][0]["errors"] == failing
    assert found["compared"] == 100 - failing
    # "bad" answers 0 everywhere; v1 answers 1 where x % 3 == 0.
    assert found["agreed"] == sum(x % 3 != 0 for x in range(100) if x % 10 != 0)


def test_numbers_agree_within_the_tolerance_across_protocols(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    write_log(log, flipped=set(), count=100)
    args = ["replay", "iris", "--release", "v3", "--compare-with", "v1", "--from", str(log)]
    exact = mls(*args, "--rate", "5000", "--tolerance", "0", "-o", "json", home=home)
    loose = mls(*args, "--rate", "5000", "--tolerance", "1e-6", "-o", "json", home=home)
    assert json.loads(exact.stdout)["agreed"] == 0  # 1e-9 off, and 0 + 1e-9 != 0
    assert json.loads(loose.stdout)["agreed"] == 100


def test_mistakes_are_told() -> None:
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_since("10 minutes")
    assert parse_since("2h") == 7200
    assert logged_requests([], service="iris", namespace="default") == []


def test_nothing_logged_is_an_error(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = mls("replay", "iris", "--release", "v1", "--from", str(empty), home=home)
    assert result.returncode == 1
    assert "No logged requests of default/iris" in result.stderr


def test_agreement_rules() -> None:
    assert agree({"a": [1, 2.0]}, {"a": [1, 2]})
    assert not agree([1, 2], [1, 2, 3])
    assert not agree(True, 1)  # a class is not a count
    assert agree(1.0, 1.0 + 1e-9, tolerance=1e-6)
    assert not agree(1.0, 1.1, tolerance=1e-6)
    assert not agree({"a": 1}, {"b": 1})
    assert prediction_of({"model_name": "m", "outputs": [{"data": [1, 2]}]}) == [1, 2]
    assert prediction_of({"outputs": [{"data": [1]}, {"data": [2]}]}) == [[1], [2]]
    assert prediction_of({"predictions": [3]}) == [3]
    assert prediction_of("text") == "text"
