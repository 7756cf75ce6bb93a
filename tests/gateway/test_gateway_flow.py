"""Waiting and failing through the real proxy: per-replica caps and the queue, the activator,
timeouts, connect retries, replicas that vanish or die."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.gateway.gateway_procs import Gateway, Proc, revision, route, snapshot, start_upstream
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e
REV = "ns/flow-predict-v1-00001"
HOST = "flow.ns.localhost"


def _put(gateway: Gateway, version: int, *upstreams: Proc | str, **extra: object) -> None:
    gateway.put(
        snapshot(
            version,
            [revision(REV, *upstreams, service="flow", **extra)],
            [route(HOST, (REV, "v1", 100), service="flow")],
        )
    )


def _get(gateway: Gateway, path: str = "/", **params: object) -> httpx.Response:
    with httpx.Client(base_url=gateway.url, timeout=30, trust_env=False) as http:
        return http.get(path, params=params, headers={"host": HOST})


def _parallel(n: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def _stats(up: Proc) -> dict[str, int]:
    answer: dict[str, int] = httpx.get(f"{up.urls[0]}/stats").json()
    return answer


def _closed_port() -> str:
    return f"127.0.0.1:{free_port()}"  # nothing listens there


def test_container_concurrency_caps_in_flight_per_replica(gateway: Gateway, logs: Path) -> None:
    up = start_upstream("capped", logs)
    try:
        _put(gateway, 1, up, container_concurrency=1)
        answers = _parallel(4, lambda: _get(gateway, "/work", s=0.2))
        assert [a.status_code for a in answers] == [200] * 4
        assert _stats(up)["peak"] == 1
    finally:
        up.stop()


def test_queue_overflow_is_503_queue_full(gateway: Gateway, up_a: Proc) -> None:
    _put(gateway, 2, up_a, container_concurrency=1)  # the gateway holds at most 8 per revision
    with ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(_get, gateway, "/block", s=1.5)  # takes the only slot
        time.sleep(0.3)
        answers = _parallel(11, lambda: _get(gateway, "/work"))
        assert blocker.result(timeout=10).status_code == 200
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 8 + [503] * 3
    refused = next(a for a in answers if a.status_code == 503)
    assert "queue full" in refused.json()["error"]


def test_a_revision_at_zero_holds_requests_until_a_replica_is_ready(
    gateway: Gateway, up_a: Proc
) -> None:
    _put(gateway, 3)
    with ThreadPoolExecutor(6) as pool:
        pending = [pool.submit(_get, gateway, "/held") for _ in range(6)]
        time.sleep(0.5)
        assert not any(f.done() for f in pending)
        _put(gateway, 4, up_a)
        answers = [f.result(timeout=10) for f in pending]
    assert [a.status_code for a in answers] == [200] * 6


def test_activation_signal_goes_out_at_once(gateway: Gateway) -> None:
    _put(gateway, 5)
    seen: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=gateway.admin_url, timeout=10) as admin,
            admin.stream(
                "GET", "/admin/signals", headers={"authorization": "Bearer test-token"}
            ) as stream,
        ):
            for line in stream.iter_lines():
                if '"hello"' in line:
                    ready.set()
                elif '"activate"' in line:
                    seen.append(httpx.Response(200, content=line).json())
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(_get, gateway, "/cold")
        listener.join(10)
        assert seen
        assert seen[0]["revision"] == REV
        assert time.monotonic() - started < 1.0
        assert waiting.result(timeout=10).status_code == 503  # nothing ever became ready


def test_a_revision_that_never_gets_ready_answers_503_after_the_bounded_wait(
    gateway: Gateway,
) -> None:
    _put(gateway, 6, timeout_seconds=1.0)
    started = time.monotonic()
    answer = _get(gateway, "/never")
    waited = time.monotonic() - started
    assert answer.status_code == 503
    assert "no ready replica" in answer.json()["error"]
    assert 0.9 <= waited < 3.0


def test_a_slow_replica_answers_504_after_the_timeout(gateway: Gateway, up_a: Proc) -> None:
    _put(gateway, 7, up_a, timeout_seconds=0.5)
    started = time.monotonic()
    answer = _get(gateway, "/slow", s=3)
    assert answer.status_code == 504
    assert "did not answer within 0.5s" in answer.json()["error"]
    assert time.monotonic() - started < 2.0


def test_a_refused_connection_is_retried_on_another_replica(gateway: Gateway, up_a: Proc) -> None:
    _put(gateway, 8, _closed_port(), up_a)
    answers = [_get(gateway, "/retry") for _ in range(10)]
    assert [a.status_code for a in answers] == [200] * 10


def test_only_dead_replicas_is_502_after_bounded_attempts(gateway: Gateway) -> None:
    _put(gateway, 9, _closed_port(), _closed_port())
    answer = _get(gateway, "/dead")
    assert answer.status_code == 502
    assert "refused" in answer.json()["error"]


def test_a_replica_removed_from_the_snapshot_finishes_but_gets_nothing_new(
    gateway: Gateway, up_a: Proc, up_b: Proc
) -> None:
    _put(gateway, 10, up_a, up_b)
    with ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(_get, gateway, "/slow", s=0.6) for _ in range(4)]
        time.sleep(0.2)
        _put(gateway, 11, up_b)
        after = [_get(gateway, "/after").json()["name"] for _ in range(10)]
        assert [f.result(timeout=10).status_code for f in slow] == [200] * 4
    assert after == ["b"] * 10


def test_a_replica_killed_mid_request_costs_a_replay_not_an_error(
    gateway: Gateway, logs: Path, up_b: Proc
) -> None:
    doomed = start_upstream("doomed", logs)
    try:
        _put(gateway, 12, doomed, up_b)
        with ThreadPoolExecutor(2) as pool:
            dying = pool.submit(lambda: _get(gateway, "/die", name="doomed"))
            answer = dying.result(timeout=10)
        # Closed before a byte of answer, with no body: sent once more, to the other replica.
        assert answer.status_code == 200
        assert answer.json()["name"] == "b"
        # The dead replica is still listed: refused connects move on to the other one.
        answers = [_get(gateway, "/later") for _ in range(10)]
        assert [a.status_code for a in answers] == [200] * 10
    finally:
        doomed.stop()


def test_load_reports_count_requests_per_revision(gateway: Gateway, up_a: Proc) -> None:
    counted = "ns/counted-predict-v1-00001"
    gateway.put(
        snapshot(
            13,
            [revision(counted, up_a, service="flow")],
            [route(HOST, (counted, "v1", 100), service="flow")],
        )
    )
    with (
        httpx.Client(base_url=gateway.admin_url, timeout=10) as admin,
        admin.stream(
            "GET", "/admin/signals", headers={"authorization": "Bearer test-token"}
        ) as stream,
    ):
        lines = stream.iter_lines()
        assert '"hello"' in next(lines)
        for _ in range(5):
            _get(gateway, "/counted")
        deadline = time.monotonic() + 5
        total = 0
        while total < 5 and time.monotonic() < deadline:
            doc = httpx.Response(200, content=next(lines)).json()
            if doc["type"] == "load":
                total += sum(r["requests"] for r in doc["revisions"] if r["revision"] == counted)
    assert total == 5
