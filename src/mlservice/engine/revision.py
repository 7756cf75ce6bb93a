"""A revision as the controllers hand it to an engine: engine-neutral, nothing resolved.

The PodSpec is Kubernetes JSON exactly as rendered: `secretKeyRef`s name their Secret, volumes
name their PersistentVolumeClaim, args keep `$(PORT)`. The model is a URI plus the name of the
Secret with its credentials. The local engine resolves all of it on this machine (download,
secret values, folders, ports); the Kubernetes renderer writes the same value out as objects
(an init container for the model, `secretKeyRef` kept, claims mounted). Nothing here knows a
machine: no paths, no ports, no host addresses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NewType

from mlservice.naming import ComponentKey
from mlservice.runtime import RenderedContainer, pod_containers

RevisionId = NewType("RevisionId", str)  # "{namespace}/{revision name}"

DEFAULT_MOUNT_PATH = "/var/lib/t9k/model"
"""Where the reference's runtimes expect the model (KServe's is /mnt/models)."""


@dataclass(frozen=True)
class ModelSource:
    """Where a revision's model comes from, and where its containers expect to find it."""

    uri: str
    secret: str | None = None
    """Name of the Secret (same namespace) holding `.s3cfg`, for `s3://` URIs."""

    mount_path: str = DEFAULT_MOUNT_PATH


@dataclass(frozen=True)
class Revision:
    """An immutable revision: a new spec means a new revision name (and hash)."""

    namespace: str
    name: str  # e.g. "iris-predict-v1-00001"
    kind: str  # the owning object's kind: "MLService", "SimpleMLService", ...
    service: str  # the owning object's name
    key: ComponentKey
    pod_spec: Mapping[str, Any]  # the merged PodSpec, Kubernetes JSON, references unresolved
    hash: str = ""
    model: ModelSource | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    predictor_host: str | None = None
    """For a transformer: the host of the predictors it forwards to (`PREDICTOR_HOST_HEADER`)."""
    requires: tuple[str, ...] = ()
    """Programs the pod needs besides its command. Images carry them on a cluster; the local
    engine checks PATH instead of starting replicas that could never run."""

    @property
    def id(self) -> RevisionId:
        return RevisionId(f"{self.namespace}/{self.name}")

    @property
    def component(self) -> str:
        return self.key.component

    @property
    def release(self) -> str:
        """The release, "" for a transformer or a SimpleMLService (`MLS_RELEASE`, snapshot)."""
        return self.key.release or ""

    @cached_property
    def containers(self) -> tuple[RenderedContainer, ...]:
        """The pod's containers, the serving one (`user-container`, else the first) first."""
        return pod_containers(self.pod_spec)

    @property
    def user_container(self) -> RenderedContainer:
        return self.containers[0]


def spec_hash(*parts: object) -> str:
    """A short stable hash of everything that makes a revision (JSON-able parts)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _plain(value: object) -> object:
    if isinstance(value, ModelSource | ComponentKey):
        return vars(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | frozenset | set):
        return sorted(value) if not isinstance(value, tuple) else list(value)
    raise TypeError(f"cannot hash {type(value).__name__}")
