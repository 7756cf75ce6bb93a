"""The built-in ClusterServingRuntimes, as YAML package data shaped like KServe's own
(`config/runtimes/`): `kserve-sklearnserver`, `kserve-xgbserver`, `kserve-lgbserver`,
`kserve-onnxserver` and `kserve-torchserve` (a TorchServe model store, served natively), plus
`kserve-torchserve-java` (the real TorchServe, chosen by name only). They are plain dicts here;
the resource models validate them where they are stored. Formats with no runtime here
(tensorflow, triton, huggingface, pmml, paddle) get KServe's `NoSupportingRuntime`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def manifests() -> list[dict[str, Any]]:
    """Every built-in ClusterServingRuntime as written, sorted by name."""
    folder = resources.files(__name__)
    found = [
        yaml.safe_load(entry.read_text())
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    ]
    return sorted(found, key=lambda m: str(m["metadata"]["name"]))


def names() -> list[str]:
    return [m["metadata"]["name"] for m in manifests()]
