"""What KServe's predictor, transformer and explainer share: a PodSpec inlined with the
component extension fields (`minReplicas`, `scaleMetric`, `logger`, `batcher`, ...).

Field names and types follow KServe's `ComponentExtensionSpec` (pkg/apis/serving/v1beta1/
component.go); the cross-field rules are its webhook's, with the autoscaler fixed to Knative's
KPA, the only one mlservice runs.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field

from mlservice.errors import FieldCause
from mlservice.resources import autoscaling
from mlservice.resources._base import Model, Passthrough
from mlservice.resources.limits import (
    MAX_BATCH_LATENCY_MS,
    MAX_BATCH_SIZE,
    MAX_CONTAINER_CONCURRENCY,
    MAX_INT32,
    MAX_REPLICAS,
    MAX_TIMEOUT_SECONDS,
)
from mlservice.resources.pod import Container, PodSpec
from mlservice.resources.uri import HttpUrl

ProtocolVersion = Literal["v1", "v2", "grpc-v1", "grpc-v2"]
ScaleMetric = Literal["cpu", "memory", "concurrency", "rps"]
KPA_METRICS = ("concurrency", "rps")
DEFAULT_MIN_REPLICAS = 1
"""KServe's `constants.DefaultMinReplicas`: an absent minReplicas keeps one replica up."""


class LoggerSpec(Passthrough):
    # Read by KServe's agent for its own sinks and headers; kept so copied manifests apply.
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "metadataHeaders",
            "metadataAnnotations",
            "storage",
            "batchInterval",
            "batchSize",
            "marshallerUrl",
        }
    )

    url: HttpUrl | None = None
    # KServe's webhook refuses a logger without a mode; "all" is what its docs mean by default.
    mode: Literal["all", "request", "response"] = "all"


class Batcher(Model):
    max_batch_size: int | None = Field(default=None, ge=1, le=MAX_BATCH_SIZE)
    max_latency: int | None = Field(default=None, ge=1, le=MAX_BATCH_LATENCY_MS)  # ms
    timeout: int | None = Field(default=None, ge=1, le=MAX_BATCH_LATENCY_MS)  # ms


class ComponentSpec(PodSpec):
    """A component: the PodSpec fields (containers, volumes, ... inlined) and the extension."""

    passthrough: ClassVar[frozenset[str]] = PodSpec.passthrough | {
        # Raw-deployment and HPA/KEDA settings: meaningful on a cluster, kept for the renderer.
        "deploymentStrategy",
        "autoScaling",
        "scaleMetricType",
        "storageUris",
        "hostnameOverride",
    }

    min_replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    # Absent or 0 means no upper bound.
    max_replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    scale_target: int | None = Field(default=None, ge=1, le=MAX_INT32)
    scale_metric: ScaleMetric | None = None
    container_concurrency: int | None = Field(default=None, ge=0, le=MAX_CONTAINER_CONCURRENCY)
    timeout: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_SECONDS)  # seconds
    canary_traffic_percent: int | None = Field(default=None, ge=0, le=100)
    logger: LoggerSpec | None = None
    batcher: Batcher | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    # Typed (not passthrough): the S3 credentials KServe attaches come through it.
    service_account_name: str | None = Field(default=None, min_length=1)

    @property
    def replica_bounds(self) -> tuple[int, int | None]:
        """(min, max) replicas with KServe's defaults: min 1, no max when absent or 0."""
        low = DEFAULT_MIN_REPLICAS if self.min_replicas is None else self.min_replicas
        return low, self.max_replicas or None

    def extension_problems(self, *, path: str) -> list[FieldCause]:
        """KServe's component rules: replica bounds, KPA metrics, annotations, container names."""
        causes = []
        low, high = self.replica_bounds
        if high is not None and high < low:
            causes.append(FieldCause(f"{path}.maxReplicas", f"{high} is below minReplicas {low}"))
        if self.scale_metric is not None and self.scale_metric not in KPA_METRICS:
            causes.append(
                FieldCause(
                    f"{path}.scaleMetric",
                    f'"{self.scale_metric}" needs an HPA autoscaler, which mlservice does not '
                    f"run; use {' or '.join(KPA_METRICS)}",
                    "FieldValueNotSupported",
                )
            )
        causes += autoscaling.check_annotations(self.annotations, path=f"{path}.annotations")
        causes += duplicate_names(self.containers, path=f"{path}.containers")
        return causes


def duplicate_names(containers: list[Container] | None, *, path: str) -> list[FieldCause]:
    names = [c.name for c in containers or ()]
    counts = Counter(names)
    return [
        FieldCause(
            f"{path}[{i}].name",
            f'container name "{name}" is used more than once',
            "FieldValueDuplicate",
        )
        for i, name in enumerate(names)
        if counts[name] > 1 and names.index(name) != i
    ]
