"""Issue 21's canary analysis on an InferenceService against a real `mls up`: the settings in
`serving.mlservice.dev/analysis-*` annotations, a python predictor whose new revision fails
one request in five, rolled back within two intervals while the rolled-out revision (reached
on KServe's `prev-` tag host) fails nothing."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from mlservice.cli.background import UpProcess
from tests.e2e import canary_load
from tests.e2e.canary_load import INTERVAL, Load, write_model
from tests.e2e.e2e_helpers import condition, events, get, wait_for
from tests.support.polling import wait_until
from tests.support.up import apply

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "faulty"


def isvc(folder: Path) -> dict[str, Any]:
    """The predictor runs `folder`'s model.py; a new folder is a new revision."""
    prefix = "serving.mlservice.dev/analysis-"
    annotations = {
        "serving.kserve.io/enable-tag-routing": "true",
        f"{prefix}steps": "20,50,100",
        f"{prefix}interval": f"{INTERVAL:g}s",
        f"{prefix}min-requests": "10",
        # Latency is judged in the unit tests: on a busy shared box a p99 ratio is noise.
        f"{prefix}max-p99-ratio": "off",
    }
    command = ["mls", "serve", str(folder), "--name", NAME, "--format", "python"]
    container = {"name": "kserve-container", "image": "my/predictor", "command": command}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": NAME, "annotations": annotations},
        "spec": {"predictor": {"containers": [container]}},
    }


def model(tmp_path: Path, release: str, *, fail_every: int) -> Path:
    return write_model(tmp_path / release, release=release, fail_every=fail_every)


def load(up: UpProcess, namespace: str) -> contextlib.AbstractContextManager[Load]:
    """Load on the service (the split) and on the rolled-out revision."""
    return canary_load.load(
        up,
        NAME,
        lambda hosts: {
            "split": hosts.service(NAME, namespace),
            "default": hosts.tagged(NAME, namespace, "prev"),
        },
    )


def ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def analysis(up: UpProcess, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = get(up, "isvc", NAME, namespace).get("status", {})
    return found.get("canaryAnalysis") or {}


def test_a_latest_revision_failing_a_fifth_of_its_requests_is_rolled_back(
    up: UpProcess, namespace: str, tmp_path: Path
) -> None:
    apply(up, isvc(model(tmp_path, "v1", fail_every=0)), namespace)
    wait_for(up, NAME, namespace, ready, kind="isvc", timeout=30)
    apply(up, isvc(model(tmp_path, "v2", fail_every=5)), namespace)
    wait_until(lambda: analysis(up, namespace).get("phase"), timeout=30)
    assert analysis(up, namespace)["percent"] == 20
    with load(up, namespace) as traffic:
        started = time.monotonic()
        wait_until(
            lambda: analysis(up, namespace).get("phase") == "RolledBack",
            timeout=4 * INTERVAL,
            interval=0.1,
        )
        took = time.monotonic() - started
        time.sleep(1.0)  # the rolled-back routes reach the gateway; then only v1 answers
        before = traffic.answers.copy()
        time.sleep(0.5)
    assert took <= 2 * INTERVAL
    obj = get(up, "isvc", NAME, namespace)
    rolled = condition(obj, "CanaryAnalysis")
    assert (rolled["status"], rolled["reason"]) == ("False", "CanaryRolledBack")
    assert "with a 5xx" in rolled["message"]
    predictor = obj["status"]["components"]["predictor"]
    assert predictor["latestRolledoutRevision"] == f"{NAME}-predictor-00001"
    assert [(t["revisionName"], t["percent"]) for t in predictor["traffic"]] == [
        (f"{NAME}-predictor-00002", 0),
        (f"{NAME}-predictor-00001", 100),
    ]
    assert "canaryTrafficPercent" not in obj["spec"]["predictor"]  # spec untouched
    warning = next(e for e in events(up, namespace) if e["reason"] == "CanaryRolledBack")
    assert (warning["type"], warning["message"]) == ("Warning", rolled["message"])
    late = traffic.answers - before
    assert {body for (where, _, body) in late if where == "split"} == {"v1"}
    assert traffic.count("default", ok=True) > 0
    assert traffic.count("default", ok=False) == 0
