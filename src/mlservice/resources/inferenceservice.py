"""KServe's `InferenceService` (serving.kserve.io/v1beta1): a predictor, and optionally a
transformer and an explainer.

Fields are KServe's (pkg/apis/serving/v1beta1). So are two of its webhook's habits, because
clients depend on them: a framework shortcut (`sklearn: {storageUri}`) is stored as the
generic `model` with `modelFormat.name: sklearn`, and a shortcut wins over a `model` already
there, so a merge patch that sends `sklearn` (as `KServeClient.patch` does) replaces the model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, JsonValue

from mlservice.errors import FieldCause
from mlservice.naming import predictor_label, tag_label, transformer_label
from mlservice.resources import autoscaling
from mlservice.resources._base import DnsSubdomain, Model
from mlservice.resources.kserve_component import ComponentSpec, ProtocolVersion
from mlservice.resources.meta import Envelope
from mlservice.resources.mlservice import ModelFormat
from mlservice.resources.pod import ContainerFields
from mlservice.resources.uri import StorageUri

# KServe's order of precedence when it turns shortcuts into `model` (its defaulting switch).
FRAMEWORKS = (
    "sklearn",
    "tensorflow",
    "xgboost",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
)
# Shortcuts KServe defaults to the V2 protocol "for backward compatibility" (and a generic
# model of format triton).
V2_BY_DEFAULT = ("triton", "onnx", "huggingface")
PREDICTOR_CONTAINER = "kserve-container"
TAG_ROUTING = "serving.kserve.io/enable-tag-routing"
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _storage_path(value: str) -> str:
    if "\0" in value or ".." in value.split("/"):
        raise ValueError(f'"{value}" must not contain ".." or a NUL character')
    return value


class ModelStorageSpec(Model):
    """`storage`: a key of the `storage-config` Secret, and a path inside that storage."""

    key: str | None = Field(default=None, min_length=1)
    path: Annotated[str, AfterValidator(_storage_path)] | None = None
    parameters: dict[str, str] | None = None
    schema_path: str | None = None


class FrameworkSpec(ContainerFields):
    """A framework shortcut (`sklearn`, `onnx`, ...): KServe's PredictorExtensionSpec, which
    inlines a Container whose fields override the runtime's."""

    passthrough: ClassVar[frozenset[str]] = ContainerFields.passthrough | {"confidential"}

    storage_uri: StorageUri | None = None
    runtime_version: str | None = None
    protocol_version: ProtocolVersion | None = None
    storage: ModelStorageSpec | None = None


class KServeModelSpec(FrameworkSpec):
    """`model`: any format, served by the runtime named or selected for it."""

    model_format: ModelFormat
    runtime: DnsSubdomain | None = None


class PredictorSpec(ComponentSpec):
    passthrough: ClassVar[frozenset[str]] = ComponentSpec.passthrough | {"workerSpec"}

    sklearn: FrameworkSpec | None = None
    xgboost: FrameworkSpec | None = None
    tensorflow: FrameworkSpec | None = None
    pytorch: FrameworkSpec | None = None
    triton: FrameworkSpec | None = None
    onnx: FrameworkSpec | None = None
    huggingface: FrameworkSpec | None = None
    pmml: FrameworkSpec | None = None
    lightgbm: FrameworkSpec | None = None
    paddle: FrameworkSpec | None = None
    model: KServeModelSpec | None = None

    def frameworks(self) -> list[str]:
        """The shortcuts set, in KServe's order of precedence."""
        return [name for name in FRAMEWORKS if getattr(self, name) is not None]

    @property
    def is_custom(self) -> bool:
        """A custom predictor: containers only, or one named kserve-container beside a model."""
        return bool(self.containers) and (
            self.effective_model() is None
            or any(c.name == PREDICTOR_CONTAINER for c in self.containers or ())
        )

    def effective_model(self) -> KServeModelSpec | None:
        """The model as KServe stores it: the first shortcut as `model`, else `model`, with
        the protocol KServe defaults to."""
        shortcuts = self.frameworks()
        if shortcuts:
            name = shortcuts[0]
            spec: FrameworkSpec = getattr(self, name)
            fields = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
            model = KServeModelSpec.model_validate({**fields, "modelFormat": {"name": name}})
            v2_default = name in V2_BY_DEFAULT
        elif self.model is not None:
            model = self.model
            v2_default = model.model_format.name == "triton"
        else:
            return None
        if model.protocol_version is None and v2_default:
            model = model.model_copy(update={"protocol_version": "v2"})
        return model

    def defaulted(self) -> PredictorSpec:
        """This predictor with its shortcut stored as `model`, as KServe's webhook does."""
        shortcuts = self.frameworks()
        if not shortcuts and self.model is None:
            return self
        update: dict[str, Any] = {"model": self.effective_model()}
        if shortcuts:
            update[shortcuts[0]] = None
        return self.model_copy(update=update)

    def problems(self, *, path: str) -> list[FieldCause]:
        causes = self.extension_problems(path=path)
        causes += _implementation_problems(self, path=path)
        for name in [*self.frameworks(), *(["model"] if self.model else [])]:
            # KServe's SDK sends `name: ""`, and KServe itself names it kserve-container.
            if getattr(self, name).name not in (None, "", PREDICTOR_CONTAINER):
                causes.append(
                    FieldCause(
                        f"{path}.{name}.name",
                        "is not allowed in a standard predictor (the runtime names its container)",
                        "FieldValueForbidden",
                    )
                )
        return causes


