"""What the operator wrote to the emulator, held against the schemas the render tests use:
built-in kinds with `kubernetes-validate` (strict, Kubernetes 1.33), Knative Serving's and
Gateway API's kinds with their CRDs' openAPIV3Schema (read-only test data in
`../shared/schemas/` beside the checkout, or `$MLS_SCHEMAS`; skipped when absent)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kmock
import kubernetes_validate
import pytest
import yaml

from tests.support.paths import REPO

SCHEMAS = Path(os.environ.get("MLS_SCHEMAS") or REPO.parent / "shared" / "schemas")
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
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_FILES:
        if not SCHEMAS.is_dir():
            pytest.skip(f"CRD schemas not found in {SCHEMAS}")
        _validator(CRD_FILES[key], obj["apiVersion"].rsplit("/", 1)[1]).validate(obj)
    else:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


@cache
def _validator(file: str, version: str) -> jsonschema.Draft7Validator:
    crd = yaml.load((SCHEMAS / file).read_text(), Loader=yaml.CSafeLoader)
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return jsonschema.Draft7Validator(served["schema"]["openAPIV3Schema"])
