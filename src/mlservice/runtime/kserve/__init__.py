"""The built-in ClusterServingRuntimes, as YAML package data shaped like KServe's own
(`config/runtimes/`): `kserve-sklearnserver`, `kserve-xgbserver`, `kserve-lgbserver` and
`kserve-onnxserver`. They are plain dicts here; the resource models validate them where they are
stored. Formats with no runtime here (pytorch until TorchServe lands, tensorflow, triton,
huggingface, pmml, paddle) get KServe's `NoSupportingRuntime`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def manifests() -> list[dict[str, Any]]:
    """Every built-in ClusterServingRuntime as written, sorted by name."""
    folder = resources.files(__name__)
    return [
        yaml.safe_load(entry.read_text())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]


def names() -> list[str]:
    return [m["metadata"]["name"] for m in manifests()]
