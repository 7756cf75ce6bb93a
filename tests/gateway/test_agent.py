"""`mls agent` in front of a real `mls serve` (the iris model), beside a real gateway routing to
the same server: predictions pass through, the request-log events of the same request are the
gateway's field by field (ids and times aside), and the limits answer as the gateway's do."""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlservice.gateway.reqlog import localfile
from tests.gateway.gateway_procs import (
    Gateway,
    Proc,
    revision,
    route,
    snapshot,
    spawn,
    start_gateway,
    start_upstream,
)
from tests.server.server_procs import Launcher, Served
from tests.support.cli import mls
from tests.support.iris import iris_joblib
from tests.support.polling import wait_until
from tests.support.ports import free_port

pytestmark = pytest.mark.e2e
INFER = "/v2/models/iris/infer"
ROW = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [6.8, 2.8, 4.8, 1.4]}]}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
UNIQUE = ("ce-id", "ce-time")  # differ between any two requests
FLAVORS = ("mlservice", "kserve")


def start_agent(logs: Path, upstream: str, *args: str, name: str = "agent") -> Proc:
    argv = [sys.executable, "-m", "mlservice", "agent", "--upstream", upstream]
    argv += ["--port", "0", "--address", "127.0.0.1", *args]
    return spawn(argv, log=logs / f"{name}.log", pattern=r"proxy on (http://127\.0\.0\.1:\d+)")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent")


@pytest.fixture(scope="module")
def served(logs: Path) -> Iterator[Served]:
    model = logs / "iris"
    model.mkdir()
    (model / "model.joblib").write_bytes(iris_joblib())
    launcher = Launcher(logs)
    try:
        yield launcher.start(model, name="iris")
    finally:
        launcher.close()


@pytest.fixture(scope="module")
def sinks(logs: Path) -> Iterator[dict[str, Proc]]:
    """A CloudEvents sink per (proxy, flavor): each one's events, apart."""
    started: dict[str, Proc] = {}
    try:
        for proxy in ("gateway", "agent"):
            for flavor in FLAVORS:
                started[f"{proxy}-{flavor}"] = start_upstream(f"sink-{proxy}-{flavor}", logs)
        yield started
    finally:
        for proc in started.values():
            proc.stop()


@pytest.fixture(scope="module")
def gateway(logs: Path, served: Served, sinks: dict[str, Proc]) -> Iterator[Gateway]:
    """The gateway routing `iris-{flavor}.ns.localhost` to the server, logging to its sinks."""
    running = start_gateway(logs)
    revisions, routes = [], []
    for flavor in FLAVORS:
        rid = f"ns/iris-{flavor}-predict-v1-00001"
        logger = {"urls": [f"{sinks[f'gateway-{flavor}'].urls[0]}/events"], "flavor": flavor}
        upstream = served.url.removeprefix("http://")
        revisions.append(revision(rid, upstream, service=f"iris-{flavor}", logger=logger))
        routes.append(route(f"iris-{flavor}.ns.localhost", (rid, "v1", 100)))
    running.put(snapshot(1, revisions, routes))
    yield running
    running.proc.stop()


@pytest.fixture(scope="module")
def agents(logs: Path, served: Served, sinks: dict[str, Proc]) -> Iterator[dict[str, Proc]]:
    """An agent per flavor in front of the server, as a rendered pod runs it."""
    started: dict[str, Proc] = {}
    try:
        for flavor in FLAVORS:
            identity = ["--service", f"iris-{flavor}", "--namespace", "ns", "--release", "v1"]
            logger = ["--logger-url", f"{sinks[f'agent-{flavor}'].urls[0]}/events"]
            started[flavor] = start_agent(
                logs,
                served.url.removeprefix("http://"),
                *identity,
                *logger,
                "--kind",
                flavor,
                "--component-name",
                "predict" if flavor == "mlservice" else "predictor",
                "--request-logs",
                str(logs / f"agent-{flavor}-requests"),
                "--header-timeout",
                "1",
                "--body-timeout",
                "1",
                name=f"agent-{flavor}",
            )
        yield started
    finally:
        for proc in started.values():
            proc.stop()


def events_at(sink: Proc, count: int) -> list[dict[str, Any]]:
    def arrived() -> list[dict[str, Any]] | None:
        got: list[dict[str, Any]] = httpx.get(f"{sink.urls[0]}/events").json()
        return got if len(got) >= count else None

    return wait_until(arrived, timeout=10, message=f"{count} events at {sink.urls[0]}")


def predict(url: str, host: str) -> httpx.Response:
    headers = {"host": host, "traceparent": TRACEPARENT}
    return httpx.post(f"{url}{INFER}", json=ROW, headers=headers, timeout=20, trust_env=False)


