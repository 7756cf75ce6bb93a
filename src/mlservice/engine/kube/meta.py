"""Object metadata every rendered object carries: name, namespace, the owner labels."""

from __future__ import annotations

from typing import Any, Final

from mlservice.engine.kube.workload import Workload

MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "mlservice"


def object_meta(workload: Workload, name: str) -> dict[str, Any]:
    return {"name": name, "namespace": workload.namespace, "labels": dict(workload.labels)}