def _implementation_problems(predictor: PredictorSpec, *, path: str) -> list[FieldCause]:
    """Exactly one implementation, counted as KServe counts after its defaulting: the first
    shortcut replaces `model`, further shortcuts count, and containers count when one is
    named kserve-container or nothing else is set."""
    shortcuts = predictor.frameworks()
    chosen = [*shortcuts[1:], *(["model"] if shortcuts or predictor.model else [])]
    containers = predictor.containers or []
    if any(c.name == PREDICTOR_CONTAINER for c in containers) or (containers and not chosen):
        chosen.append("containers")
    if len(chosen) == 1:
        return []
    options = ", ".join([*FRAMEWORKS, "model", "containers"])
    if not chosen:
        return [FieldCause(path, f"must set exactly one of {options}", "FieldValueRequired")]
    written = [
        *shortcuts,
        *(["model"] if predictor.model else []),
        *(["containers"] if "containers" in chosen else []),
    ]
    found = ", ".join(written)
    return [
        FieldCause(
            path,
            f"must set exactly one of {options}; found {found}",
            "FieldValueForbidden",
        )
    ]


class TransformerSpec(ComponentSpec):
    """A custom container that pre- and post-processes, then calls the predictor."""

    def problems(self, *, path: str) -> list[FieldCause]:
        causes = self.extension_problems(path=path)
        if not self.containers:
            causes.append(
                FieldCause(
                    f"{path}.containers", "must list at least one container", "FieldValueRequired"
                )
            )
        return causes


class InferenceServiceSpec(Model):
    predictor: PredictorSpec
    transformer: TransformerSpec | None = None
    # Accepted and kept; the controller reports that explainers do not run here.
    explainer: dict[str, JsonValue] | None = None
    # In KServe's generated CRD but not in its API types; refused with a pointer instead.
    canary: list[JsonValue] | None = None


class InferenceService(Envelope):
    spec: InferenceServiceSpec

    def to_wire(self) -> dict[str, Any]:
        """As stored: the predictor defaulted as KServe's webhook defaults it."""
        spec = self.spec.model_copy(update={"predictor": self.spec.predictor.defaulted()})
        return Envelope.to_wire(self.model_copy(update={"spec": spec}))

    @property
    def tag_routing(self) -> bool:
        return (self.metadata.annotations or {}).get(TAG_ROUTING) == "true"

    def problems(self) -> list[FieldCause]:
        spec = self.spec
        causes = self._name_problems()
        causes += autoscaling.check_annotations(
            self.metadata.annotations, path="metadata.annotations"
        )
        causes += spec.predictor.problems(path="spec.predictor")
        if spec.transformer is not None:
            causes += spec.transformer.problems(path="spec.transformer")
        if spec.canary is not None:
            causes.append(
                FieldCause(
                    "spec.canary",
                    "is not supported; roll out a new predictor with "
                    "spec.predictor.canaryTrafficPercent",
                    "FieldValueForbidden",
                )
            )
        return causes

    def _name_problems(self) -> list[FieldCause]:
        name = self.name
        if not _NAME.match(name):
            return [
                FieldCause(
                    "metadata.name",
                    f'"{name}" must be lower-case letters, digits and "-", start with a letter '
                    "and end with a letter or digit (KServe's InferenceService name rule)",
                )
            ]
        # The longest host label the name ends up in, e.g. `latest-{name}-predictor`.
        labels = [predictor_label(name)]
        if self.spec.transformer is not None:
            labels.append(transformer_label(name))
        if self.tag_routing:
            labels.append(tag_label(name, "latest"))
        longest = max(labels, key=len)
        if len(longest) <= 63:
            return []
        return [
            FieldCause(
                "metadata.name",
                f'host label "{longest}" is {len(longest)} characters; at most 63 are allowed',
                "FieldValueTooLong",
            )
        ]
