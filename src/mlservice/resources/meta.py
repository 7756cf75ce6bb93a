"""Object metadata, and the envelope (`apiVersion`, `kind`, `metadata`, `status`) of every kind."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from mlservice.errors import FieldCause
from mlservice.resources._base import DnsLabel, DnsSubdomain, Model, Passthrough, is_dns_label

DEFAULT_NAMESPACE = "default"


class ObjectMeta(Passthrough):
    """`metadata`. The server-managed fields are accepted as sent and passed through."""

    passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "generateName",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "ownerReferences",
            "finalizers",
            "managedFields",
        }
    )

    name: DnsSubdomain
    namespace: DnsLabel = DEFAULT_NAMESPACE
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None


def _no_namespace(value: str) -> str:
    if value:
        raise ValueError(f'"{value}" is set, but the kind is cluster-scoped: it has no namespace')
    return value


class ClusterObjectMeta(ObjectMeta):
    """`metadata` of a cluster-scoped kind: no namespace (the API drops one sent, as
    Kubernetes does; a typed model read elsewhere must not carry one)."""

    namespace: Annotated[str, AfterValidator(_no_namespace)] = ""


class TemplateMeta(Model):
    """`template.metadata` of a pod template: what a user may set on the pods it makes."""

    name: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class Envelope(Model):
    """What every manifest has besides its `spec`; subclasses add the kind-specific parts."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    # The API writes status through its own path; here it is kept exactly as received.
    status: dict[str, Any] | None = Field(default=None)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def ref(self) -> str:
        """`namespace/name` (`name` when cluster-scoped), the way error messages name an object."""
        if not self.metadata.namespace:
            return self.metadata.name
        return f"{self.metadata.namespace}/{self.metadata.name}"

    def problems(self) -> list[FieldCause]:
        """Rules across fields that field types cannot state; each cause names its field path."""
        return []

    def host_name_problems(self) -> list[FieldCause]:
        """Kinds whose name becomes a host label (`{name}.{ns}.{domain}`) need a DNS-1123 label."""
        if is_dns_label(self.name):
            return []
        return [
            FieldCause(
                "metadata.name",
                f'"{self.name}" is not a DNS-1123 label; it is used in the service\'s host name',
            )
        ]

    def to_wire(self) -> dict[str, Any]:
        """The manifest as stored and served: camelCase keys, defaults filled in."""
        wire = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        if not self.metadata.namespace:  # cluster-scoped: Kubernetes omits the empty namespace
            wire["metadata"].pop("namespace", None)
        return wire
