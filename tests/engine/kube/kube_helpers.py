"""Shared by the renderer's tests: the examples, rendering one, and offline validators."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlservice.client.manifests import load
from mlservice.controller.offline import render
from mlservice.errors import MLServiceError

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
# The runtimes the examples select by name: present on a cluster before the services.
RUNTIME_FILES = [
    EXAMPLES / "runtimes" / "torchscript.yaml",
    EXAMPLES / "runtimes" / "torchserve.yaml",
    EXAMPLES / "kserve" / "servingruntime.yaml",
]
# CRD schemas of Knative and Gateway API (test data beside the checkout; see its README).
# MLS_SHARED_DIR points elsewhere (a worktree whose parent has no shared/).
SHARED = Path(os.environ.get("MLS_SHARED_DIR") or ROOT.parent / "shared")
SCHEMAS = SHARED / "schemas"
UPDATE = os.environ.get("MLS_UPDATE_GOLDEN") == "1"
MODES = ("knative", "standard")


def example_files() -> list[Path]:
    found = sorted(EXAMPLES.rglob("*.yaml"))
    return [path for path in found if path not in RUNTIME_FILES]


def example_id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


def documents(*paths: Path) -> list[dict[str, Any]]:
    return [document.body for document in load(list(paths))]


def render_example(path: Path, mode: str) -> list[dict[str, Any]] | str:
    """The objects an example renders to, or the error's message."""
    context = documents(*RUNTIME_FILES)
    try:
        return render([*documents(path), *context], mode=mode)  # type: ignore[arg-type]
    except MLServiceError as err:
        return f"error: {err.message}\n"


def rendered_examples() -> list[tuple[str, list[dict[str, Any]]]]:
    """(id, objects) of every example and mode that renders."""
    found = []
    for path in example_files():
        for mode in MODES:
            objects = render_example(path, mode)
            if not isinstance(objects, str):
                found.append((f"{mode}/{example_id(path)}", objects))
    return found


# -- CRD schemas ----------------------------------------------------------------------------


@cache
def crd_schema(relative: str, kind: str, version: str) -> dict[str, Any]:
    """The `openAPIV3Schema` of `kind` at `version` in a CRD file under SCHEMAS, made strict."""
    path = SCHEMAS / relative
    if not path.is_file():
        pytest.skip(f"{path} is absent: the CRD schemas live beside the checkout (shared/)")
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc["spec"]["names"]["kind"] == kind:
            for entry in doc["spec"]["versions"]:
                if entry["name"] == version:
                    return strict(entry["schema"]["openAPIV3Schema"])
    raise LookupError(f"{kind} {version} not in {path}")


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as the API server applies it: a field no schema declares is an error (it
    would be pruned silently), unless the node preserves unknown fields."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    out["properties"]["metadata"] = {"type": "object"}
    return out


def check_schema(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(schema).validate(obj)
