"""What the operator wrote to the emulator, held against the schemas the render tests use
(`tests/engine/kube/kube_helpers.py`): built-in kinds with `kubernetes-validate` (strict,
Kubernetes 1.33), Knative Serving's and Gateway API's kinds with their CRDs' schemas made
strict (skipped when the shared schemas are absent) and Knative's cloudcoil models."""

from __future__ import annotations

from typing import Any

import kmock
import kubernetes_validate
from cloudcoil.models.knative_serving.serving import v1 as knative

from tests.engine.kube.kube_helpers import check_schema, crd_schema

CRD_FILES = {
    ("serving.knative.dev/v1", "Configuration"): "knative-serving/configuration.yaml",
    ("serving.knative.dev/v1", "Route"): "knative-serving/route.yaml",
    ("serving.knative.dev/v1", "Service"): "knative-serving/service.yaml",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway-api/httproutes.yaml",
}
KUBERNETES = "1.33"
CHILD_GROUPS = ("serving.knative.dev", "apps", "autoscaling", "gateway.networking.k8s.io", "")


def written(handler: kmock.KubernetesEmulator | None, *, since: int = 0) -> list[dict[str, Any]]:
    """Every body the operator sent to create or apply a child (not status, not events),
    from the `since`-th request the emulator received on."""
    found = []
    for request in list(handler or ())[since:]:
        resource = request.resource
        if resource is None or resource.group not in CHILD_GROUPS or request.subresource:
            continue
        if resource.plural in ("events", "namespaces") or not isinstance(request.data, dict):
            continue
        if request.method in ("POST", "PATCH") and "kind" in request.data:
            found.append(request.data)
    return found


def assert_valid(obj: dict[str, Any]) -> None:
    api_version, kind = obj["apiVersion"], obj["kind"]
    if (api_version, kind) not in CRD_FILES:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        return
    schema = crd_schema(CRD_FILES[(api_version, kind)], kind, api_version.rsplit("/", 1)[1])
    check_schema(obj, schema)
    if api_version == "serving.knative.dev/v1":
        model = getattr(knative, kind).model_validate(obj, strict=True)
        assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


def events_posted(handler: kmock.KubernetesEmulator | None) -> list[dict[str, Any]]:
    """Every Event the operator posted, stored or not (kmock ignores `generateName`, so only
    the first event of a run is stored: the request log has them all)."""
    return [
        request.data
        for request in list(handler or ())
        if request.resource is not None
        and request.resource.plural == "events"
        and request.method == "POST"
        and isinstance(request.data, dict)
    ]
