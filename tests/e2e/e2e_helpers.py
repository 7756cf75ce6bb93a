"""Helpers for the end-to-end tests: reading objects and events through the API, waiting on
status with a bound, the manifests and rows they send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from mlservice.cli.background import UpProcess
from tests.support.polling import wait_until

Obj = dict[str, Any]
RELEASE_SHAPE = {"name", "ready", "readyReplicas", "totalReplicas", "trafficPercent", "url"}


def get(up: UpProcess, kind: str, name: str, namespace: str) -> Obj:
    with up.client() as client:
        return client.get(kind, name, namespace=namespace)


def wait_for(
    up: UpProcess,
    name: str,
    namespace: str,
    check: Callable[[Obj], bool],
    *,
    kind: str = "mlservice",
    timeout: float = 30,
) -> Obj:
    """The object once `check(obj)` holds; a failure showing its last state after `timeout`."""
    last: Obj = {}

    def passed() -> Obj | None:
        nonlocal last
        last = get(up, kind, name, namespace)
        return last if check(last) else None

    return wait_until(
        passed,
        timeout=timeout,
        interval=0.1,
        message=lambda: f"{kind} {namespace}/{name} to pass the check:\n{yaml.safe_dump(last)}",
    )


def condition(obj: Obj, type_: str = "Ready") -> Obj:
    found: Obj = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found


def events(up: UpProcess, namespace: str) -> list[Obj]:
    """The namespace's events in the order they were recorded (resourceVersion)."""
    with up.client() as client:
        found = client.list("event", namespace=namespace)
    return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))


def endpoint(obj: Obj, release: int = 0) -> str:
    """The HTTP address of the first ready replica of a release (status.releases[*].endpoints)."""
    return str(obj["status"]["releases"][release]["endpoints"][0]["http"])


def mlservice_yaml(name: str, uri: str, *, runtime: str | None = None, extra: str = "") -> str:
    model = f"runtime: {runtime}" if runtime else "modelFormat: {name: sklearn}"
    return f"""
apiVersion: tensorstack.dev/v1beta1
kind: MLService
metadata: {{name: {name}}}
spec:
  default: v1
  releases:
    - name: v1
      predictor:
        model: {{{model}, modelUri: "{uri}"}}
{extra}
"""


V2_ROW = {
    "inputs": [
        {"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [6.8, 2.8, 4.8, 1.4]}
    ]
}
