"""The built-in runtimes `mls up` installs in namespace `mls-system`, as YAML package data.

`sklearn`, `xgboost`, `lightgbm`, `onnx`, `pytorch`, `python` and `torchserve` (a TorchServe
model store, natively) run `mls serve`; `torchserve-java` runs the real TorchServe behind our
V1/V2 adapter through `torchserve.py`. A runtime may list programs it needs under
the `REQUIRES` annotation (comma-separated): the controllers report `RuntimeUnavailable`
instead of starting replicas that could never run; a KServe ServingRuntime may carry it too
(`kserve-torchserve-java`).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import yaml

from mlservice.resources import MLServiceRuntime, parse_as, validate_object

BUILTIN_LABEL = "tensorstack.dev/builtin"
REQUIRES = "mlservice.tensorstack.dev/requires"


def manifests() -> list[dict[str, Any]]:
    """Every built-in runtime as stored: validated, defaults filled in, sorted by name."""
    folder = resources.files(__name__)
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            found.append(validate_object(yaml.safe_load(entry.read_text())))
    return sorted(found, key=lambda m: str(m["metadata"]["name"]))


def runtimes() -> list[MLServiceRuntime]:
    return [parse_as(MLServiceRuntime, manifest) for manifest in manifests()]


def required_programs(runtime: MLServiceRuntime) -> list[str]:
    """Programs the runtime says it needs on PATH, besides its command."""
    return requires_of({"annotations": runtime.metadata.annotations or {}})


def requires_of(metadata: Mapping[str, Any]) -> list[str]:
    """Programs a runtime's `metadata` (Kubernetes JSON: an MLServiceRuntime's, a KServe
    ServingRuntime's) says it needs on PATH, besides its command."""
    listed = (metadata.get("annotations") or {}).get(REQUIRES, "")
    return [name.strip() for name in str(listed).split(",") if name.strip()]
