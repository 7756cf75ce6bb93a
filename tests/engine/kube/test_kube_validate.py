"""Every rendered object validates offline: Kubernetes' own kinds with `kubernetes-validate`
(strict, Kubernetes 1.33), Knative's and Gateway API's against their CRD schemas (strict:
an undeclared field fails) and Knative's through the cloudcoil models; our CRDs are
structural and accept every example; the install bundle validates too."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.knative_serving.serving import v1 as knative

from mlservice.controller.offline import render
from mlservice.engine.kube.crds import crds
from mlservice.engine.kube.install import install_objects
from mlservice.resources.columns import cli_columns
from mlservice.runtime import builtin, kserve
from tests.engine.kube.kube_helpers import (
    EXAMPLES,
    RUNTIME_FILES,
    check_schema,
    crd_schema,
    documents,
    example_files,
    example_id,
    rendered_examples,
    strict,
)

K8S_VERSION = "1.33"
RENDERED = rendered_examples()
OBJECTS = [
    (f"{case}#{i}:{obj['kind']}/{obj['metadata']['name']}", obj)
    for case, objects in RENDERED
    for i, obj in enumerate(objects)
]
CUSTOM = {
    ("serving.knative.dev/v1", "Configuration"): "knative-serving/configuration.yaml",
    ("serving.knative.dev/v1", "Route"): "knative-serving/route.yaml",
    ("serving.knative.dev/v1", "Service"): "knative-serving/service.yaml",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway-api/httproutes.yaml",
}
BUILT_IN = {
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
}


def test_the_examples_render_every_kind_of_both_modes() -> None:
    kinds = {(obj["apiVersion"], obj["kind"]) for _, obj in OBJECTS}
    assert kinds == set(CUSTOM) | BUILT_IN


@pytest.mark.parametrize("obj", [o for _, o in OBJECTS], ids=[i for i, _ in OBJECTS])
def test_each_rendered_object_validates(obj: dict[str, Any]) -> None:
    key = (obj["apiVersion"], obj["kind"])
    if key in BUILT_IN:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        return
    group_version = obj["apiVersion"]
    check_schema(obj, crd_schema(CUSTOM[key], obj["kind"], group_version.rsplit("/", 1)[1]))
    if group_version == "serving.knative.dev/v1":
        # strict: lax mode turns the quantity "1" into an int and trips on its pattern
        model = getattr(knative, obj["kind"]).model_validate(obj, strict=True)
        assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


def test_the_strict_schemas_catch_an_unknown_field() -> None:
    """The CRD checks above can fail: a misspelt field is refused."""
    _, objects = next(r for r in RENDERED if r[0] == "knative/mlservice/canary.yaml")
    route = next(o for o in objects if o["kind"] == "Route")
    route["spec"]["traffic"][0]["percnt"] = 5
    with pytest.raises(Exception, match="percnt"):
        check_schema(route, crd_schema(CUSTOM[("serving.knative.dev/v1", "Route")], "Route", "v1"))


# -- our CRDs -----------------------------------------------------------------------------

OUR_CRDS = {c["spec"]["names"]["kind"]: c for c in crds(kserve_kinds=True)}


@pytest.mark.parametrize("crd", list(OUR_CRDS.values()), ids=list(OUR_CRDS))
def test_our_crds_are_valid_objects_with_structural_schemas(crd: dict[str, Any]) -> None:
    kubernetes_validate.validate(crd, K8S_VERSION, strict=True)
    (version,) = crd["spec"]["versions"]
    assert_structural(version["schema"]["openAPIV3Schema"], "")


def assert_structural(node: Any, path: str) -> None:
    """Kubernetes' structural-schema rules that pydantic's JSON Schema would break."""
    assert isinstance(node, dict), path
    for banned in ("$ref", "anyOf", "oneOf", "allOf", "not", "$defs", "const"):
        assert banned not in node, f"{path}: {banned}"
    assert node.get("additionalProperties") is not False, path
    assert not ("properties" in node and "additionalProperties" in node), path
    typed = "type" in node
    free = node.get("x-kubernetes-preserve-unknown-fields") or node.get(
        "x-kubernetes-int-or-string"
    )
    assert typed or free, f"{path}: no type"
    assert node.get("type") != "null", path
    if "exclusiveMinimum" in node:
        assert node["exclusiveMinimum"] is True, path
    for key, child in (node.get("properties") or {}).items():
        assert_structural(child, f"{path}.{key}")
    if isinstance(node.get("items"), dict):
        assert_structural(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        assert_structural(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("kind", list(OUR_CRDS))
def test_our_crds_print_the_columns_mls_get_prints(kind: str) -> None:
    (version,) = OUR_CRDS[kind]["spec"]["versions"]
    columns = version["additionalPrinterColumns"]
    ours = cli_columns(kind, wide=True)[1:]  # NAME is kubectl's own
    assert [c["name"].upper() for c in columns] == [c.header for c in ours]
    assert [c.get("priority", 0) for c in columns] == [int(c.wide_only) for c in ours]


def test_our_crds_name_the_status_subresource() -> None:
    (version,) = OUR_CRDS["MLService"]["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    (runtime,) = OUR_CRDS["ServingRuntime"]["spec"]["versions"]
    assert "subresources" not in runtime  # as KServe's CRD declares none
    assert [c["metadata"]["name"] for c in crds()] == [
        "mlservices.tensorstack.dev",
        "simplemlservices.tensorstack.dev",
        "mlserviceruntimes.tensorstack.dev",
    ]


OURS = [
    (example_id(path), doc)
    for path in [*example_files(), *RUNTIME_FILES]
    for doc in documents(path)
    if doc["kind"] in OUR_CRDS
]


@pytest.mark.parametrize("doc", [d for _, d in OURS], ids=[f"{i}:{d['kind']}" for i, d in OURS])
def test_our_crds_accept_every_example(doc: dict[str, Any]) -> None:
    (version,) = OUR_CRDS[doc["kind"]]["spec"]["versions"]
    check_schema(doc, strict(version["schema"]["openAPIV3Schema"]))


def test_our_crds_refuse_what_validation_refuses() -> None:
    (doc,) = documents(EXAMPLES / "mlservice" / "canary.yaml")
    (version,) = OUR_CRDS["MLService"]["spec"]["versions"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    doc["spec"]["canaryTrafficPercent"] = 120
    with pytest.raises(Exception, match="120"):
        check_schema(doc, schema)
    doc["spec"]["canaryTrafficPercent"] = 20
    doc["spec"]["releases"][0]["predictor"]["modl"] = {}
    with pytest.raises(Exception, match="modl"):
        check_schema(doc, schema)


# -- install ------------------------------------------------------------------------------


def test_the_install_bundle_validates() -> None:
    runtimes = [*builtin.manifests(), *kserve.manifests()]
    objects = install_objects(kserve_kinds=True, runtimes=runtimes)
    for obj in objects:
        if obj["kind"] in OUR_CRDS:
            (version,) = OUR_CRDS[obj["kind"]]["spec"]["versions"]
            check_schema(obj, strict(version["schema"]["openAPIV3Schema"]))
        else:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    kinds = [o["kind"] for o in objects]
    assert kinds[:5] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
    ]
    assert kinds.count("MLServiceRuntime") == len(builtin.manifests())
    assert kinds.count("ClusterServingRuntime") == len(kserve.manifests())


def test_install_without_kserve_kinds_leaves_kserve_alone() -> None:
    objects = install_objects(runtimes=builtin.manifests())
    text = repr(objects)
    assert "serving.kserve.io" not in text
    operator = next(o for o in objects if o["kind"] == "Deployment")
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    assert container["args"] == [
        "operator",
        "--all-namespaces",
        "--mode",
        "knative",
        "--image",
        "mlservice:latest",
        "--domain",
        "example.com",
    ]


def test_render_reads_only_what_it_is_given() -> None:
    """A service naming a runtime that is not among the inputs (nor built in) is an error,
    not a lookup somewhere else."""
    (service,) = documents(EXAMPLES / "mlservice" / "demo-runtime.yaml")
    with pytest.raises(Exception, match='Runtime "torchscript" does not exist'):
        render([service])


def test_kubernetes_validate_is_strict() -> None:
    _, objects = next(r for r in RENDERED if r[0] == "standard/mlservice/canary.yaml")
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagee"):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
