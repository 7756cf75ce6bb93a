"""Manifests and bounded waits shared by the operator's acceptance tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support.polling import wait_until

T = TypeVar("T")
NS = "default"
OURS = "tensorstack.dev/v1beta1"
KNATIVE = "serving.knative.dev/v1"
WAIT = 15.0


def release(name: str, *, runtime: str = "sklearn", **predictor: Any) -> dict[str, Any]:
    model = {"runtime": runtime, "modelUri": f"pvc://models/{name}"}
    return {"name": name, "predictor": {"model": model, **predictor}}


def mlservice(name: str, *releases: dict[str, Any], uid: str = "", **spec: Any) -> dict[str, Any]:
    """An MLService as the API server would hold it: kmock assigns no uid or generation."""
    return {
        "apiVersion": OURS,
        "kind": "MLService",
        "metadata": {"name": name, "namespace": NS, "uid": uid or f"uid-{name}", "generation": 1},
        "spec": {"default": releases[0]["name"], "releases": list(releases), **spec},
    }


def eventually(predicate: Callable[[], T | None], what: str, log: Path) -> T:
    """`predicate`'s first truthy value within WAIT s, else fail showing the operator's log."""
    return wait_until(
        predicate,
        timeout=WAIT,
        interval=0.05,
        message=lambda: f"{what}; operator log:\n{log.read_text()[-6000:]}",
    )


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for item in ((obj or {}).get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return dict(item)
    return None


def ready_condition(status: str = "True", **extra: str) -> list[dict[str, str]]:
    return [{"type": "Ready", "status": status, **extra}]
