"""What a rendered replica is: plain frozen dataclasses an engine can run without pydantic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlservice.runtime.expand import expand, expand_env

DEFAULT_PORT = 8080


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str = ""
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


# Resolves a `valueFrom` (e.g. a secretKeyRef) to a value, or None to leave the var out.
ValueFrom = Callable[[Mapping[str, Any]], str | None]


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
        self, base: Mapping[str, str], *, value_from: ValueFrom | None = None
    ) -> dict[str, str]:
        """The process env: `base` (the engine's PORT, MODEL_DIR, ...) plus this container's
        env with `$(VAR)` expanded as the kubelet does."""
        pairs: list[tuple[str, str]] = []
        for var in self.env:
            value = var.value
            if var.value_from is not None:
                resolved = value_from(var.value_from) if value_from else None
                if resolved is None:
                    continue
                value = resolved
            pairs.append((var.name, value))
        return expand_env(pairs, base)

    def argv(self, environment: Mapping[str, str]) -> list[str]:
        """`command + args` with `$(VAR)` expanded over `environment`; one item stays one item."""
        return [expand(item, environment) for item in (*self.command, *self.args)]


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
