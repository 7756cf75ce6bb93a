"""KServe's runtime selection: the table of outcomes KServe gives, then properties."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlservice.errors import (
    KServeSelectionError,
    NoSupportingRuntime,
    RuntimeDisabled,
    RuntimeNotRecognized,
)
from mlservice.runtime.kserve import manifests
from mlservice.runtime.kserve_select import (
    SHORTCUT_FORMATS,
    PredictorModel,
    RuntimeCandidate,
    SupportedFormat,
    assigned_protocol,
    model_defaults,
    select_runtime,
    shortcut_model,
    supporting_runtimes,
)

OLD = datetime(2024, 1, 1, tzinfo=UTC)
NEW = datetime(2024, 6, 1, tzinfo=UTC)


def fmt(
    name: str = "sklearn",
    version: str | None = None,
    *,
    auto: bool = True,
    priority: int | None = None,
) -> SupportedFormat:
    return SupportedFormat(name, version, auto_select=auto, priority=priority)


def rt(name: str, *formats: SupportedFormat, **fields: object) -> RuntimeCandidate:
    return RuntimeCandidate(name, formats=formats or (fmt(),), **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    namespace: tuple[RuntimeCandidate, ...] = ()
    cluster: tuple[RuntimeCandidate, ...] = ()
    format: str = "sklearn"
    version: str | None = None
    protocol: str | None = None
    runtime: str | None = None
    multi_node: bool = False
    picks: str | None = None
    error: type[KServeSelectionError] | None = None
    message: str = ""
    failure: str = ""


NONE_FOUND = "No runtime found to support specified framework/version"

TABLE = {
    # priority
    "higher priority wins": Case(
        cluster=(rt("a", fmt(priority=1)), rt("b", fmt(priority=2))), picks="b"
    ),
    "a priority beats none, even newer": Case(
        cluster=(rt("a", fmt(), created=NEW), rt("b", fmt(priority=1), created=OLD)), picks="b"
    ),
    "equal priority: the newer runtime": Case(
        cluster=(rt("a", fmt(priority=1), created=OLD), rt("b", fmt(priority=1), created=NEW)),
        picks="b",
    ),
    "equal priority and age: by name": Case(
        cluster=(rt("b", fmt(priority=1), created=OLD), rt("a", fmt(priority=1), created=OLD)),
        picks="a",
    ),
    "no priorities: lowest protocol version listed first": Case(
        cluster=(
            rt("a", protocol_versions=("v2",), created=NEW),
            rt("b", protocol_versions=("v1", "v2"), created=OLD),
        ),
        protocol="v2",
        picks="b",
    ),
    "priority is the format's first entry's, whatever its version": Case(
        cluster=(
            rt("a", fmt(version="0", auto=False, priority=5), fmt(version="1", priority=1)),
            rt("b", fmt(version="1", priority=3)),
        ),
        version="1",
        picks="a",
    ),
    # autoSelect
    "autoSelect false is never picked": Case(
        cluster=(rt("a", fmt(auto=False, priority=9)), rt("b", fmt())), picks="b"
    ),
    "autoSelect false alone: nothing": Case(
        cluster=(rt("a", fmt(auto=False)),),
        error=NoSupportingRuntime,
        message="no runtime found to support predictor with model type: {sklearn <nil>}",
        failure=NONE_FOUND,
    ),
    "autoSelect false, named: used": Case(
        cluster=(rt("a", fmt(auto=False)), rt("b", fmt(priority=5))), runtime="a", picks="a"
    ),
    # protocolVersions
    "protocol mismatch: v1 model, v2 runtime": Case(
        cluster=(rt("a", protocol_versions=("v2",)),),
        error=NoSupportingRuntime,
        failure=NONE_FOUND,
    ),
    "protocol mismatch skips to the next": Case(
        cluster=(rt("a", fmt(priority=9), protocol_versions=("v1",)), rt("b")),
        protocol="v2",
        picks="b",
    ),
    "no protocolVersions supports any": Case(cluster=(rt("a"),), protocol="grpc-v2", picks="a"),
    # disabled
    "disabled is skipped": Case(
        cluster=(rt("a", fmt(priority=9), disabled=True), rt("b", fmt(priority=1))), picks="b"
    ),
    "disabled alone: nothing": Case(
        cluster=(rt("a", disabled=True),), error=NoSupportingRuntime, failure=NONE_FOUND
    ),
    # namespace before cluster
    "namespace wins at lower priority": Case(
        namespace=(rt("ns", fmt(priority=1)),), cluster=(rt("cl", fmt(priority=9)),), picks="ns"
    ),
    "namespace wins without a priority": Case(
        namespace=(rt("ns"),), cluster=(rt("cl", fmt(priority=9)),), picks="ns"
    ),
    "namespace runtime that cannot serve: the cluster's": Case(
        namespace=(rt("ns", fmt(auto=False)), rt("mm", multi_model=True)),
        cluster=(rt("cl"),),
        picks="cl",
    ),
    "multi-node runtimes only for multi-node predictors": Case(
        cluster=(rt("mn", fmt(priority=9), multi_node=True), rt("single")), picks="single"
    ),
    "a multi-node predictor gets a multi-node runtime": Case(
        cluster=(rt("mn", multi_node=True), rt("single", fmt(priority=9))),
        multi_node=True,
        picks="mn",
    ),
    # versions
    "same version matches": Case(cluster=(rt("a", fmt(version="1")),), version="1", picks="a"),
    "no model version matches any": Case(cluster=(rt("a", fmt(version="1")),), picks="a"),
    "1.0 is not 1": Case(
        cluster=(rt("a", fmt(version="1")),),
        version="1.0",
        error=NoSupportingRuntime,
        message="no runtime found to support predictor with model type: {sklearn 1.0}",
    ),
    "a model version needs a runtime version": Case(
        cluster=(rt("a", fmt()),), version="1", error=NoSupportingRuntime
    ),
    "other versions are skipped": Case(
        cluster=(rt("a", fmt(version="0", priority=9)), rt("b", fmt(version="1"))),
        version="1",
        picks="b",
    ),
    # explicit runtime
    "named wins over priority and scope": Case(
        namespace=(rt("ns", fmt(priority=9)),), cluster=(rt("cl"),), runtime="cl", picks="cl"
    ),
    "named and missing": Case(
        cluster=(rt("a"),),
        runtime="nope",
        error=RuntimeNotRecognized,
        message="No ServingRuntimes or ClusterServingRuntimes with the name: nope",
        failure="Waiting for runtime to become available",
    ),
    "named and disabled": Case(
        cluster=(rt("a", disabled=True),),
        runtime="a",
        error=RuntimeDisabled,
        message="specified runtime a is disabled",
        failure="Specified runtime is disabled",
    ),
    "named namespace runtime shadows the cluster's, disabled too": Case(
        namespace=(rt("a", disabled=True),), cluster=(rt("a"),), runtime="a", error=RuntimeDisabled
    ),
    "named without the format": Case(
        cluster=(rt("a", fmt("xgboost")),),
        runtime="a",
        error=NoSupportingRuntime,
        message="specified runtime a does not support specified framework/version",
        failure="Specified runtime does not support specified framework/version",
    ),
    "named without the version": Case(
        cluster=(rt("a", fmt(version="1")),),
        runtime="a",
        version="2",
        error=NoSupportingRuntime,
        message="specified runtime a does not support specified framework/version",
    ),
    "named with a protocol it lacks": Case(
        cluster=(rt("a", protocol_versions=("v2",)),),
        runtime="a",
        protocol="v1",
        error=NoSupportingRuntime,
        message="specified runtime a does not support specified protocol version",
        failure="Specified runtime does not support specified protocol version",
    ),
    "named, protocol unset: not checked": Case(
        cluster=(rt("a", protocol_versions=("v2",)),), runtime="a", picks="a"
    ),
    "named multi-model runtime: not checked": Case(
        cluster=(rt("a", multi_model=True),), runtime="a", picks="a"
    ),
    # nothing at all
    "no runtimes": Case(
        format="pytorch",
        error=NoSupportingRuntime,
        message="no runtime found to support predictor with model type: {pytorch <nil>}",
        failure=NONE_FOUND,
    ),
}


@pytest.mark.parametrize("case", TABLE.values(), ids=TABLE.keys())
def test_selection_table(case: Case) -> None:
    def select() -> RuntimeCandidate:
        return select_runtime(
            case.format,
            version=case.version,
            protocol_version=case.protocol,
            runtime=case.runtime,
            namespace_runtimes=case.namespace,
            cluster_runtimes=[
                RuntimeCandidate(**{**vars(r), "cluster": True}) for r in case.cluster
            ],
            multi_node=case.multi_node,
        )

    if case.error is None:
        chosen = select()
        assert chosen.name == case.picks
        assert chosen.cluster == (chosen not in case.namespace)
        return
    with pytest.raises(case.error) as caught:
        select()
    assert caught.value.reason == case.error.__name__
    if case.message:
        assert caught.value.message == case.message
    if case.failure:
        assert caught.value.failure_message == case.failure


def test_supporting_runtimes_lists_namespace_ones_first_each_by_priority() -> None:
    found = supporting_runtimes(
        "sklearn",
        namespace_runtimes=[rt("n1"), rt("n2", fmt(priority=1)), rt("n3", fmt(priority=2))],
        cluster_runtimes=[rt("c1", fmt(priority=1)), rt("c2", fmt(priority=7))],
    )
    assert [r.name for r in found] == ["n3", "n2", "n1", "c2", "c1"]


@pytest.mark.parametrize(
    ("protocols", "spec", "assigned"),
    [
        (("v1", "v2"), "v2", "v2"),
        (("v2", "v1"), None, "v1"),
        (("grpc-v2", "v2"), None, "v2"),
        (("grpc-v2",), None, "grpc-v2"),
        ((), None, ""),
    ],
)
def test_assigned_protocol_is_the_specs_else_the_runtimes_lowest(
    protocols: tuple[str, ...], spec: str | None, assigned: str
) -> None:
    assert assigned_protocol(rt("a", protocol_versions=protocols), spec) == assigned


def test_from_manifest_reads_kserve_defaults() -> None:
    candidate = RuntimeCandidate.from_manifest(
        {
            "apiVersion": "serving.kserve.io/v1alpha1",
            "kind": "ServingRuntime",
            "metadata": {"name": "mine", "creationTimestamp": "2024-06-01T00:00:00Z"},
            "spec": {
                "supportedModelFormats": [{"name": "sklearn", "version": "1"}],
                "containers": [{"name": "kserve-container", "image": "x"}],
            },
        }
    )
    assert candidate == RuntimeCandidate(
        "mine", cluster=False, formats=(SupportedFormat("sklearn", "1"),), created=NEW
    )
    # absent autoSelect is false: a runtime must opt in, as in KServe
    assert not candidate.formats[0].auto_select
    assert candidate.supports_protocol("grpc-v2")


# --- shortcuts and the built-in runtimes ------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "protocol", "model"),
    [
        ("sklearn", None, PredictorModel("sklearn", None)),
        ("xgboost", None, PredictorModel("xgboost", None)),
        ("lightgbm", "v2", PredictorModel("lightgbm", "v2")),
        ("pytorch", None, PredictorModel("pytorch", None)),
        ("tensorflow", None, PredictorModel("tensorflow", None)),
        ("pmml", None, PredictorModel("pmml", None)),
        ("paddle", None, PredictorModel("paddle", None)),
        ("onnx", None, PredictorModel("onnx", "v2")),
        ("onnx", "v1", PredictorModel("onnx", "v1")),
        ("triton", None, PredictorModel("triton", "v2")),
        ("huggingface", None, PredictorModel("huggingface", "v2")),
    ],
)
def test_shortcuts_become_models_as_kserves_webhook_does(
    field: str, protocol: str | None, model: PredictorModel
) -> None:
    assert shortcut_model(field, protocol_version=protocol) == model


def test_every_kserve_shortcut_is_known_and_others_are_not() -> None:
    assert set(SHORTCUT_FORMATS) == {
        "sklearn", "xgboost", "lightgbm", "onnx", "pytorch",
        "tensorflow", "triton", "huggingface", "pmml", "paddle",
    }  # fmt: skip
    with pytest.raises(KeyError):
        shortcut_model("caffe")
    assert model_defaults("triton") == PredictorModel("triton", "v2")
    assert model_defaults("onnx") == PredictorModel("onnx", None)  # only the shortcut defaults


BUILTIN = [RuntimeCandidate.from_manifest(m) for m in manifests()]


@pytest.mark.parametrize(
    ("field", "protocol", "runtime"),
    [
        ("sklearn", None, "kserve-sklearnserver"),
        ("sklearn", "v2", "kserve-sklearnserver"),
        ("xgboost", None, "kserve-xgbserver"),
        ("lightgbm", "v2", "kserve-lgbserver"),
        ("onnx", None, "kserve-onnxserver"),
        ("onnx", "v1", "kserve-onnxserver"),
        ("pytorch", "v1", "kserve-torchserve"),  # never kserve-torchserve-java by itself
        ("pytorch", "v2", "kserve-torchserve"),
    ],
)
def test_builtin_runtimes_serve_their_shortcuts(
    field: str, protocol: str | None, runtime: str
) -> None:
    model = shortcut_model(field, protocol_version=protocol)
    chosen = select_runtime(
        model.format, protocol_version=model.protocol_version, cluster_runtimes=BUILTIN
    )
    assert (chosen.name, chosen.cluster) == (runtime, True)


@pytest.mark.parametrize("field", ["tensorflow", "triton", "huggingface", "pmml", "paddle"])
def test_formats_without_a_runtime_here_get_no_supporting_runtime(field: str) -> None:
    model = shortcut_model(field)
    with pytest.raises(NoSupportingRuntime, match=rf"model type: \{{{field} <nil>\}}"):
        select_runtime(
            model.format, protocol_version=model.protocol_version, cluster_runtimes=BUILTIN
        )


def test_builtin_runtimes_refuse_a_protocol_they_lack() -> None:
    with pytest.raises(NoSupportingRuntime):
        select_runtime("sklearn", protocol_version="grpc-v2", cluster_runtimes=BUILTIN)


# --- properties -------------------------------------------------------------------------------

NAMES = [f"rt-{i}" for i in range(8)]
formats = st.builds(
    SupportedFormat,
    name=st.sampled_from(["sklearn", "xgboost"]),
    version=st.sampled_from([None, "1", "2"]),
    auto_select=st.booleans(),
    priority=st.sampled_from([None, 1, 2, 3]),
)
protocols = st.lists(st.sampled_from(["v1", "v2", "grpc-v2"]), unique=True, max_size=3)


@st.composite
def runtime_sets(draw: st.DrawFn) -> tuple[list[RuntimeCandidate], list[RuntimeCandidate]]:
    def candidate(name: str, cluster: bool) -> RuntimeCandidate:
        return RuntimeCandidate(
            name,
            cluster=cluster,
            formats=tuple(draw(st.lists(formats, min_size=1, max_size=3))),
            protocol_versions=tuple(draw(protocols)),
            disabled=draw(st.booleans()),
            multi_model=draw(st.booleans()),
            created=draw(st.sampled_from([None, OLD, NEW])),
        )

    local = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    cluster = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    return [candidate(n, False) for n in local], [candidate(n, True) for n in cluster]


requests = st.fixed_dictionaries(
    {
        "model_format": st.sampled_from(["sklearn", "xgboost"]),
        "version": st.sampled_from([None, "1", "2"]),
        "protocol_version": st.sampled_from([None, "v1", "v2", "grpc-v2"]),
    }
)


def _outcome(**kwargs: object) -> tuple[str, bool] | str:
    try:
        chosen = select_runtime(**kwargs)  # type: ignore[arg-type]
    except KServeSelectionError as err:
        return err.reason
    return chosen.name, chosen.cluster


@given(runtime_sets(), requests, st.randoms(use_true_random=False))
def test_selection_is_deterministic_whatever_the_listing_order(
    sets: tuple[list[RuntimeCandidate], list[RuntimeCandidate]],
    request: dict[str, str | None],
    shuffler: random.Random,
) -> None:
    local, cluster = sets
    first = _outcome(namespace_runtimes=local, cluster_runtimes=cluster, **request)
    shuffler.shuffle(local)
    shuffler.shuffle(cluster)
    assert _outcome(namespace_runtimes=local, cluster_runtimes=cluster, **request) == first


@given(runtime_sets(), requests)
def test_automatic_selection_picks_an_eligible_runtime_of_top_priority(
    sets: tuple[list[RuntimeCandidate], list[RuntimeCandidate]], request: dict[str, str | None]
) -> None:
    local, cluster = sets
    name, version = str(request["model_format"]), request["version"]
    protocol = request["protocol_version"] or "v1"

    def eligible(r: RuntimeCandidate) -> bool:
        return (
            not r.disabled
            and not r.multi_model
            and r.supports(name, version, named=False)
            and r.supports_protocol(protocol)
        )

    try:
        chosen = select_runtime(namespace_runtimes=local, cluster_runtimes=cluster, **request)  # type: ignore[arg-type]
    except NoSupportingRuntime:
        assert not any(map(eligible, [*local, *cluster]))
        return
    assert eligible(chosen)
    scope = [r for r in (local if any(map(eligible, local)) else cluster) if eligible(r)]
    assert chosen in scope  # namespace runtimes first
    priorities = [r.priority(name) for r in scope]
    if any(p is not None for p in priorities):
        assert chosen.priority(name) == max(p for p in priorities if p is not None)


@given(runtime_sets(), requests, st.sampled_from(NAMES))
def test_a_named_runtime_is_returned_iff_it_is_enabled_and_supports_the_model(
    sets: tuple[list[RuntimeCandidate], list[RuntimeCandidate]],
    request: dict[str, str | None],
    name: str,
) -> None:
    local, cluster = sets
    target = next((r for r in [*local, *cluster] if r.name == name), None)
    usable = (
        target is not None
        and not target.disabled
        and target.supports(str(request["model_format"]), request["version"], named=True)
        and (
            request["protocol_version"] is None
            or target.supports_protocol(request["protocol_version"])
        )
    )
    outcome = _outcome(namespace_runtimes=local, cluster_runtimes=cluster, runtime=name, **request)
    if usable:
        assert target is not None
        assert outcome == (name, target.cluster)
    else:
        assert isinstance(outcome, str)
