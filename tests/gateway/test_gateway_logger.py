"""The request logger through a real gateway: events at a real sink, and with the sink down,
requests unharmed and every event in the local file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlservice.gateway.reqlog import localfile
from tests.gateway.gateway_procs import Gateway, Proc, revision, route, snapshot, start_upstream
from tests.gateway.sink_events import request_and_response, sink_records
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(100))


def test_sink_gets_matching_request_and_response_events(
    gateway: Gateway, up_a: Proc, logs: Path
) -> None:
    sink = start_upstream("sink", logs)
    try:
        rid = "example/torch-mnist-predict-v1-00001"
        logger = {"urls": [f"{sink.urls[0]}/events"], "mode": "all"}
        gateway.put(
            snapshot(
                1,
                [revision(rid, up_a, service="torch-mnist", namespace="example", logger=logger)],
                [route("torch-mnist.example.localhost", (rid, "v1", 100), namespace="example")],
            )
        )
        answer = httpx.post(
            f"{gateway.url}/v1/models/mnist:predict",
            content=PNG,
            headers={"host": "torch-mnist.example.localhost", "content-type": "image/png"},
        )
        assert answer.status_code == 200
        request, response = request_and_response(sink_records(sink))
        assert request.get_source() == "torch-mnist-predict-v1"
        assert request.get_data() == PNG
        assert response.get_data() == answer.json()
        traceparent = answer.json()["headers"]["traceparent"]  # what the replica saw
        for event in (request, response):
            assert event.get_specversion() == "1.0"
            assert event.get_extension("component") == "predict"
            assert event.get_extension("inferenceurl") == "/v1/models/mnist:predict"
            assert event.get_extension("mlservicename") == "torch-mnist"
            assert event.get_extension("namespace") == "example"
            assert event.get_extension("traceparent") == traceparent
        assert "mls_gateway_logger_events_total" in gateway.metrics()
    finally:
        sink.stop()


def test_with_the_sink_down_requests_succeed_and_the_file_has_every_event(
    gateway: Gateway, up_a: Proc
) -> None:
    rid = "ns/down-predict-v1-00001"
    logger = {"urls": ["http://127.0.0.1:9/nothing-listens"], "mode": "all"}
    gateway.put(
        snapshot(
            2,
            [revision(rid, up_a, service="down", logger=logger)],
            [route("down.ns.localhost", (rid, "v1", 100), service="down")],
        )
    )
    started = time.monotonic()
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        for i in range(50):
            answer = http.post("/infer", json={"i": i}, headers={"host": "down.ns.localhost"})
            assert answer.status_code == 200
    assert time.monotonic() - started < 10  # generous: the dead sink never slows requests

    def all_written() -> list[dict[str, Any]]:
        docs = [
            d
            for d in localfile.read_events(gateway.request_logs)
            if d.get("mlservicename") == "down"
        ]
        return docs if len(docs) >= 100 else []

    docs = wait_until(all_written, timeout=10, message="100 events in the local file")
    assert len(docs) == 100
    ids = {d["id"] for d in docs}
    assert len(ids) == 50
    assert sorted(d["type"].rsplit(".", 1)[1] for d in docs).count("request") == 50
    assert all(d["data"]["i"] in range(50) for d in docs if d["type"].endswith("request"))


def test_mode_request_logs_only_requests(gateway: Gateway, up_a: Proc) -> None:
    rid = "ns/req-predict-v1-00001"
    logger = {"urls": [], "mode": "request"}
    gateway.put(
        snapshot(
            3,
            [revision(rid, up_a, service="reqonly", logger=logger)],
            [route("reqonly.ns.localhost", (rid, "v1", 100), service="reqonly")],
        )
    )
    httpx.post(f"{gateway.url}/x", json={"only": 1}, headers={"host": "reqonly.ns.localhost"})
    docs = wait_until(
        lambda: [
            d
            for d in localfile.read_events(gateway.request_logs)
            if d.get("mlservicename") == "reqonly"
        ],
        timeout=10,
        message="the request's event in the local file",
    )
    time.sleep(0.2)
    docs = [
        d
        for d in localfile.read_events(gateway.request_logs)
        if d.get("mlservicename") == "reqonly"
    ]
    assert [d["type"] for d in docs] == ["tensorstack.dev.mlservice.request"]


def test_sink_secrets_stay_out_of_metrics_and_logs(gateway: Gateway, up_a: Proc) -> None:
    """F2: the open `/metrics` labelled logger counters with the full sink URL, password and
    query token included; labels and log lines now carry the URL without its secrets."""
    rid = "ns/secret-predict-v1-00001"
    url = "http://bob:hunter2pw@127.0.0.1:9/in?token=tok3n-value&x=1"
    gateway.put(
        snapshot(
            4,
            [revision(rid, up_a, service="secret", logger={"urls": [url], "mode": "request"})],
            [route("secret.ns.localhost", (rid, "v1", 100), service="secret")],
        )
    )
    answer = httpx.post(f"{gateway.url}/x", json={}, headers={"host": "secret.ns.localhost"})
    assert answer.status_code == 200
    redacted = "http://bob:***@127.0.0.1:9/in?token=***&x=***"
    wait_until(
        lambda: (
            f'url="{redacted}"' in gateway.metrics()
            and f"sink {redacted} failing" in gateway.proc.log_text()
        ),
        timeout=10,
        message="the sink's counters and its failure in the log, redacted",
    )
    for text in (gateway.metrics(), gateway.proc.log_text()):
        assert "hunter2pw" not in text
        assert "tok3n-value" not in text
