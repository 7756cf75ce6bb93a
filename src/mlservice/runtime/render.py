"""Rendering a replica: runtime template -> Go templates -> release patch -> resources override.

Order matters and follows the reference: the runtime's `args`, `command` and env values are Go
templates over `model.parameters` (plus `.Name`, `.Namespace`, `.Release`); the release's
`template.spec` is then merged onto the result by strategic merge patch (its values are literal,
never templates); the predictor's `resources` finally overrides `user-container`'s, key by key.
`$(VAR)` expansion happens last, when the engine knows the ports (`RenderedContainer.argv`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from mlservice.errors import InvalidInput, TemplateError
from mlservice.resources.mlservice import MLService, Release
from mlservice.resources.mlserviceruntime import MLServiceRuntime
from mlservice.resources.pod import (
    USER_CONTAINER,
    Container,
    PodSpec,
    PodTemplate,
    ResourceRequirements,
)
from mlservice.resources.pod import Probe as ProbeModel
from mlservice.runtime.merge import ANY, strategic_merge
from mlservice.runtime.replica import (
    DEFAULT_PORT,
    EnvVar,
    Port,
    Probe,
    RenderedContainer,
    RenderedReplica,
    Resources,
    VolumeMount,
)
from mlservice.runtime.template import render


def render_replica(
    *, service: MLService, release: Release, runtime: MLServiceRuntime
) -> RenderedReplica:
    """The predictor pod of `release` of `service`, run by `runtime`."""
    predictor = release.predictor
    data = {
        **(predictor.model.parameters or {}),
        "Name": service.name,
        "Namespace": service.namespace,
        "Release": release.name,
    }
    base = _dump(runtime.spec.template)
    spec = _render_templates(base.get("spec", {}), data, where=f"MLServiceRuntime {runtime.ref}")
    patch = _dump(predictor.template) if predictor.template else {}
    spec = strategic_merge(spec, patch.get("spec", {}))
    metadata = strategic_merge(base.get("metadata", {}), patch.get("metadata", {}), ANY)
    return _replica("predict", spec, metadata, predictor.resources)


def render_transformer(service: MLService) -> RenderedReplica:
    """The transformer pod of `service`; it has no runtime, so its template is used as written."""
    transformer = service.spec.transformer
    if transformer is None:
        raise InvalidInput(f"MLService {service.ref} has no transformer.")
    template = _dump(transformer.template)
    return _replica(
        "transform", template.get("spec", {}), template.get("metadata", {}), transformer.resources
    )


def render_pod(
    pod: PodSpec, *, component: str, resources: ResourceRequirements | None = None
) -> RenderedReplica:
    """A pod given in full (a SimpleMLService's): no runtime, no templates, `resources`
    overriding the serving container's."""
    spec = pod.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _replica(component, spec, {}, resources)


def _dump(template: PodTemplate) -> dict[str, Any]:
    return template.model_dump(mode="json", by_alias=True, exclude_none=True)


def _render_templates(
    spec: dict[str, Any], data: Mapping[str, Any], *, where: str
) -> dict[str, Any]:
    containers = []
    for i, container in enumerate(spec.get("containers", [])):
        path = f"spec.template.spec.containers[{i}]"
        out = dict(container)
        for key in ("command", "args"):
            if key in out:
                out[key] = [
                    _render(v, data, where=f"{where}: {path}.{key}[{j}]")
                    for j, v in enumerate(out[key])
                ]
        if "env" in out:
            out["env"] = [
                {**e, "value": _render(e["value"], data, where=f"{where}: {path}.env[{j}].value")}
                if "value" in e
                else e
                for j, e in enumerate(out["env"])
            ]
        containers.append(out)
    return {**spec, "containers": containers} if "containers" in spec else spec


def _render(source: str, data: Mapping[str, Any], *, where: str) -> str:
    try:
        return render(source, data)
    except TemplateError as err:
        raise TemplateError(f"{where}: {err.message}") from None


def _replica(
    component: str,
    spec: dict[str, Any],
    metadata: Mapping[str, Any],
    resources: ResourceRequirements | None,
) -> RenderedReplica:
    typed = _typed(_override_resources(spec, resources))
    _, declared = _serving(typed)
    merged = typed.model_dump(mode="json", by_alias=True, exclude_none=True)
    server, *sidecars = _containers(typed)
    return RenderedReplica(
        component=component,
        container=server,
        sidecars=tuple(sidecars),
        port=declared or DEFAULT_PORT,
        port_declared=declared is not None,
        volumes=tuple(merged.get("volumes", [])),
        annotations=dict(metadata.get("annotations", {})),
        labels=dict(metadata.get("labels", {})),
        pod_spec=merged,
    )


def pod_containers(pod_spec: Mapping[str, Any]) -> tuple[RenderedContainer, ...]:
    """The containers of a merged PodSpec (Kubernetes JSON), the serving one first: what an
    engine runs. References (`secretKeyRef`, claims, `$(VAR)`) stay as written."""
    return _containers(_typed(dict(pod_spec)))


def _serving(typed: PodSpec) -> tuple[Container, int | None]:
    """The serving container (`user-container`, else the first) and the port it declares."""
    containers = typed.containers or []
    main = next((c for c in containers if c.name == USER_CONTAINER), containers[0])
    return main, main.ports[0].container_port if main.ports else None


def _containers(typed: PodSpec) -> tuple[RenderedContainer, ...]:
    main, declared = _serving(typed)
    port = declared or DEFAULT_PORT
    rest = [c for c in typed.containers or [] if c is not main]
    return tuple(_container(c, port) for c in (main, *rest))


def _override_resources(
    spec: dict[str, Any], resources: ResourceRequirements | None
) -> dict[str, Any]:
    if resources is None:
        return spec
    override = resources.model_dump(mode="json", by_alias=True, exclude_none=True)
    names = [c.get("name") for c in spec.get("containers", [])]
    target = USER_CONTAINER if USER_CONTAINER in names else names[0] if names else None
    patch = {"containers": [{"name": target, "resources": override}]} if target else {}
    return strategic_merge(spec, patch)


def _typed(spec: dict[str, Any]) -> PodSpec:
    try:
        typed = PodSpec.model_validate(spec)
    except ValidationError as err:
        raise InvalidInput(f"The merged pod spec is invalid: {err.errors()[0]['msg']}.") from None
    if not typed.containers:
        raise InvalidInput("The merged pod spec has no containers.")
    return typed


def _container(container: Container, serving_port: int) -> RenderedContainer:
    resources = container.resources
    return RenderedContainer(
        name=container.name,
        image=container.image,
        command=tuple(container.command or ()),
        args=tuple(container.args or ()),
        env=tuple(
            EnvVar(
                name=e.name,
                value=None if e.value_from else e.value or "",
                value_from=e.value_from.model_dump(by_alias=True, exclude_none=True)
                if e.value_from
                else None,
            )
            for e in container.env or ()
        ),
        ports=tuple(
            Port(p.container_port, p.name, p.protocol or "TCP") for p in container.ports or ()
        ),
        readiness_probe=_probe(container, container.readiness_probe, serving_port),
        resources=Resources(
            requests=dict(resources.requests or {}) if resources else {},
            limits=dict(resources.limits or {}) if resources else {},
        ),
        working_dir=container.working_dir,
        volume_mounts=tuple(
            VolumeMount(m.name, m.mount_path, m.sub_path, bool(m.read_only))
            for m in container.volume_mounts or ()
        ),
    )


def _probe(container: Container, probe: ProbeModel | None, serving_port: int) -> Probe | None:
    if probe is None or (probe.http_get is None and probe.tcp_socket is None):
        return None
    action = probe.http_get or probe.tcp_socket
    assert action is not None
    return Probe(
        http_path=(probe.http_get.path or "/") if probe.http_get else None,
        port=_port_number(container, action.port, serving_port),
        tcp=probe.http_get is None,
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        success_threshold=probe.success_threshold,
        failure_threshold=probe.failure_threshold,
    )


def _port_number(container: Container, port: int | str, serving_port: int) -> int | None:
    """A probe port as a number; None when it is the serving port, which the engine remaps."""
    if isinstance(port, str):
        named = next((p for p in container.ports or () if p.name == port), None)
        if named is None:
            raise InvalidInput(
                f'Readiness probe port "{port}" names no port of container "{container.name}".'
            )
        port = named.container_port
    return None if port == serving_port else port
