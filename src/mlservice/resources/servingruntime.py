"""KServe's `ServingRuntime` (namespaced) and `ClusterServingRuntime` (cluster-scoped), both
serving.kserve.io/v1alpha1: the containers a predictor runs, and the formats they serve.

Fields are KServe's `ServingRuntimeSpec` (pkg/apis/serving/v1alpha1/servingruntime_types.go).
Unlike our MLServiceRuntime, a format is auto-selected only with `autoSelect: true`, as in
KServe. Container `args` keep Go templates (`--model_name={{.Name}}`) as written; the runtime
package renders them.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from mlservice.errors import FieldCause
from mlservice.resources import autoscaling
from mlservice.resources._base import Model, Passthrough, Port
from mlservice.resources.kserve_component import ProtocolVersion, duplicate_names
from mlservice.resources.limits import MAX_INT32, MAX_PRIORITY, MAX_REPLICAS
from mlservice.resources.meta import ClusterObjectMeta, Envelope
from mlservice.resources.pod import Container, EnvVar, Volume

PREDICTOR_CONTAINER = "kserve-container"


class KServeSupportedModelFormat(Model):
    name: str = Field(min_length=1)
    version: str | None = None
    # Unset means false: KServe picks a runtime automatically only when this says so.
    auto_select: bool | None = None
    priority: int | None = Field(default=None, ge=1, le=MAX_PRIORITY)

    @property
    def selectable(self) -> bool:
        return self.auto_select is True


class StorageHelper(Model):
    disabled: bool | None = None


class BuiltInAdapter(Model):
    """ModelMesh's adapter settings; kept, not used (mlservice serves one model per runtime)."""

    server_type: str | None = None
    runtime_management_port: Port | None = None
    mem_buffer_bytes: int | None = Field(default=None, ge=0)
    model_loading_timeout_millis: int | None = Field(default=None, ge=0, le=MAX_INT32)
    env: list[EnvVar] | None = None


class ServingRuntimeSpec(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {"affinity", "tolerations", "hostIPC", "resourceClaims", "schedulerName", "workerSpec"}
    )

    supported_model_formats: list[KServeSupportedModelFormat] | None = None
    multi_model: bool | None = None
    disabled: bool | None = None
    protocol_versions: list[ProtocolVersion] | None = None
    containers: list[Container] = Field(min_length=1)
    volumes: list[Volume] | None = None
    node_selector: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    image_pull_secrets: list[dict[str, str]] | None = None
    grpc_endpoint: str | None = None
    grpc_data_endpoint: str | None = None
    http_data_endpoint: str | None = None
    replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    storage_helper: StorageHelper | None = None
    built_in_adapter: BuiltInAdapter | None = None

    @property
    def is_disabled(self) -> bool:
        return self.disabled is True

    @property
    def is_multi_model(self) -> bool:
        return self.multi_model is True

    @property
    def server_container(self) -> Container:
        """The container that serves: `kserve-container`, else the first (KServe's rule)."""
        return next(
            (c for c in self.containers if c.name == PREDICTOR_CONTAINER), self.containers[0]
        )

    def supports_protocol(self, protocol: str | None) -> bool:
        """KServe's IsProtocolVersionSupported: no protocol asked, or none listed, matches."""
        return not protocol or not self.protocol_versions or protocol in self.protocol_versions

    def problems(self) -> list[FieldCause]:
        return [
            *duplicate_names(self.containers, path="spec.containers"),
            *autoscaling.check_annotations(self.annotations, path="spec.annotations"),
            *_priority_problems(self.supported_model_formats or []),
        ]


def _priority_problems(formats: list[KServeSupportedModelFormat]) -> list[FieldCause]:
    """KServe's webhook: one runtime may not give one auto-selected format two priorities."""
    seen: dict[str, int] = {}
    causes = []
    for i, fmt in enumerate(formats):
        if not fmt.selectable or fmt.priority is None:
            continue
        first = seen.setdefault(fmt.name, fmt.priority)
        if first != fmt.priority:
            causes.append(
                FieldCause(
                    f"spec.supportedModelFormats[{i}].priority",
                    f'format "{fmt.name}" already has priority {first} in this runtime',
                )
            )
    return causes


class ServingRuntime(Envelope):
    spec: ServingRuntimeSpec

    def problems(self) -> list[FieldCause]:
        return self.spec.problems()


class ClusterServingRuntime(Envelope):
    metadata: ClusterObjectMeta
    spec: ServingRuntimeSpec

    def problems(self) -> list[FieldCause]:
        return self.spec.problems()
