"""A revision as the controllers hand it to an engine: engine-neutral, nothing resolved.

The PodSpec is Kubernetes JSON exactly as rendered: `secretKeyRef`s name their Secret, volumes
name their PersistentVolumeClaim, args keep `$(PORT)`. The model is a URI plus references to its
credentials: our `.s3cfg` Secret, or KServe's ServiceAccount and `storage-config` entry. The
local engine resolves all of it on this machine (download, secret values, folders, ports); the
Kubernetes renderer writes the same value out as objects (an init container for the model,
`secretKeyRef` kept, claims mounted). Nothing here knows a
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


STORAGE_CONFIG_SECRET = "storage-config"
"""KServe's Secret of `storage.key` entries (its `DefaultStorageSpecSecret`)."""


@dataclass(frozen=True)
class StorageKey:
    """KServe's `storage{key, path, parameters}`: an entry of the namespace's `storage-config`
    Secret (a JSON document with the type, bucket, endpoint and keys) and a path in it."""

    key: str | None = None
    """None: the entry `default_{type}` (type from `parameters`), else `default`, if present."""
    path: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    """Values overriding the entry's fields (`bucket`, `type`, `region`, ...)."""
    secret: str = STORAGE_CONFIG_SECRET


@dataclass(frozen=True)
class ModelSource:
    """Where a revision's model comes from, where its containers expect to find it, and which
    objects hold its credentials (names only: an engine resolves them)."""

    uri: str
    """The model's URI; "" when `storage` names it (`s3://{bucket}/{path}` once resolved)."""
    secret: str | None = None
    """Name of the Secret (same namespace) holding `.s3cfg`, for `s3://` URIs."""

    mount_path: str = DEFAULT_MOUNT_PATH
    service_account: str | None = None
    """KServe: the ServiceAccount whose `secrets` are scanned for S3 credentials, as KServe's
    credential builder does. "default" may be absent (no credentials then); another may not."""
    storage: StorageKey | None = None
    """KServe: a `storage-config` entry with the credentials, and the bucket when `uri` is ""."""


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


_HASHED_ALWAYS = frozenset({"uri", "secret", "mount_path"})


def spec_hash(*parts: object) -> str:
    """A short stable hash of everything that makes a revision (JSON-able parts)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _plain(value: object) -> object:
    if isinstance(value, ModelSource):
        # Unset KServe references stay out, so revisions hashed before they existed keep
        # their hash (and are not rolled anew on upgrade).
        fields = vars(value)
        return {k: v for k, v in fields.items() if v is not None or k in _HASHED_ALWAYS}
    if isinstance(value, ComponentKey | StorageKey):
        return vars(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | frozenset | set):
        return sorted(value) if not isinstance(value, tuple) else list(value)
    raise TypeError(f"cannot hash {type(value).__name__}")
