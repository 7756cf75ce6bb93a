"""`SimpleMLService`: a fixed number of replicas of one framework's server, for quick tests."""

from __future__ import annotations

from pydantic import Field

from mlservice.errors import FieldCause
from mlservice.naming import LABEL_PREFIX
from mlservice.resources._base import AbsolutePath, DnsSubdomain, Model, Port, RelativePath
from mlservice.resources.limits import MAX_REPLICAS
from mlservice.resources.meta import Envelope
from mlservice.resources.mlservice import Scheduler
from mlservice.resources.pod import PodSpec, ResourceRequirements
from mlservice.resources.uri import S3Uri

MODEL_PATH = "/var/lib/t9k/model"
FRAMEWORKS = ("tensorflow", "pytorch", "custom")
TORCHSERVE_ANNOTATION = LABEL_PREFIX + "torchserve"
"""`java` on a SimpleMLService runs `pytorch` on the real TorchServe; else it is served natively."""


class S3Source(Model):
    secret_name: DnsSubdomain
    uri: S3Uri
    container_path: AbsolutePath = MODEL_PATH


class PVCSource(Model):
    name: DnsSubdomain
    sub_path: RelativePath | None = None
    container_path: AbsolutePath = MODEL_PATH


class SimpleStorage(Model):
    s3: S3Source | None = None
    pvc: PVCSource | None = None


class TensorFlow(Model):
    image: str | None = None
    resources: ResourceRequirements | None = None


class PyTorch(Model):
    image: str | None = None
    # TorchServe's `--models`, e.g. "resnet-18=resnet-18.mar": which archive of the store.
    models_flag: str | None = None
    resources: ResourceRequirements | None = None


class Custom(Model):
    spec: PodSpec


class ServicePort(Model):
    name: str | None = None
    port: Port


def _default_ports() -> list[ServicePort]:
    return [ServicePort.model_validate({"name": "http", "port": 8080})]


class ServiceSpec(Model):
    ports: list[ServicePort] = Field(default_factory=_default_ports, min_length=1)


class SimpleMLServiceSpec(Model):
    replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    storage: SimpleStorage | None = None
    tensorflow: TensorFlow | None = None
    pytorch: PyTorch | None = None
    custom: Custom | None = None
    service: ServiceSpec = Field(default_factory=ServiceSpec)
    scheduler: Scheduler | None = None

    @property
    def framework(self) -> str:
        """Which of tensorflow, pytorch, custom is set (validation ensures exactly one)."""
        return next(name for name in FRAMEWORKS if getattr(self, name) is not None)


class SimpleMLService(Envelope):
    spec: SimpleMLServiceSpec

    def problems(self) -> list[FieldCause]:
        spec = self.spec
        return [
            *self.host_name_problems(),
            *_framework_problems(spec),
            *_storage_problems(spec.storage),
            *_port_problems(spec.service),
        ]


def _framework_problems(spec: SimpleMLServiceSpec) -> list[FieldCause]:
    chosen = [name for name in FRAMEWORKS if getattr(spec, name) is not None]
    if not chosen:
        return [
            FieldCause(
                "spec", "must set exactly one of tensorflow, pytorch, custom", "FieldValueRequired"
            )
        ]
    causes = [
        FieldCause(
            f"spec.{extra}",
            f"only one framework may be set and {chosen[0]} already is",
            "FieldValueForbidden",
        )
        for extra in chosen[1:]
    ]
    if spec.custom is not None and not spec.custom.spec.containers:
        causes.append(
            FieldCause(
                "spec.custom.spec.containers",
                "must list at least one container",
                "FieldValueRequired",
            )
        )
    return causes


def _storage_problems(storage: SimpleStorage | None) -> list[FieldCause]:
    if storage is not None and storage.s3 is not None and storage.pvc is not None:
        return [
            FieldCause(
                "spec.storage.pvc",
                "only one of s3 and pvc may be set and s3 already is",
                "FieldValueForbidden",
            )
        ]
    return []


def _port_problems(service: ServiceSpec) -> list[FieldCause]:
    causes = []
    seen: set[int | str] = set()
    for i, port in enumerate(service.ports):
        keys: set[int | str] = {port.port, *([port.name] if port.name else [])}
        if keys & seen:
            causes.append(
                FieldCause(
                    f"spec.service.ports[{i}]",
                    f"port {port.port} ({port.name}) repeats an earlier port's number or name",
                    "FieldValueDuplicate",
                )
            )
        seen |= keys
    return causes