def comparable(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """An event as sent (binary mode), without what differs between any two requests."""
    headers = {
        k: v
        for k, v in event["headers"].items()
        if (k.startswith("ce-") and k not in UNIQUE) or k == "content-type"
    }
    return headers, base64.b64decode(event["body"])


@pytest.mark.parametrize("flavor", FLAVORS)
def test_events_through_the_agent_are_the_gateways(
    flavor: str, gateway: Gateway, agents: dict[str, Proc], sinks: dict[str, Proc]
) -> None:
    through_gateway = predict(gateway.url, f"iris-{flavor}.ns.localhost")
    through_agent = predict(agents[flavor].urls[0], "10.0.0.7:8012")  # a pod IP: any host
    assert through_gateway.status_code == through_agent.status_code == 200
    assert through_agent.json() == through_gateway.json()
    assert through_agent.json()["outputs"][0]["data"]  # a real prediction
    assert through_agent.headers["x-mls-release"] == "v1"

    by_gateway = events_at(sinks[f"gateway-{flavor}"], 2)
    by_agent = events_at(sinks[f"agent-{flavor}"], 2)
    assert sorted(map(comparable, by_agent), key=repr) == sorted(
        map(comparable, by_gateway), key=repr
    )
    kinds = {comparable(e)[0]["ce-type"].rsplit(".", 1)[1] for e in by_agent}
    assert kinds == {"request", "response"}
    assert len({e["headers"]["ce-id"] for e in by_agent}) == 1  # one id for the pair
    if flavor == "mlservice":
        headers = comparable(by_agent[0])[0]
        assert headers["ce-source"] == f"iris-{flavor}-predict-v1"
        assert headers["ce-traceparent"] == TRACEPARENT
        assert headers["ce-inferenceurl"] == INFER


def test_the_agents_local_request_log_matches_the_gateways(
    gateway: Gateway, agents: dict[str, Proc], logs: Path
) -> None:
    """The local copy (`--request-logs`) holds the same CloudEvents JSON as the gateway's."""
    assert predict(agents["mlservice"].urls[0], "x").status_code == 200
    assert predict(gateway.url, "iris-mlservice.ns.localhost").status_code == 200

    def last_pair(folder: Path) -> list[dict[str, Any]] | None:
        found = [
            e for e in localfile.read_events(folder) if e.get("mlservicename") == "iris-mlservice"
        ]
        return found[-2:] if len(found) >= 2 else None

    mine = wait_until(lambda: last_pair(logs / "agent-mlservice-requests"), timeout=10)
    theirs = wait_until(lambda: last_pair(gateway.request_logs), timeout=10)
    for doc in (*mine, *theirs):
        doc.pop("id")
        doc.pop("time")
    assert mine == theirs


def test_readiness_through_the_agent_is_the_servers(agents: dict[str, Proc], logs: Path) -> None:
    ready = httpx.get(f"{agents['mlservice'].urls[0]}/v2/health/ready", trust_env=False)
    assert ready.status_code == 200
    nothing = f"127.0.0.1:{free_port()}"
    down = start_agent(logs, nothing, "--service", "gone", name="agent-down")
    try:
        started = time.monotonic()
        answer = httpx.get(f"{down.urls[0]}/v2/health/ready", timeout=10, trust_env=False)
        assert time.monotonic() - started < 2.0  # a probe's timeout is about a second
    finally:
        down.stop()
    assert answer.status_code == 502
    assert f"Replica upstream ({nothing}) of default/gone-predict refused" in answer.text


def test_sigterm_lets_a_request_in_flight_finish(logs: Path) -> None:
    """A pod's containers get SIGTERM together: what the agent holds is answered, not cut."""
    slow = start_upstream("slow", logs)
    agent = start_agent(logs, slow.urls[0].removeprefix("http://"), "--service", "s", name="drain")
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(httpx.get, f"{agent.urls[0]}/slow?s=1", timeout=10)
            wait_until(lambda: httpx.get(f"{slow.urls[0]}/stats").json()["now"] == 1, timeout=5)
            agent.proc.send_signal(signal.SIGTERM)
            assert answer.result().status_code == 200
        assert agent.proc.wait(10) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(agent.urls[0])
    finally:
        agent.stop()
        slow.stop()


# -- limits: the gateway's, on the agent's socket


def _raw(agent: Proc, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as sock:
        sock.sendall(data)
        got = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                got += chunk
    return got


def test_an_endless_head_gets_431(agents: dict[str, Proc]) -> None:
    answer = _raw(agents["mlservice"], b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70000)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"larger than 65536 bytes" in answer


def test_too_many_fields_get_431(agents: dict[str, Proc]) -> None:
    fields = b"".join(b"x-f%d: v\r\n" % i for i in range(101))
    answer = _raw(agents["mlservice"], b"GET / HTTP/1.1\r\nhost: x\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"more than 100 header fields" in answer


def test_a_slow_head_gets_408(agents: dict[str, Proc]) -> None:
    answer = _raw(agents["mlservice"], b"GET / HTTP/1.1\r\nhost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 1s" in answer


def test_a_stalled_body_gets_408(agents: dict[str, Proc]) -> None:
    head = b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{" % INFER.encode()
    answer = _raw(agents["mlservice"], head)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"stalled: nothing arrived for 1s" in answer


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--upstream", "localhost", "--service", "s"], "is not HOST:PORT"),
        (["--upstream", "h:1", "--service", "s", "--kind", "x"], "--kind 'x' is not one of"),
        (["--upstream", "h:1", "--service", "s", "--logger-mode", "x"], "not one of all, "),
        (["--upstream", "h:1", "--service", "s", "--component-name", "x"], "is not one of"),
        (["--upstream", "h:1"], "--service (or MLS_SERVICE) is required"),
    ],
)
def test_bad_flags_exit_2_saying_which(args: list[str], says: str) -> None:
    refused = mls("agent", "--port", "0", *args, env={"MLS_SERVICE": ""})
    assert refused.returncode == 2
    assert says in refused.stderr
