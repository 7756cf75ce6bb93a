"""Issue 21's canary analysis against a real `mls up`: python models, real load, short steps.

A healthy canary is stepped up to 100 % and made the default; a canary failing 20 % of its
requests is rolled back within two intervals while the default release fails nothing. Both
judge the 5xx counts the gateway's load reports carry (`RevisionLoad.errors`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mlservice.cli.background import UpProcess
from mlservice.client import Endpoints
from mlservice.naming import Hosts
from tests.e2e.e2e_helpers import condition, events, get
from tests.support.polling import wait_until
from tests.support.up import apply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INTERVAL = 3.0

MODEL = """
from mlservice import Model


class Release(Model):
    calls = 0

    async def predict(self, payload, headers=None):
        Release.calls += 1
        if {fail_every} and Release.calls % {fail_every} == 0:
            raise RuntimeError("the canary fails one request in {fail_every}")
        return {{"predictions": ["{release}"]}}
"""


def manifest(name: str, namespace: str, *, checks: bool) -> dict[str, Any]:
    def release(release: str) -> dict[str, Any]:
        model = {"modelFormat": {"name": "python"}, "modelUri": f"pvc://{namespace}/{release}/"}
        return {"name": release, "predictor": {"model": model}}

    # Latency is judged in the unit tests: on a busy shared box a p99 ratio is noise.
    analysis: dict[str, Any] = {
        "steps": [20, 50, 100],
        "interval": "3s",
        "minRequests": 10,
        "maxP99Ratio": 0,
    }
    if not checks:
        analysis["maxErrorRate"] = 1
    return {
        "apiVersion": "tensorstack.dev/v1beta1",
        "kind": "MLService",
        "metadata": {"name": name},
        "spec": {
            "default": "v1",
            "canary": "v2",
            "releases": [release("v1"), release("v2")],
            "analysis": analysis,
        },
    }


def models(up: UpProcess, namespace: str, *, canary_fails_every: int) -> None:
    for release, every in (("v1", 0), ("v2", canary_fails_every)):
        folder = up.home.volume(namespace) / release
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(MODEL.format(release=release, fail_every=every))


@dataclasses.dataclass
class Load:
    """Requests sent without pause, to the service's split and to the default release's host;
    who answered and with what status, per target."""

    answers: Counter[tuple[str, int, str]] = dataclasses.field(default_factory=Counter)
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def count(self, target: str, *, ok: bool) -> int:
        return sum(
            n
            for (where, status, _), n in self.answers.items()
            if where == target and (status == 200) == ok
        )


@contextlib.contextmanager
def load(up: UpProcess, name: str, namespace: str) -> Iterator[Load]:
    endpoints = Endpoints.resolve(home=up.home)
    assert endpoints.gateway is not None
    hosts = Hosts(endpoints.domain)
    targets = {
        "split": hosts.service(name, namespace),
        "default": hosts.release(name, namespace, "v1"),
    }
    found = Load()

    def send(target: str, host: str) -> None:
        with httpx.Client(base_url=endpoints.gateway or "", timeout=10) as client:
            while not found.stop.is_set():
                answer = client.post(
                    f"/v1/models/{name}:predict", json={"instances": [1]}, headers={"Host": host}
                )
                body = answer.json().get("predictions", ["?"])[0] if answer.is_success else ""
                found.answers[(target, answer.status_code, body)] += 1

    threads = [threading.Thread(target=send, args=item, daemon=True) for item in targets.items()]
    for thread in threads:
        thread.start()
    try:
        yield found
    finally:
        found.stop.set()
        for thread in threads:
            thread.join(timeout=15)


def analysis(up: UpProcess, name: str, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = get(up, "mlservice", name, namespace).get("status", {})
    return found.get("canaryAnalysis") or {}


def test_a_healthy_canary_reaches_100_percent_and_becomes_the_default(
    up: UpProcess, namespace: str
) -> None:
    models(up, namespace, canary_fails_every=0)
    apply(up, manifest("healthy", namespace, checks=True), namespace)
    wait_until(lambda: analysis(up, "healthy", namespace).get("phase"), timeout=40)
    with load(up, "healthy", namespace) as traffic:
        seen: list[int] = []

        def promoted() -> bool:
            record = analysis(up, "healthy", namespace)
            if not seen or seen[-1] != record.get("percent"):
                seen.append(record.get("percent", -1))
            return record.get("phase") == "Promoted"

        wait_until(promoted, timeout=6 * INTERVAL + 10, interval=0.2)
        time.sleep(1.5)  # the promoted routes reach the gateway; then only v2 answers
        before = traffic.answers.copy()
        time.sleep(1.0)
    status = get(up, "mlservice", "healthy", namespace)["status"]
    assert status["defaultRelease"] == "v2"
    assert [p for p in seen if p in (20, 50, 100)] == [20, 50, 100]
    late = traffic.answers - before
    assert {body for (where, _, body) in late if where == "split"} == {"v2"}
    assert traffic.count("split", ok=False) == 0
    assert traffic.count("default", ok=False) == 0
    reasons = [e["reason"] for e in events(up, namespace) if e["reason"].startswith("Canary")]
    assert reasons == ["CanaryAdvanced", "CanaryAdvanced", "CanaryPromoted"]


def test_a_canary_failing_a_fifth_of_its_requests_is_rolled_back_within_two_intervals(
    up: UpProcess, namespace: str
) -> None:
    models(up, namespace, canary_fails_every=5)
    apply(up, manifest("faulty", namespace, checks=True), namespace)
    wait_until(lambda: analysis(up, "faulty", namespace).get("phase"), timeout=40)
    with load(up, "faulty", namespace) as traffic:
        started = time.monotonic()
        wait_until(
            lambda: analysis(up, "faulty", namespace).get("phase") == "RolledBack",
            timeout=4 * INTERVAL,
            interval=0.1,
        )
        took = time.monotonic() - started
        time.sleep(1.0)
    assert took <= 2 * INTERVAL
    obj = get(up, "mlservice", "faulty", namespace)
    rolled = condition(obj, "CanaryAnalysis")
    assert (rolled["status"], rolled["reason"]) == ("False", "CanaryRolledBack")
    assert "with a 5xx" in rolled["message"]
    assert [(r["name"], r["trafficPercent"]) for r in obj["status"]["releases"]] == [
        ("v1", 100),
        ("v2", 0),
    ]
    warning = next(e for e in events(up, namespace) if e["reason"] == "CanaryRolledBack")
    assert warning["type"] == "Warning"
    assert warning["message"] == rolled["message"]
    assert traffic.count("default", ok=True) > 0
    assert traffic.count("default", ok=False) == 0
