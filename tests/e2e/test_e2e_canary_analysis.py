"""Issue 21's canary analysis against a real `mls up`: python models, real load, short steps.

A healthy canary is stepped up to 100 % and made the default; a canary failing 20 % of its
requests is rolled back within two intervals while the default release fails nothing. Both
judge the 5xx counts the gateway's load reports carry (`RevisionLoad.errors`).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from mlservice.cli.background import UpProcess
from tests.e2e import canary_load
from tests.e2e.canary_load import INTERVAL, Load, write_model
from tests.e2e.e2e_helpers import condition, events, get
from tests.support.polling import wait_until
from tests.support.up import apply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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
        write_model(up.home.volume(namespace) / release, release=release, fail_every=every)


def load(up: UpProcess, name: str, namespace: str) -> contextlib.AbstractContextManager[Load]:
    """Load on the service's split and on the default release's host."""
    return canary_load.load(
        up,
        name,
        lambda hosts: {
            "split": hosts.service(name, namespace),
            "default": hosts.release(name, namespace, "v1"),
        },
    )


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
