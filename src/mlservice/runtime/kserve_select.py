"""Choosing the ServingRuntime for an InferenceService's predictor, exactly as KServe does.

KServe (`pkg/controller/v1beta1/inferenceservice/components/predictor.go`, `reconcileModel`;
`pkg/apis/serving/v1beta1/predictor_model.go`, `GetSupportingRuntimes`):

- An explicit `model.runtime` is looked up by name, the namespace's ServingRuntimes first, then
  the ClusterServingRuntimes. It must exist (`RuntimeNotRecognized`), not be disabled
  (`RuntimeDisabled`), support the model's `protocolVersion` when the spec sets one, and list
  the model's format; `autoSelect` does not matter for a named runtime (`NoSupportingRuntime`).
- Otherwise the candidates are the runtimes that are not disabled, not multi-model, multi-node
  only for a multi-node predictor, list the format with `autoSelect: true` (absent is false,
  as KServe's `IsAutoSelectEnabled`) and support the protocol (the spec's, else `v1`; a runtime
  listing no `protocolVersions` supports any). The namespace's candidates all come before the
  cluster's, whatever the priorities; within each scope they are listed by lowest protocol
  version, newest first, then name, and sorted by the `priority` of the format's first entry in
  the runtime: a runtime with a priority before one without, higher first. The first wins.
- Versions match as KServe's labels do: a model without a version matches any entry of its
  format; a model with one matches only an entry with exactly that version string ("1" does not
  match "1.0"; no semver ranges).

Two choices where KServe leaves it open: Go's `sort.Slice` is not stable, so KServe may order
runtimes of equal priority either way; here the listing order is kept, so a selection is
deterministic. And KServe prints the model format with Go's `%v`, which shows a version as a
pointer address; the message here shows the version itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlservice.errors import NoSupportingRuntime, RuntimeDisabled, RuntimeNotRecognized

CLUSTER_KIND = "ClusterServingRuntime"
DEFAULT_PROTOCOL = "v1"
"""The protocol a model without `protocolVersion` asks for (KServe's `GetProtocol`)."""

# KServe's `ProtocolVersion` enum; anything else sorts as Unknown, after them all.
_PROTOCOL_RANK = {"v1": 1, "v2": 2, "grpc-v1": 3, "grpc-v2": 4}
_UNKNOWN_RANK = 5


@dataclass(frozen=True)
class SupportedFormat:
    """One `supportedModelFormats` entry of a runtime."""

    name: str
    version: str | None = None
    auto_select: bool = False
    """Absent counts as false: a runtime must opt in to automatic selection."""
    priority: int | None = None


@dataclass(frozen=True)
class RuntimeCandidate:
    """What selection reads of a ServingRuntime or ClusterServingRuntime."""

    name: str
    cluster: bool = False
    """A ClusterServingRuntime (status `clusterServingRuntimeName`), else a namespace's."""
    formats: tuple[SupportedFormat, ...] = ()
    protocol_versions: tuple[str, ...] = ()
    """Empty: the runtime supports any protocol, as KServe's `IsProtocolVersionSupported`."""
    disabled: bool = False
    multi_model: bool = False
    multi_node: bool = False
    """The runtime has a `workerSpec`."""
    created: datetime | None = None
    """`metadata.creationTimestamp`: newer runtimes are listed first before the priority sort."""

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> RuntimeCandidate:
        """Read a ServingRuntime/ClusterServingRuntime object (Kubernetes JSON)."""
        meta = manifest.get("metadata") or {}
        spec = manifest.get("spec") or {}
        return cls(
            name=str(meta.get("name", "")),
            cluster=manifest.get("kind") == CLUSTER_KIND,
            formats=tuple(
                SupportedFormat(
                    name=str(f["name"]),
                    version=None if f.get("version") is None else str(f["version"]),
                    auto_select=f.get("autoSelect") is True,
                    priority=f.get("priority"),
                )
                for f in spec.get("supportedModelFormats") or ()
            ),
            protocol_versions=tuple(spec.get("protocolVersions") or ()),
            disabled=spec.get("disabled") is True,
            multi_model=spec.get("multiModel") is True,
            multi_node=spec.get("workerSpec") is not None,
            created=_timestamp(meta.get("creationTimestamp")),
        )

    def supports(self, model_format: str, version: str | None, *, named: bool) -> bool:
        """KServe's `RuntimeSupportsModel`: a named runtime counts every entry, an
        automatically selected one only its `autoSelect: true` entries."""
        labels: set[str] = set()
        for f in self.formats:
            if named or f.auto_select:
                labels.add(f.name)
                if f.version is not None:
                    labels.add(f"{f.name}:{f.version}")
        return (model_format if version is None else f"{model_format}:{version}") in labels

    def supports_protocol(self, protocol: str | None) -> bool:
        return not protocol or not self.protocol_versions or protocol in self.protocol_versions

    def priority(self, model_format: str) -> int | None:
        """The priority of the format's first entry, whatever its version (KServe's
        `GetPriority`)."""
        return next((f.priority for f in self.formats if f.name == model_format), None)

    @property
    def kind(self) -> str:
        return CLUSTER_KIND if self.cluster else "ServingRuntime"


def select_runtime(
    model_format: str,
    *,
    version: str | None = None,
    protocol_version: str | None = None,
    runtime: str | None = None,
    namespace_runtimes: Iterable[RuntimeCandidate] = (),
    cluster_runtimes: Iterable[RuntimeCandidate] = (),
    multi_node: bool = False,
) -> RuntimeCandidate:
    """The runtime serving a predictor `model` with `modelFormat{name, version}`, its
    `protocolVersion` (None when the spec sets none) and `runtime` (None to select one).

    Raises RuntimeNotRecognized, RuntimeDisabled or NoSupportingRuntime with KServe's texts.
    """
    local, cluster = list(namespace_runtimes), list(cluster_runtimes)
    if runtime is not None:
        return _named(runtime, model_format, version, protocol_version, [*local, *cluster])
    found = supporting_runtimes(
        model_format,
        version=version,
        protocol_version=protocol_version,
        namespace_runtimes=local,
        cluster_runtimes=cluster,
        multi_node=multi_node,
    )
    if not found:
        shown = "<nil>" if version is None else version
        raise NoSupportingRuntime(
            f"no runtime found to support predictor with model type: {{{model_format} {shown}}}"
        )
    return found[0]


def supporting_runtimes(
    model_format: str,
    *,
    version: str | None = None,
    protocol_version: str | None = None,
    namespace_runtimes: Iterable[RuntimeCandidate] = (),
    cluster_runtimes: Iterable[RuntimeCandidate] = (),
    multi_node: bool = False,
) -> list[RuntimeCandidate]:
    """Every runtime that could be selected automatically, best first (KServe's
    `GetSupportingRuntimes` for single-model serving)."""
    protocol = protocol_version or DEFAULT_PROTOCOL

    def scope(runtimes: Iterable[RuntimeCandidate]) -> list[RuntimeCandidate]:
        kept = [
            r
            for r in sorted(runtimes, key=_listing_order)
            if not r.disabled
            and not r.multi_model
            and r.multi_node == multi_node
            and r.supports(model_format, version, named=False)
            and r.supports_protocol(protocol)
        ]
        # A stable sort: runtimes of equal priority keep their listing order.
        return sorted(kept, key=lambda r: _priority_order(r.priority(model_format)))

    return [*scope(namespace_runtimes), *scope(cluster_runtimes)]


def assigned_protocol(runtime: RuntimeCandidate, protocol_version: str | None) -> str:
    """The predictor's protocol once `runtime` is chosen: the spec's, else the runtime's lowest
    (KServe writes it into the spec); "" (KServe's unknown protocol) if the runtime lists none."""
    if protocol_version:
        return protocol_version
    ranked = sorted(runtime.protocol_versions, key=_protocol_rank)
    return ranked[0] if ranked and _protocol_rank(ranked[0]) != _UNKNOWN_RANK else ""


def _named(
    name: str,
    model_format: str,
    version: str | None,
    protocol_version: str | None,
    runtimes: Sequence[RuntimeCandidate],
) -> RuntimeCandidate:
    # The namespace's runtimes come first in `runtimes`: one of them shadows a cluster runtime
    # of the same name, disabled or not.
    found = next((r for r in runtimes if r.name == name), None)
    if found is None:
        raise RuntimeNotRecognized(
            f"No ServingRuntimes or ClusterServingRuntimes with the name: {name}"
        )
    if found.disabled:
        raise RuntimeDisabled(f"specified runtime {name} is disabled")
    if protocol_version is not None and not found.supports_protocol(protocol_version):
        raise NoSupportingRuntime(
            f"specified runtime {name} does not support specified protocol version",
            "Specified runtime does not support specified protocol version",
        )
    if not found.supports(model_format, version, named=True):
        raise NoSupportingRuntime(
            f"specified runtime {name} does not support specified framework/version",
            "Specified runtime does not support specified framework/version",
        )
    return found


def _protocol_rank(protocol: str) -> int:
    return _PROTOCOL_RANK.get(protocol, _UNKNOWN_RANK)


def _listing_order(runtime: RuntimeCandidate) -> tuple[int, float, str]:
    """Lowest protocol version first, then newest, then name (KServe's list sort); a runtime
    without a timestamp counts as the oldest, as Go's zero time does."""
    lowest = min(map(_protocol_rank, runtime.protocol_versions), default=_UNKNOWN_RANK)
    age = -runtime.created.timestamp() if runtime.created else float("inf")
    return lowest, age, runtime.name


def _priority_order(priority: int | None) -> tuple[int, int]:
    return (1, 0) if priority is None else (0, -priority)


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- the predictor's framework shortcuts --------------------------------------------------------

SHORTCUT_FORMATS: Mapping[str, str] = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "pytorch": "pytorch",
    "tensorflow": "tensorflow",
    "triton": "triton",
    "huggingface": "huggingface",
    "pmml": "pmml",
    "paddle": "paddle",
}
"""Predictor field -> the `modelFormat.name` KServe's defaulting webhook turns it into."""

# KServe defaults these shortcuts to protocol v2 "for backward compatibility", and any model of
# format triton (shortcut or not).
_V2_SHORTCUTS = frozenset({"triton", "onnx", "huggingface"})
_V2_FORMATS = frozenset({"triton"})


@dataclass(frozen=True)
class PredictorModel:
    """A predictor's model after KServe's defaulting: its format and protocol version."""

    format: str
    protocol_version: str | None


def shortcut_model(field: str, *, protocol_version: str | None = None) -> PredictorModel:
    """`predictor.{field}` (e.g. `sklearn:`) as the `predictor.model` KServe converts it to."""
    if field not in SHORTCUT_FORMATS:
        raise KeyError(field)
    if protocol_version is None and field in _V2_SHORTCUTS:
        protocol_version = "v2"
    return model_defaults(SHORTCUT_FORMATS[field], protocol_version=protocol_version)


def model_defaults(model_format: str, *, protocol_version: str | None = None) -> PredictorModel:
    """`predictor.model` after KServe's defaulting: format triton asks for v2 by default."""
    if protocol_version is None and model_format in _V2_FORMATS:
        protocol_version = "v2"
    return PredictorModel(model_format, protocol_version)
