"""Shadow traffic through a real gateway process, in front of small model replicas: a copy
never delays or fails the client's answer, never reaches the client, and the gateway's
agreement counts equal the ones this test makes from what the shadow saw."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlservice.gateway.reqlog.localfile import read_events
from tests.gateway.gateway_procs import Gateway, revision, route, snapshot
from tests.gateway.shadow_helpers import settled, shadow_metrics
from tests.support.polling import wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e
versions = itertools.count(500)
ids = itertools.count(1)


class Model(threading.Thread):
    """A V1 model on loopback: `{"instances": [x, ...]}` -> `{"predictions": [2x, ...]}`,
    except -1 for each x where `differs(x)`, plus `noise`; answers `status` after `delay` s."""

    def __init__(
        self, *, differs: Any = None, status: int = 200, delay: float = 0.0, noise: float = 0.0
    ) -> None:
        super().__init__(daemon=True)
        self.seen: list[tuple[list[int], dict[str, str]]] = []
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                instances = json.loads(body)["instances"] if body.startswith(b"{") else []
                model.seen.append((instances, {k.lower(): v for k, v in self.headers.items()}))
                time.sleep(delay)
                out = [-1 if differs and differs(x) else 2 * x + noise for x in instances]
                data = json.dumps({"predictions": out}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.start()

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def models() -> Iterator[list[Model]]:
    started: list[Model] = []
    yield started
    for model in started:
        model.stop()


def _model(models: list[Model], **kwargs: Any) -> Model:
    model = Model(**kwargs)
    models.append(model)
    return model


def _serve(
    gateway: Gateway, answered: str, shadow: str | None, *, percent: int = 100, **extra: Any
) -> tuple[str, str]:
    """Route a fresh host to `answered` (v1), copying `percent` to `shadow` (v2); returns the
    host and the shadow revision's id (fresh, so its counters start at zero)."""
    n = next(ids)
    host, main, copy = f"s{n}.ns.localhost", f"ns/s{n}-predict-v1-00001", f"ns/s{n}-predict-v2-1"
    endpoints = [shadow] if shadow else []
    revisions = [
        revision(main, answered, service=f"s{n}", **extra),
        revision(copy, *endpoints, service=f"s{n}", release="v2", **extra),
    ]
    shadowing = {"revision": copy, "release": "v2", "percent": percent}
    routes = [route(host, (main, "v1", 100), service=f"s{n}", shadow=shadowing)]
    gateway.put(snapshot(next(versions), revisions, routes))
    return host, copy


def _predict(client: httpx.Client, host: str, x: int, **kwargs: Any) -> httpx.Response:
    body = json.dumps({"instances": [x]}).encode()
    headers = {"host": host, "content-type": "application/json"}
    return client.post("/v1/models/m:predict", content=body, headers=headers, **kwargs)


def test_a_slow_shadow_never_delays_the_answer(
    gateway: Gateway, client: httpx.Client, models: list[Model]
) -> None:
    main, slow = _model(models), _model(models, delay=2.0)
    host, copy = _serve(gateway, main.address, slow.address)
    for x in range(5):
        began = time.monotonic()
        answer = _predict(client, host, x)
        assert time.monotonic() - began < 1.0
        assert answer.status_code == 200
        assert answer.json() == {"predictions": [2 * x]}
        assert answer.headers["x-mls-release"] == "v1"
    wait_until(lambda: len(slow.seen) == 5, timeout=10, message="the copies to arrive")
    assert sorted(instances for instances, _ in slow.seen) == [[x] for x in range(5)]
    assert all(headers["x-mls-shadow"] == "true" for _, headers in slow.seen)
    assert all("x-mls-shadow" not in headers for _, headers in main.seen)
    got = settled(gateway, copy, 5)
    assert got["mls_gateway_shadow_agreement_total{result=agree}"] == 5
    assert got["mls_gateway_shadow_duration_seconds_sum"] >= 5 * 2.0


@pytest.mark.parametrize("broken", ["500", "refused"])
def test_a_failing_shadow_never_fails_a_request(
    gateway: Gateway, client: httpx.Client, models: list[Model], broken: str
) -> None:
    main = _model(models)
    shadow = _model(models, status=500).address if broken == "500" else f"127.0.0.1:{free_port()}"
    host, copy = _serve(gateway, main.address, shadow)
    for x in range(20):
        answer = _predict(client, host, x)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"predictions": [2 * x]}
    got = settled(gateway, copy, 20)
    code = "500" if broken == "500" else "502"
    assert got[f"mls_gateway_shadow_requests_total{{code={code}}}"] == 20
    assert got["mls_gateway_shadow_errors_total"] == 20
    assert got["mls_gateway_shadow_agreement_total{result=disagree}"] == 20
    assert got["mls_gateway_shadow_copies_total{outcome=sent}"] == 20


