"""What a rendered replica is: plain frozen dataclasses an engine can run without pydantic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlservice.runtime.expand import expand

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = ""  # for a `valueFrom` var: None until the engine resolves it
    # `valueFrom` as written (secretKeyRef, fieldRef, ...); the engine resolves it.
    value_from: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Port:
    container_port: int
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class Probe:
    """A readiness probe; unset timings are None so the engine applies its own defaults."""

    http_path: str | None = None  # set for an httpGet probe
    port: int | None = None  # None: the container's serving port
    tcp: bool = False  # a tcpSocket probe
    initial_delay_seconds: int | None = None
    period_seconds: int | None = None
    timeout_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None


@dataclass(frozen=True)
class Resources:
    requests: Mapping[str, str] = field(default_factory=dict)
    limits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeMount:
    name: str
    mount_path: str
    sub_path: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class RenderedContainer:
    name: str
    image: str | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    ports: tuple[Port, ...] = ()
    readiness_probe: Probe | None = None
    resources: Resources = field(default_factory=Resources)
    working_dir: str | None = None
    volume_mounts: tuple[VolumeMount, ...] = ()

    def environment(
        self, base: Mapping[str, str], *, rewrite: Callable[[str], str] | None = None
    ) -> dict[str, str]:
        """The process env as the kubelet builds it: `base` (the engine's PORT, MODEL_DIR, ...),
        then this container's env in order, each value `$(VAR)`-expanded over what precedes it
        and passed through `rewrite` (the engine's mount paths). Names in `base` win: they say
        where to listen. A `valueFrom` var carries its resolved value (the engine fills it in)
        and is data: never expanded; one still unresolved is left out."""
        env = dict(base)
        for var in self.env:
            if var.name in base:
                continue
            if var.value_from is not None:
                if var.value is not None:
                    env[var.name] = var.value
                continue
            value = expand(var.value or "", env)
            env[var.name] = rewrite(value) if rewrite else value
        return env

    def argv(
        self, environment: Mapping[str, str], *, rewrite: Callable[[str], str] | None = None
    ) -> list[str]:
        """`command + args` with `$(VAR)` expanded over `environment`; one item stays one item."""
        items = [expand(item, environment) for item in (*self.command, *self.args)]
        return [rewrite(item) for item in items] if rewrite else items


@dataclass(frozen=True)
class RenderedReplica:
    """One component's pod after rendering: the serving container and what runs beside it."""

    component: str  # "predict" or "transform"
    container: RenderedContainer
    sidecars: tuple[RenderedContainer, ...] = ()
    port: int = DEFAULT_PORT  # where the serving container listens
    port_declared: bool = False  # False when 8080 is only the default
    volumes: tuple[Mapping[str, Any], ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    pod_spec: Mapping[str, Any] = field(default_factory=dict)  # the merged PodSpec as JSON

    @property
    def digest(self) -> str:
        """A hash of everything rendered: equal digests mean the same revision."""
        doc = {"spec": self.pod_spec, "annotations": self.annotations, "labels": self.labels}
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
