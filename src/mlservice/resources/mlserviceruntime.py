"""`MLServiceRuntime`: the pod template a predictor runs, and the model formats it serves."""

from __future__ import annotations

from pydantic import Field

from mlservice.errors import FieldCause
from mlservice.resources import autoscaling
from mlservice.resources._base import Model
from mlservice.resources.limits import MAX_PRIORITY
from mlservice.resources.meta import Envelope
from mlservice.resources.pod import USER_CONTAINER, Container, PodTemplate

DEFAULT_PORT = 8080


class SupportedModelFormat(Model):
    name: str = Field(min_length=1)
    version: str | None = None
    # Unset means the runtime may be chosen for this format automatically.
    auto_select: bool = True
    priority: int | None = Field(default=None, ge=1, le=MAX_PRIORITY)


class RuntimeSpec(Model):
    enabled: bool = True
    supported_model_formats: list[SupportedModelFormat] | None = None
    template: PodTemplate


class MLServiceRuntime(Envelope):
    spec: RuntimeSpec

    @property
    def user_container(self) -> Container:
        spec = self.spec.template.spec
        container = spec.container(USER_CONTAINER) if spec else None
        if container is None:  # problems() rejects such a runtime before it is stored
            raise LookupError(f"MLServiceRuntime {self.ref} has no {USER_CONTAINER}")
        return container

    @property
    def container_port(self) -> int:
        """The serving port: the one `containerPort` of `user-container`, else 8080."""
        ports = self.user_container.ports
        return ports[0].container_port if ports else DEFAULT_PORT

    def problems(self) -> list[FieldCause]:
        spec = self.spec.template.spec
        path = "spec.template.spec.containers"
        containers = (spec.containers if spec else None) or []
        if not any(c.name == USER_CONTAINER for c in containers):
            return [
                FieldCause(
                    path, f'must contain a container named "{USER_CONTAINER}"', "FieldValueRequired"
                )
            ]
        annotations = (
            self.spec.template.metadata.annotations if self.spec.template.metadata else None
        )
        return [
            *autoscaling.check_annotations(annotations, path="spec.template.metadata.annotations"),
            *(cause for i, c in enumerate(containers) for cause in _port_problems(c, i, path)),
        ]


def _port_problems(container: Container, index: int, path: str) -> list[FieldCause]:
    ports = container.ports or []
    if container.name == USER_CONTAINER and len(ports) > 1:
        return [
            FieldCause(
                f"{path}[{index}].ports",
                f"{USER_CONTAINER} declares {len(ports)} ports; at most one is allowed",
                "FieldValueForbidden",
            )
        ]
    if container.name != USER_CONTAINER and ports:
        return [
            FieldCause(
                f"{path}[{index}].ports",
                f'container "{container.name}" may not declare ports; only {USER_CONTAINER} serves',
                "FieldValueForbidden",
            )
        ]
    return []
