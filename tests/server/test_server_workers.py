"""`--workers 2`: two processes answer on one port and `/metrics` covers both."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.server.server_procs import MODELS, Launcher, metric

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
