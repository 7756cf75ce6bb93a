"""`mls kube install`: what a cluster needs besides the CRDs to run the operator.

The `mls-system` namespace, the operator's ServiceAccount, a ClusterRole with what it reads
and writes (`access.rules`: for its mode, KServe's kinds only with them) and its binding, the
operator Deployment (`mls operator` with the image and domain it renders with), and the
built-in runtimes as objects, so services select them as they do under `mls up`. KServe's
ClusterServingRuntimes (and the operator's watch of KServe's kinds) only with
`kserve_kinds`: a cluster that runs KServe keeps its own.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Final

from mlservice.engine.kube.access import rules
from mlservice.engine.kube.meta import MANAGED_BY, MANAGER
from mlservice.engine.kube.render import DEFAULT_DOMAIN, DEFAULT_IMAGE, Mode

SYSTEM_NAMESPACE: Final = "mls-system"
OPERATOR: Final = "mls-operator"
_LABELS: Final = {MANAGED_BY: MANAGER, "app.kubernetes.io/name": OPERATOR}


def install_objects(
    *,
    image: str = DEFAULT_IMAGE,
    domain: str = DEFAULT_DOMAIN,
    mode: Mode = "knative",
    kserve_kinds: bool = False,
    runtimes: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """In apply order: namespace, account, RBAC, operator, runtimes (given, as manifests)."""
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": SYSTEM_NAMESPACE, "labels": dict(_LABELS)},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(OPERATOR, namespaced=True),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": _meta(OPERATOR),
            "rules": rules(mode=mode, kserve_kinds=kserve_kinds),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _meta(OPERATOR),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": OPERATOR,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": OPERATOR, "namespace": SYSTEM_NAMESPACE}
            ],
        },
        operator_deployment(image=image, domain=domain, mode=mode, kserve_kinds=kserve_kinds),
    ]
    for runtime in runtimes:
        copied = copy.deepcopy(runtime)
        copied["metadata"].setdefault("labels", {})[MANAGED_BY] = MANAGER
        objects.append(copied)
    return objects


def operator_deployment(
    *, image: str, domain: str, mode: Mode, kserve_kinds: bool
) -> dict[str, Any]:
    """The operator renders its children with the image it runs itself and the domain."""
    args = ["operator", "--all-namespaces", "--mode", mode, "--image", image, "--domain", domain]
    if kserve_kinds:
        args.append("--kserve-kinds")
    container = {
        "name": "operator",
        "image": image,
        "args": args,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(OPERATOR, namespaced=True),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # one operator at a time
            "selector": {"matchLabels": dict(_LABELS)},
            "template": {
                "metadata": {"labels": dict(_LABELS)},
                "spec": {"serviceAccountName": OPERATOR, "containers": [container]},
            },
        },
    }


def _meta(name: str, *, namespaced: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(_LABELS)}
    if namespaced:
        meta["namespace"] = SYSTEM_NAMESPACE
    return meta