def test_the_agreement_count_matches_the_tests_own(
    gateway: Gateway, client: httpx.Client, models: list[Model]
) -> None:
    """Half the requests are copied; the shadow differs on every third input. The test
    counts agreement from the inputs the shadow saw, and the gateway must say the same."""
    main = _model(models)
    shadow = _model(models, differs=lambda x: x % 3 == 0)
    host, copy = _serve(gateway, main.address, shadow.address, percent=50)
    for x in range(200):
        assert _predict(client, host, x).json() == {"predictions": [2 * x]}
    got = settled(gateway, copy, 1)
    time.sleep(0.3)  # copies still queued land now
    got = settled(gateway, copy, len(shadow.seen))
    copied = [instances[0] for instances, _ in shadow.seen]
    assert 60 <= len(copied) <= 140  # 50 % of 200, far inside chance
    disagree = sum(1 for x in copied if x % 3 == 0)
    assert got["mls_gateway_shadow_copies_total{outcome=sent}"] == len(copied)
    assert got["mls_gateway_shadow_agreement_total{result=agree}"] == len(copied) - disagree
    assert got["mls_gateway_shadow_agreement_total{result=disagree}"] == disagree


@pytest.mark.parametrize(("noise", "result"), [(1e-9, "agree"), (1e-3, "disagree")])
def test_numbers_agree_within_the_tolerance(
    gateway: Gateway, client: httpx.Client, models: list[Model], noise: float, result: str
) -> None:
    main, shadow = _model(models), _model(models, noise=noise)
    host, copy = _serve(gateway, main.address, shadow.address)
    assert _predict(client, host, 3).json() == {"predictions": [6]}
    assert settled(gateway, copy, 1)[f"mls_gateway_shadow_agreement_total{{result={result}}}"] == 1


def test_a_body_over_1_mib_is_not_copied(
    gateway: Gateway, client: httpx.Client, models: list[Model]
) -> None:
    main, shadow = _model(models), _model(models)
    host, copy = _serve(gateway, main.address, shadow.address)
    big = b'{"instances": [1], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    answer = client.post("/v1/models/m:predict", content=big, headers={"host": host})
    assert answer.json() == {"predictions": [2]}
    assert _predict(client, host, 2).status_code == 200
    got = settled(gateway, copy, 1)
    assert got["mls_gateway_shadow_copies_total{outcome=dropped_too_large}"] == 1
    assert got["mls_gateway_shadow_copies_total{outcome=sent}"] == 1
    assert [instances for instances, _ in shadow.seen] == [[2]]


def test_a_shadow_with_no_replica_drops_copies_and_is_never_activated(
    gateway: Gateway, client: httpx.Client, models: list[Model]
) -> None:
    main = _model(models)
    host, copy = _serve(gateway, main.address, None)
    for x in range(3):
        assert _predict(client, host, x).json() == {"predictions": [2 * x]}

    def dropped() -> bool:
        got = shadow_metrics(gateway, copy)
        return got.get("mls_gateway_shadow_copies_total{outcome=dropped_no_replica}") == 3

    wait_until(dropped, timeout=10, message="the copies to be dropped")
    activations = [
        s.value
        for family in text_string_to_metric_families(gateway.metrics())
        for s in family.samples
        if s.name == "mls_gateway_activations_total" and s.labels["revision"] == copy
    ]
    assert activations == [0]


def test_both_answers_are_logged_under_one_id(
    gateway: Gateway, client: httpx.Client, models: list[Model]
) -> None:
    main, shadow = _model(models), _model(models, differs=lambda x: True)
    logger = {"logger": {"urls": [], "mode": "all"}}
    host, copy = _serve(gateway, main.address, shadow.address, **logger)
    service = host.split(".")[0]
    assert _predict(client, host, 7).json() == {"predictions": [14]}
    settled(gateway, copy, 1)

    def logged() -> list[dict[str, Any]] | None:
        mine = [e for e in read_events(gateway.request_logs) if e["mlservicename"] == service]
        return mine if len(mine) == 4 else None

    events = wait_until(logged, timeout=10, message="four events in the request log")
    assert len({e["id"] for e in events}) == 1
    by_role = {(e.get("shadow") == "true", e["type"].rsplit(".", 1)[1]): e for e in events}
    assert by_role[(False, "response")]["data"] == {"predictions": [14]}
    assert by_role[(True, "response")]["data"] == {"predictions": [-1]}
    assert by_role[(True, "request")]["data"] == {"instances": [7]}
    assert by_role[(True, "request")]["source"] == f"{service}-predict-v2"
