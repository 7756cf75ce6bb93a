"""The built-in ClusterServingRuntimes: KServe's shape, KServe's schema, runnable here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlservice.runtime.kserve import manifests, names
from mlservice.runtime.kserve_container import local_container

SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "schemas" / "kserve"


JAVA = "kserve-torchserve-java"
MLS_SERVE = [m for m in manifests() if m["metadata"]["name"] != JAVA]


def test_the_builtin_runtimes_are_the_designs() -> None:
    assert names() == [
        "kserve-lgbserver",
        "kserve-onnxserver",
        "kserve-sklearnserver",
        "kserve-torchserve",
        JAVA,
        "kserve-xgbserver",
    ]


@pytest.mark.parametrize("manifest", manifests(), ids=names())
def test_each_is_shaped_like_kserves_own(manifest: dict[str, Any]) -> None:
    assert manifest["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert manifest["kind"] == "ClusterServingRuntime"
    assert "namespace" not in manifest["metadata"]  # cluster-scoped
    spec = manifest["spec"]
    assert spec["protocolVersions"] == ["v1", "v2"]
    java = manifest["metadata"]["name"] == JAVA  # chosen by name only, and runs our launcher
    assert all(
        f["autoSelect"] is not java and f["priority"] == 1 for f in spec["supportedModelFormats"]
    )
    (container,) = spec["containers"]
    assert container["name"] == "kserve-container"
    assert container["args"][:3] == [
        "--model_name={{.Name}}",
        "--model_dir=/mnt/models",
        "--http_port=8080",
    ]
    if java:
        assert container["command"] == ["python", "-m", "mlservice.runtime.builtin.torchserve"]
    else:
        assert "command" not in container  # the image says what runs, as in KServe
    limits = {"cpu": "1", "memory": "2Gi"}
    assert container["resources"] == {"requests": limits, "limits": limits}


@pytest.mark.parametrize("manifest", MLS_SERVE, ids=[m["metadata"]["name"] for m in MLS_SERVE])
def test_each_runs_mls_serve_for_its_format_here(manifest: dict[str, Any]) -> None:
    fmt = manifest["spec"]["supportedModelFormats"][0]["name"]
    if manifest["metadata"]["name"] == "kserve-torchserve":
        fmt = "torchserve"  # KServe's pytorch format is a TorchServe model store
    container = local_container(
        manifest["spec"]["containers"][0],
        metadata={"name": "m", "namespace": "default"},
        where=manifest["metadata"]["name"],
    )
    argv = [*container["command"], *container["args"]]
    assert argv[:2] == ["mls", "serve"]
    assert (
        argv[argv.index("--format") + 1] if "--format" in argv else None
    ) == fmt or f"--format={fmt}" in argv
    assert "--http_port=$(PORT)" in argv
    assert "--model_name=m" in argv


def test_the_java_runtime_runs_the_launcher_on_the_replicas_port() -> None:
    manifest = next(m for m in manifests() if m["metadata"]["name"] == JAVA)
    container = local_container(
        manifest["spec"]["containers"][0], metadata={"name": "m", "namespace": "d"}, where=JAVA
    )
    assert container["command"] == ["python", "-m", "mlservice.runtime.builtin.torchserve"]
    assert container["args"] == ["--model_name=m", "--model_dir=/mnt/models", "--http_port=$(PORT)"]


def _crd_schema(kind_file: str) -> dict[str, Any]:
    path = SCHEMAS / kind_file
    if not path.exists():
        pytest.skip(f"the KServe CRD schemas are not beside the checkout ({SCHEMAS})")
    crd = yaml.safe_load(path.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _unknown_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields Kubernetes would prune: absent from a schema that lists its properties."""
    if isinstance(value, dict) and "properties" in schema:
        found = []
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += _unknown_fields(item, schema["properties"][key], f"{path}.{key}")
        return found
    if isinstance(value, list) and "items" in schema:
        items = schema["items"]
        return [e for i, v in enumerate(value) for e in _unknown_fields(v, items, f"{path}[{i}]")]
    return []


@pytest.mark.parametrize("manifest", manifests(), ids=names())
def test_each_validates_against_kserves_crd_schema(manifest: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _crd_schema("clusterservingruntimes.yaml")
    jsonschema.validate(manifest, schema)
    assert _unknown_fields(manifest, schema) == []
