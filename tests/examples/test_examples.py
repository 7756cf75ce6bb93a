"""Every manifest in examples/ is valid, says what it shows, and names only things that exist."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlservice.resources import (
    MLService,
    MLServiceRuntime,
    PersistentVolumeClaim,
    Secret,
    SimpleMLService,
    parse,
    validate_object,
)
from mlservice.resources.uri import scheme_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.rglob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 1, f"{path.name} holds {len(docs)} manifests; examples hold one each"
    doc: dict[str, Any] = docs[0]
    return doc


def test_examples_cover_every_kind_in_the_references() -> None:
    kinds = {_load(p)["kind"] for p in FILES}
    assert kinds == {
        "MLService",
        "MLServiceRuntime",
        "SimpleMLService",
        "Secret",
        "PersistentVolumeClaim",
    }
    # One file per manifest of the references (see examples/README.md).
    mlservices = {p.stem for p in FILES if p.parent.name == "mlservice"}
    assert mlservices == {
        "torch-mnist",
        "demo-runtime",
        "demo-parameters",
        "demo-patch",
        "demo-resources",
        "s3-storage",
        "pvc-storage",
        "multi-releases",
        "canary",
        "logger",
        "autoscaling",
        "scheduler",
    }
    simple = {p.stem for p in FILES if p.parent.name == "simplemlservice"}
    assert simple == {"sample", "pytorch", "custom", "service-port", "scheduler", "pvc-storage"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_is_valid_and_explained(path: Path) -> None:
    assert path.read_text().startswith("# "), (
        "an example starts with a comment saying what it shows"
    )
    manifest = _load(path)
    validated = validate_object(manifest)
    assert validated["metadata"]["namespace"] == "default"
    # Validation is idempotent: what the API stores validates to itself.
    assert validate_object(validated) == validated


def test_examples_refer_only_to_objects_the_examples_define() -> None:
    objects = [parse(_load(p)) for p in FILES]
    names = {(type(o).__name__, o.name) for o in objects}
    wanted: set[tuple[str, str]] = set()
    for obj in objects:
        if isinstance(obj, MLService):
            wanted |= _mlservice_refs(obj)
        if isinstance(obj, SimpleMLService) and obj.spec.storage:
            storage = obj.spec.storage
            if storage.s3:
                wanted.add(("Secret", storage.s3.secret_name))
            if storage.pvc:
                wanted.add(("PersistentVolumeClaim", storage.pvc.name))
    assert wanted - names == set()
    secrets = [o for o in objects if isinstance(o, Secret)]
    assert all(s.s3_config().host_base == "127.0.0.1:9000" for s in secrets)


def _mlservice_refs(svc: MLService) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()
    for release in svc.spec.releases:
        predictor = release.predictor
        refs.add((MLServiceRuntime.__name__, predictor.model.runtime or "torchserve"))
        uri = predictor.model.model_uri or ""
        if scheme_of(uri) == "pvc":
            refs.add((PersistentVolumeClaim.__name__, uri.split("/")[2]))
        if predictor.storage and predictor.storage.s3_storage:
            refs.add((Secret.__name__, predictor.storage.s3_storage.secret_name))
    return refs
