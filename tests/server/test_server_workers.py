"""`--workers 2`: two processes answer on one port and `/metrics` covers both."""

from __future__ import annotations

import re

import grpc
import httpx
import pytest

from tests.server.server_procs import MODELS, Launcher, metric
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e
REQUESTS = 40


def test_two_workers_share_the_port_and_the_metrics(launcher: Launcher) -> None:
    served = launcher.start(MODELS / "echo", "--workers", "2", name="echo-workers")
    pids = set()
    for _ in range(REQUESTS):
        # A new connection each time: the kernel picks a worker per connection.
        answer = httpx.post(
            f"{served.url}/v1/models/echo-workers:predict", json={"pid": True}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        pids.add(answer.json()["pid"])
    assert len(pids) == 2
    text = httpx.get(f"{served.url}/metrics", timeout=10).text
    series = 'mls_requests_total{model="echo-workers",protocol="v1",status="200"}'
    assert metric(text, series) == REQUESTS  # summed over both workers
    loaded = re.findall(r'mls_model_load_seconds\{model="echo-workers",pid="(\d+)"\}', text)
    assert {int(pid) for pid in loaded} == pids
    served.stop()
    assert served.proc.returncode == 0


def test_workers_share_one_grpc_port_even_when_any_was_asked_for(launcher: Launcher) -> None:
    """`--grpc-port 0` with workers: the supervisor picks the port once, so every worker
    listens on it (each picked its own before: clients could reach one worker only)."""
    served = launcher.start(
        MODELS / "echo", "--workers", "2", "--grpc-port", "0", name="echo-grpc-workers"
    )

    def ports() -> set[str] | None:
        found = re.findall(r"V2 gRPC on 127\.0\.0\.1:(\d+)", served.log_text())
        return set(found) if len(found) == 2 else None

    [port] = wait_until(
        ports, timeout=30, message=lambda: f"two gRPC workers:\n{served.log_text()}"
    )
    for _ in range(4):  # a new connection each time, as the kernel spreads them
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            live = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")
            assert live(b"", timeout=10) == b"\x08\x01"  # ServerLiveResponse(live=True)
    served.stop()
