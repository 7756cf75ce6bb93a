"""KServe manifests as users write them, and KServe's own CRD schemas to hold them against.

The schemas are read-only test data in `../shared/schemas/kserve/` beside the checkout
(`MLS_SCHEMAS` names another `schemas` folder); tests that need them skip when it is absent.
"""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.support.paths import REPO

Manifest = dict[str, Any]
SCHEMAS = Path(os.environ.get("MLS_SCHEMAS") or REPO.parent / "shared" / "schemas") / "kserve"
_FILES = {
    "InferenceService": "inferenceservices.yaml",
    "ServingRuntime": "servingruntimes.yaml",
    "ClusterServingRuntime": "clusterservingruntimes.yaml",
}


@cache
def _validator(kind: str) -> jsonschema.Draft7Validator:
    # Built once: checking the 2 MB InferenceService schema itself takes seconds.
    crd = yaml.load((SCHEMAS / _FILES[kind]).read_text(), Loader=yaml.CSafeLoader)
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    return jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])


def assert_crd_valid(manifest: Manifest) -> None:
    """`manifest` passes KServe's CRD openAPIV3Schema (skips when the schemas are absent)."""
    if not SCHEMAS.is_dir():
        pytest.skip(f"KServe CRD schemas not found in {SCHEMAS}")
    _validator(manifest["kind"]).validate(manifest)


def isvc(name: str = "sklearn-iris", **predictor: Any) -> Manifest:
    """An InferenceService; the predictor defaults to the sklearn iris shortcut."""
    spec = predictor or {"sklearn": {"storageUri": "pvc://models/sklearn/iris"}}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": spec},
    }


def runtime(kind: str = "ClusterServingRuntime", name: str = "kserve-sklearnserver") -> Manifest:
    """KServe's sklearn runtime as `config/runtimes/kserve-sklearnserver.yaml` ships it."""
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "annotations": {
                "prometheus.kserve.io/port": "8080",
                "prometheus.kserve.io/path": "/metrics",
            },
            "supportedModelFormats": [
                {"name": "sklearn", "version": "1", "autoSelect": True, "priority": 3}
            ],
            "protocolVersions": ["v1", "v2"],
            "containers": [
                {
                    "name": "kserve-container",
                    "image": "kserve-sklearnserver:replace",
                    "args": [
                        "--model_name={{.Name}}",
                        "--model_dir=/mnt/models",
                        "--http_port=8080",
                    ],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "privileged": False,
                        "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {
                        "requests": {"cpu": "1", "memory": "2Gi"},
                        "limits": {"cpu": "1", "memory": "2Gi"},
                    },
                }
            ],
        },
    }


def changed(manifest: Manifest, path: str, value: Any) -> Manifest:
    """A copy with `value` at a dotted `path` (`[i]` indexes a list; `...=None` deletes)."""
    out = copy.deepcopy(manifest)
    parts = path.replace("[", ".[").split(".")
    node: Any = out
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
    last = parts[-1]
    if value is None:
        node.pop(last)
    elif last.startswith("["):
        node[int(last[1:-1])] = value
    else:
        node[last] = value
    return out
