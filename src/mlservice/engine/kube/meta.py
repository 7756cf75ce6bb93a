"""Object metadata every rendered object carries: name, namespace, the owner labels."""

from __future__ import annotations

from typing import Any, Final

from mlservice.engine.kube.workload import Workload

MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGER: Final = "mlservice"


def object_meta(workload: Workload, name: str) -> dict[str, Any]:
    labels = {**workload.labels, MANAGED_BY: MANAGER}
    return {"name": name, "namespace": workload.namespace, "labels": labels}
