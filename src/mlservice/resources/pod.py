"""The parts of a Kubernetes PodSpec mlservice reads, typed; the rest listed and kept as written."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from mlservice.resources._base import (
    AbsolutePath,
    DnsLabel,
    DnsSubdomain,
    IntOrString,
    Model,
    Passthrough,
    Port,
    Quantity,
    RelativePath,
)
from mlservice.resources.limits import MAX_PROBE_SECONDS, MAX_PROBE_THRESHOLD
from mlservice.resources.meta import TemplateMeta

# `$patch: delete` may appear in any list item merged by key when a PodSpec is a patch.
_PATCH = "$patch"
USER_CONTAINER = "user-container"


class KeyRef(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({"optional"})

    name: str
    key: str


class EnvVarSource(Model):
    field_ref: dict[str, Any] | None = None
    resource_field_ref: dict[str, Any] | None = None
    config_map_key_ref: KeyRef | None = None
    secret_key_ref: KeyRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> EnvVarSource:
        chosen = [name for name, value in self if value is not None]
        if len(chosen) != 1:
            raise ValueError(
                "must set exactly one of fieldRef, resourceFieldRef, configMapKeyRef, "
                f"secretKeyRef (found {len(chosen)})"
            )
        return self


class EnvVar(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({_PATCH})

    name: str = Field(min_length=1)
    value: str | None = None
    value_from: EnvVarSource | None = None


class ContainerPort(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({"hostPort", "hostIP", _PATCH})

    container_port: Port
    name: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] | None = None


class ResourceRequirements(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({"claims"})

    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class VolumeMount(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {"mountPropagation", "subPathExpr", "recursiveReadOnly", _PATCH}
    )

    name: str
    mount_path: AbsolutePath
    sub_path: RelativePath | None = None
    read_only: bool | None = None


class HTTPGetAction(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({"host", "scheme", "httpHeaders"})

    path: str | None = None
    port: IntOrString


class TCPSocketAction(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset({"host"})

    port: IntOrString


class Probe(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {"exec", "grpc", "terminationGracePeriodSeconds"}
    )

    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    initial_delay_seconds: int | None = Field(default=None, ge=0, le=MAX_PROBE_SECONDS)
    period_seconds: int | None = Field(default=None, ge=1, le=MAX_PROBE_SECONDS)
    timeout_seconds: int | None = Field(default=None, ge=1, le=MAX_PROBE_SECONDS)
    success_threshold: int | None = Field(default=None, ge=1, le=MAX_PROBE_THRESHOLD)
    failure_threshold: int | None = Field(default=None, ge=1, le=MAX_PROBE_THRESHOLD)


class ContainerFields(Passthrough):
    """A Kubernetes Container whose name may be absent: KServe inlines one (unnamed) into
    each framework's predictor spec."""

    passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "imagePullPolicy",
            "securityContext",
            "lifecycle",
            "envFrom",
            "stdin",
            "stdinOnce",
            "tty",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "volumeDevices",
            "resizePolicy",
            "restartPolicy",
            "restartPolicyRules",
            _PATCH,
        }
    )

    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    env: list[EnvVar] | None = None
    ports: list[ContainerPort] | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[VolumeMount] | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None


class Container(ContainerFields):
    name: DnsLabel


class PersistentVolumeClaimSource(Model):
    # A claim names a local volume folder: a DNS subdomain has no "/" and no "..".
    claim_name: DnsSubdomain
    read_only: bool | None = None


class Volume(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "emptyDir",
            "hostPath",
            "configMap",
            "secret",
            "projected",
            "downwardAPI",
            "csi",
            "ephemeral",
            "nfs",
            "image",
            _PATCH,
        }
    )

    name: DnsLabel
    persistent_volume_claim: PersistentVolumeClaimSource | None = None


class PodSpec(Passthrough):
    passthrough: ClassVar[frozenset[str]] = frozenset(
        {
            "activeDeadlineSeconds",
            "affinity",
            "automountServiceAccountToken",
            "dnsConfig",
            "dnsPolicy",
            "enableServiceLinks",
            "ephemeralContainers",
            "hostAliases",
            "hostIPC",
            "hostNetwork",
            "hostPID",
            "hostUsers",
            "hostname",
            "imagePullSecrets",
            "nodeName",
            "nodeSelector",
            "os",
            "overhead",
            "preemptionPolicy",
            "priority",
            "priorityClassName",
            "readinessGates",
            "resourceClaims",
            "resources",
            "restartPolicy",
            "runtimeClassName",
            "schedulerName",
            "schedulingGates",
            "securityContext",
            "serviceAccount",
            "serviceAccountName",
            "setHostnameAsFQDN",
            "shareProcessNamespace",
            "subdomain",
            "terminationGracePeriodSeconds",
            "tolerations",
            "topologySpreadConstraints",
        }
    )

    containers: list[Container] | None = None
    init_containers: list[Container] | None = None
    volumes: list[Volume] | None = None

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers or () if c.name == name), None)


class PodTemplate(Model):
    metadata: TemplateMeta | None = None
    spec: PodSpec | None = None
