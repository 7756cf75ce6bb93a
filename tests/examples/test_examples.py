"""examples/ without running anything: every manifest is valid and explained, every feature the
reference documents has one, and everything an example names (runtimes, volumes, Secrets)
exists among the examples or the built-in runtimes. test_examples_run.py runs them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from mlservice.resources import MLService, MLServiceRuntime, Secret, parse_as, validate_object
from mlservice.runtime import builtin
from mlservice.runtime.select import select_runtime
from tests.examples.examples_lib import DEFAULT_GATEWAY, S3, SERVICE_KINDS, Example, load_all

EXAMPLES = load_all()
SERVICES = [e for e in EXAMPLES if e.kind in SERVICE_KINDS]
Obj = dict[str, Any]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.rel)
def test_example_is_valid_and_explained(example: Example) -> None:
    assert example.header, "an example starts with a comment saying what it shows"
    validated = validate_object(example.manifest)
    assert validated["metadata"]["namespace"] == "default"
    assert validate_object(validated) == validated  # what the API stores validates to itself
    assert all(n == S3 or re.fullmatch(r"[\w.-]+", n) for n in example.needs), example.needs


@pytest.mark.parametrize("example", SERVICES, ids=lambda e: e.rel)
def test_service_example_says_what_to_try_on_its_own_host(example: Example) -> None:
    curls = [t for t in example.tries if t.startswith("curl ")]
    if example.kind == "InferenceService" and example.manifest not in _isvcs():
        assert not curls, "a reference manifest that cannot run here says so, with no curl"
        return
    assert curls, "a service example has at least one curl command under '# Try:'"
    suffix = ".default.svc.localhost" if example.kind == "SimpleMLService" else ".default.localhost"
    for command in curls:
        assert DEFAULT_GATEWAY in command, command
        host = re.search(r'-H "Host: ([^"]+)"', command)
        assert host is not None, command
        # KServe's tag routing hosts put the tag first: latest-{name}-predictor...
        assert host[1].removeprefix("latest-").removeprefix("prev-").startswith(example.name)
        assert host[1].endswith(suffix), command


def _releases(obj: Obj) -> list[Obj]:
    releases: list[Obj] = obj["spec"].get("releases", [])
    return releases


def _predictors(obj: Obj) -> list[Obj]:
    return [r["predictor"] for r in _releases(obj)]


def _containers(predictor: Obj) -> list[Obj]:
    containers: list[Obj] = predictor.get("template", {}).get("spec", {}).get("containers", [])
    return containers


def _runnable(kind: str) -> list[Obj]:
    return [e.manifest for e in EXAMPLES if e.kind == kind and not e.programs]


def _has(kind: str, check: Callable[[Obj], bool]) -> bool:
    return any(check(m) for m in _runnable(kind))


def _patch_shape(predictor: Obj) -> bool:
    containers = _containers(predictor)
    user = [c for c in containers if c["name"] == "user-container"]
    return bool(user) and {"image", "args"} <= set(user[0]) and len(containers) >= 2


def _annotations(predictor: Obj) -> Obj:
    annotations: Obj = predictor.get("template", {}).get("metadata", {}).get("annotations", {})
    return annotations


def _s3_secret(secret: Obj) -> bool:
    labels = secret["metadata"].get("labels", {})
    keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
    return labels.get("tensorstack.dev/resource") == "s3" and ".s3cfg" in keys


# The features of the reference documents (mlservice.md, simplemlservice.md), each with a check
# that a runnable example shows it.
FEATURES: dict[str, Callable[[], bool]] = {
    "basic MLService (torch-mnist, 1-3 replicas)": lambda: _has(
        "MLService",
        lambda m: (
            m["metadata"]["name"] == "torch-mnist"
            and _predictors(m)[0]["minReplicas"] == 1
            and _predictors(m)[0]["maxReplicas"] == 3
        ),
    ),
    "MLServiceRuntime with {{if .MODEL_PATH}}": lambda: _has(
        "MLServiceRuntime",
        lambda m: any(
            "{{if .MODEL_PATH}}" in arg
            for c in m["spec"]["template"]["spec"]["containers"]
            for arg in c.get("args", [])
        ),
    ),
    "model.parameters MODEL_PATH": lambda: _has(
        "MLService",
        lambda m: any("MODEL_PATH" in p["model"].get("parameters", {}) for p in _predictors(m)),
    ),
    "strategic merge: image and args replaced, a container added": lambda: _has(
        "MLService", lambda m: any(_patch_shape(p) for p in _predictors(m))
    ),
    "predictor.resources override": lambda: _has(
        "MLService", lambda m: any("resources" in p for p in _predictors(m))
    ),
    "releases nov-02, nov-05, nov-11": lambda: _has(
        "MLService",
        lambda m: [r["name"] for r in _releases(m)] == ["nov-02", "nov-05", "nov-11"],
    ),
    "canary with 20%": lambda: _has(
        "MLService",
        lambda m: bool(m["spec"].get("canary")) and m["spec"].get("canaryTrafficPercent") == 20,
    ),
    "logger with urls and mode": lambda: _has(
        "MLService",
        lambda m: any({"urls", "mode"} <= set(p.get("logger", {})) for p in _predictors(m)),
    ),
    "transformer": lambda: _has("MLService", lambda m: "transformer" in m["spec"]),
    "autoscaling annotations rps/100": lambda: _has(
        "MLService",
        lambda m: any(
            _annotations(p).get("autoscaling.knative.dev/metric") == "rps"
            and _annotations(p).get("autoscaling.knative.dev/target") == "100"
            for p in _predictors(m)
        ),
    ),
    "scale to zero": lambda: _has(
        "MLService",
        lambda m: len(_releases(m)) == 1 and _predictors(m)[0].get("minReplicas") == 0,
    ),
    "S3 model storage": lambda: _has(
        "MLService", lambda m: any("storage" in p for p in _predictors(m))
    ),
    "S3 Secret with .s3cfg": lambda: _has("Secret", _s3_secret),
    "PVC model storage": lambda: _has(
        "MLService",
        lambda m: any(p["model"].get("modelUri", "").startswith("pvc://") for p in _predictors(m)),
    ),
    "MLService scheduler queue": lambda: _has(
        "MLService", lambda m: "queue" in m["spec"].get("scheduler", {}).get("t9kScheduler", {})
    ),
    "SimpleMLService tensorflow (needs its binary)": lambda: any(
        e.kind == "SimpleMLService"
        and "tensorflow" in e.manifest["spec"]
        and e.programs == ("tensorflow_model_server",)
        for e in EXAMPLES
    ),
    "SimpleMLService pytorch (a TorchServe store, natively)": lambda: _has(
        "SimpleMLService", lambda m: "modelsFlag" in m["spec"].get("pytorch", {})
    ),
    "SimpleMLService custom": lambda: _has("SimpleMLService", lambda m: "custom" in m["spec"]),
    "SimpleMLService S3 and PVC storage": lambda: (
        _has("SimpleMLService", lambda m: "s3" in m["spec"].get("storage", {}))
        and _has("SimpleMLService", lambda m: "pvc" in m["spec"].get("storage", {}))
    ),
    "SimpleMLService service port": lambda: _has(
        "SimpleMLService",
        lambda m: m["spec"].get("service", {}).get("ports", [{}])[0].get("port") == 7070,
    ),
    "SimpleMLService scheduler queue": lambda: _has(
        "SimpleMLService", lambda m: "t9kScheduler" in m["spec"].get("scheduler", {})
    ),
}


@pytest.mark.parametrize("feature", FEATURES)
def test_every_documented_feature_has_a_runnable_example(feature: str) -> None:
    assert FEATURES[feature](), f"no runnable example shows: {feature}"


def test_runtimes_resolve_to_example_or_builtin_runtimes() -> None:
    runtimes = [*builtin.runtimes()] + [
        parse_as(MLServiceRuntime, validate_object(e.manifest))
        for e in EXAMPLES
        if e.kind == "MLServiceRuntime" and not e.programs
    ]
    chosen = set()
    for example in SERVICES:
        if example.kind != "MLService":
            continue
        svc = parse_as(MLService, validate_object(example.manifest))
        for release in svc.spec.releases:
            runtime = select_runtime(
                release.predictor.model, namespace="default", runtimes=runtimes
            )
            chosen.add(runtime.name)
    assert {"torchscript", "pytorch", "sklearn"} <= chosen, chosen


def test_examples_refer_only_to_objects_the_examples_define() -> None:
    defined = {(e.kind, e.name) for e in EXAMPLES}
    wanted: set[tuple[str, str]] = set()
    for example in SERVICES:
        wanted |= _refs(example.manifest)
    assert wanted - defined == set()
    secrets = [
        parse_as(Secret, validate_object(e.manifest)) for e in EXAMPLES if e.kind == "Secret"
    ]
    assert secrets
    assert all(s.s3_config().host_base == "127.0.0.1:9000" for s in secrets)


def _refs(manifest: Obj) -> set[tuple[str, str]]:
    if manifest["kind"] == "InferenceService":
        return _kserve_refs(manifest)
    refs: set[tuple[str, str]] = set()
    spec = manifest["spec"]
    pods = [p.get("template", {}).get("spec", {}) for p in _predictors(manifest)]
    pods.append(spec.get("transformer", {}).get("template", {}).get("spec", {}))
    for pod in pods:
        for volume in pod.get("volumes", []):
            refs.add(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
    for predictor in _predictors(manifest):
        uri = predictor["model"].get("modelUri", "")
        if uri.startswith("pvc://"):
            refs.add(("PersistentVolumeClaim", uri.split("/")[2]))
        if "storage" in predictor:
            refs.add(("Secret", predictor["storage"]["s3Storage"]["secretName"]))
    storage = spec.get("storage", {})
    if "s3" in storage:
        refs.add(("Secret", storage["s3"]["secretName"]))
    if "pvc" in storage:
        refs.add(("PersistentVolumeClaim", storage["pvc"]["name"]))
    return refs


# The reference's own volume (kserve/torchserve-nllb.yaml), kept as written there.
REFERENCE_VOLUMES = {("PersistentVolumeClaim", "torchserve-claim")}


def _kserve_refs(manifest: Obj) -> set[tuple[str, str]]:
    """The volumes and runtimes an InferenceService names (storageUri, runtime, pod volumes)."""
    refs: set[tuple[str, str]] = set()
    for component in ("predictor", "transformer"):
        spec = manifest["spec"].get(component, {})
        for volume in spec.get("volumes", []):
            refs.add(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
        for model in spec.values():
            if not isinstance(model, dict):
                continue
            uri = model.get("storageUri", "")
            if uri.startswith("pvc://"):
                refs.add(("PersistentVolumeClaim", uri.split("/")[2]))
            if "runtime" in model:
                refs.add(("ServingRuntime", model["runtime"]))
    return refs - REFERENCE_VOLUMES


def _isvcs(*, runnable: bool = True) -> list[Obj]:
    """The InferenceService examples; runnable ones read their model from a volume."""
    return [
        e.manifest
        for e in EXAMPLES
        if e.kind == "InferenceService"
        and (not runnable or "pvc://tutorial/" in str(e.manifest["spec"]["predictor"]))
    ]


def _predictor_model(manifest: Obj) -> Obj:
    predictor = manifest["spec"]["predictor"]
    found: Obj = next(v for v in predictor.values() if isinstance(v, dict) and "storageUri" in v)
    return found


def _canary_steps() -> list[Obj]:
    return [e.manifest for e in EXAMPLES if e.rel.startswith("kserve/canary/")]


# What a KServe user brings (issue 13: the reference's manifests, KFServing's sklearn-iris, a
# canary walk-through, a transformer, a copied ServingRuntime), each shown by an example.
KSERVE_FEATURES: dict[str, Callable[[], bool]] = {
    "sklearn-iris as KServe gives it (gs://), and a runnable twin": lambda: (
        any(
            _predictor_model(m)["storageUri"] == "gs://kfserving-examples/models/sklearn/1.0/model"
            for m in _isvcs(runnable=False)
        )
        and any(
            _predictor_model(m)["storageUri"] == "pvc://tutorial/models/sklearn/1.0/model"
            and "sklearn" in m["spec"]["predictor"]
            for m in _isvcs()
        )
    ),
    "the reference's modelFormat tensorflow with runtimeVersion": lambda: any(
        m["spec"]["predictor"].get("model", {}).get("runtimeVersion") == "2.7.1"
        for m in _isvcs(runnable=False)
    ),
    "the reference's TorchServe predictor with a GPU": lambda: any(
        m["spec"]["predictor"].get("pytorch", {}).get("resources", {}).get("limits", {})
        == {"cpu": "2", "memory": "12Gi", "nvidia.com/gpu": "1"}
        for m in _isvcs(runnable=False)
    ),
    "a ServingRuntime copied from KServe, and an InferenceService naming it": lambda: (
        _has(
            "ServingRuntime",
            lambda m: (
                m["spec"]["containers"][0]["args"]
                == ["--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"]
            ),
        )
        and any("runtime" in m["spec"]["predictor"].get("model", {}) for m in _isvcs())
    ),
    "the reference's TorchServe InferenceService on a model store here": lambda: any(
        m["spec"]["predictor"].get("pytorch", {}).get("protocolVersion") == "v1"
        and _predictor_model(m)["storageUri"] == "pvc://tutorial/torchserve/digits"
        for m in _isvcs()
    ),
    "a transformer container running mls serve --format python": lambda: any(
        "python" in m["spec"].get("transformer", {}).get("containers", [{}])[0].get("args", [])
        for m in _isvcs()
    ),
    "canary walk-through: 100, canary 10, promote, roll back with 0": lambda: (
        [m["spec"]["predictor"].get("canaryTrafficPercent") for m in _canary_steps()]
        == [None, 10, None, 0]
        and len({_predictor_model(m)["storageUri"] for m in _canary_steps()}) == 3
    ),
}


@pytest.mark.parametrize("feature", KSERVE_FEATURES)
def test_every_kserve_feature_has_an_example(feature: str) -> None:
    assert KSERVE_FEATURES[feature](), f"no example shows: {feature}"
