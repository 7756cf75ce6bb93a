"""The columns `mls get` prints for each kind, and the API's Table responses serve to kubectl:
pure functions of an object, shared by the CLI and the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def age(timestamp: str | None, *, now: datetime | None = None) -> str:
    """Kubernetes-style age: 45s, 12m, 5h, 3d."""
    if not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * (2 if unit != "m" else 1):
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Column:
    """One printed column; `type` and `format` are what a Kubernetes Table declares for it."""

    header: str
    value: Callable[[Obj], Any]
    wide_only: bool = False
    type: str = "string"
    format: str = ""


def get_field(obj: Obj, *path: str) -> Any:
    """The value at `path`, or None where any step is missing."""
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None  # type: ignore[assignment]
    return obj


def text(value: Any) -> str:
    """A cell as printed: nothing for a missing value."""
    return "" if value is None else str(value)


def _lower(value: Any) -> Any:
    """Booleans as kubectl prints them (`true`), anything else as it is."""
    return str(value).lower() if isinstance(value, bool) else value


def _ready(obj: Obj) -> Any:
    ready = get_field(obj, "status", "ready")
    if ready is not None:
        return ready
    for condition in get_field(obj, "status", "conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status")
    return None


def _canary(obj: Obj) -> str:
    canary = get_field(obj, "spec", "canary")
    if not canary:
        return ""
    return f"{canary} ({get_field(obj, 'spec', 'canaryTrafficPercent') or 0}%)"


def _releases(obj: Obj) -> str:
    rows = get_field(obj, "status", "releases") or []
    return " ".join(
        f"{r.get('name')}:{r.get('readyReplicas', 0)}/{r.get('totalReplicas', 0)}" for r in rows
    )


def _formats(obj: Obj) -> str:
    return ",".join(
        str(f.get("name")) for f in get_field(obj, "spec", "supportedModelFormats") or []
    )


def _names(items: Any) -> str:
    return ",".join(str(item.get("name")) for item in items or [] if isinstance(item, dict))


def _condition(obj: Obj, kind: str) -> Any:
    for condition in get_field(obj, "status", "conditions") or []:
        if condition.get("type") == kind:
            return condition.get("status")
    return None


def _traffic(obj: Obj, field: str, *, tag: str | None = None, latest: bool = False) -> Any:
    """A field of the predictor's traffic entry tagged `tag`, or of the latest revision's:
    KServe's printer columns PREV and LATEST."""
    for entry in get_field(obj, "status", "components", "predictor", "traffic") or []:
        if not isinstance(entry, dict):
            continue
        if (tag is not None and entry.get("tag") == tag) or (
            latest and entry.get("latestRevision") is True
        ):
            return entry.get(field)
    return None


def _generation(obj: Obj) -> str:
    observed = get_field(obj, "status", "observedGeneration")
    return f"{observed if observed is not None else '-'}/{get_field(obj, 'metadata', 'generation')}"


AGE = Column("AGE", lambda o: age(get_field(o, "metadata", "creationTimestamp")), type="date")
NAME = Column("NAME", lambda o: get_field(o, "metadata", "name"), format="name")
NAMESPACE = Column("NAMESPACE", lambda o: get_field(o, "metadata", "namespace"))
_RUNTIME_COLUMNS = [
    Column("DISABLED", lambda o: _lower(get_field(o, "spec", "disabled"))),
    Column("MODELTYPE", lambda o: _names(get_field(o, "spec", "supportedModelFormats"))),
    Column("CONTAINERS", lambda o: _names(get_field(o, "spec", "containers"))),
    AGE,
]
COLUMNS: dict[str, list[Column]] = {
    "MLService": [
        Column("READY", _ready),
        Column("URL", lambda o: get_field(o, "status", "address", "url")),
        Column("DEFAULT", lambda o: get_field(o, "spec", "default")),
        Column("CANARY", _canary),
        AGE,
        Column("RELEASES", _releases, wide_only=True),
        Column("GENERATION", _generation, wide_only=True),
    ],
    "SimpleMLService": [
        Column("READY", _ready),
        Column("DNS", lambda o: get_field(o, "status", "address", "dns")),
        Column("REPLICAS", lambda o: get_field(o, "spec", "replicas")),
        AGE,
        Column("GENERATION", _generation, wide_only=True),
    ],
    "MLServiceRuntime": [
        Column("ENABLED", lambda o: get_field(o, "spec", "enabled")),
        Column("FORMATS", _formats),
        AGE,
    ],
    "Secret": [
        Column("TYPE", lambda o: o.get("type", "Opaque")),
        Column("DATA", lambda o: len(o.get("data") or {}), type="integer"),
        AGE,
    ],
    "ServiceAccount": [
        Column("SECRETS", lambda o: len(o.get("secrets") or []), type="integer"),
        AGE,
    ],
    # KServe's additionalPrinterColumns; the two revision columns only with -o wide.
    "InferenceService": [
        Column("URL", lambda o: get_field(o, "status", "url")),
        Column("READY", lambda o: _condition(o, "Ready")),
        Column("PREV", lambda o: _traffic(o, "percent", tag="prev")),
        Column("LATEST", lambda o: _traffic(o, "percent", latest=True)),
        Column("PREVROLLEDOUTREVISION", lambda o: _traffic(o, "revisionName", tag="prev"), True),
        Column("LATESTREADYREVISION", lambda o: _traffic(o, "revisionName", latest=True), True),
        AGE,
    ],
    "ServingRuntime": _RUNTIME_COLUMNS,
    "ClusterServingRuntime": _RUNTIME_COLUMNS,
    # KServe's TrainedModel printer columns.
    "TrainedModel": [
        Column("URL", lambda o: get_field(o, "status", "url")),
        Column("READY", lambda o: _condition(o, "Ready")),
        AGE,
    ],
    "PersistentVolumeClaim": [
        Column("STATUS", lambda o: get_field(o, "status", "phase")),
        Column("CAPACITY", lambda o: get_field(o, "spec", "resources", "requests", "storage")),
        AGE,
    ],
}


def _access_modes(obj: Obj) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX"}
    modes = get_field(obj, "status", "accessModes") or get_field(obj, "spec", "accessModes")
    return ",".join(short.get(str(m), str(m)) for m in modes or [])


def _event_object(obj: Obj) -> str:
    involved = obj.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_source(obj: Obj) -> str:
    source = obj.get("source") or {}
    return ", ".join(str(source[k]) for k in ("component", "host") if source.get(k))


def _since(field: str) -> Callable[[Obj], str]:
    return lambda o: age(o.get(field) or get_field(o, "metadata", "creationTimestamp"))


def _pod_ready(obj: Obj) -> str:
    statuses = get_field(obj, "status", "containerStatuses") or []
    total = len(get_field(obj, "spec", "containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _pod_status(obj: Obj) -> str:
    """What kubectl prints as STATUS (kubernetes' printPod, for the states a replica has):
    an init container's trouble as `Init:...`, else the last container's waiting or
    terminated reason, else the phase; `Terminating` once deletion started."""
    status = obj.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    inits = status.get("initContainerStatuses") or []
    initializing = False
    for index, init in enumerate(inits):
        state = init.get("state") or {}
        done, waiting = state.get("terminated") or {}, state.get("waiting") or {}
        if done and done.get("exitCode") == 0:
            continue
        initializing = True
        if done:
            reason = f"Init:{done.get('reason') or 'ExitCode:' + str(done.get('exitCode'))}"
        elif waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = f"Init:{waiting['reason']}"
        else:
            reason = f"Init:{index}/{len(inits)}"
        break
    if not initializing:
        for container in reversed(status.get("containerStatuses") or []):
            state = container.get("state") or {}
            waiting, done = state.get("waiting") or {}, state.get("terminated") or {}
            if waiting.get("reason"):
                reason = str(waiting["reason"])
            elif done.get("reason"):
                reason = str(done["reason"])
    if get_field(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    return reason


def _pod_restarts(obj: Obj) -> int:
    """Restarts of the containers, and of the init containers while they hold the pod back."""
    status = obj.get("status") or {}
    counted = list(status.get("containerStatuses") or [])
    if _pod_status(obj).startswith("Init:"):
        counted += status.get("initContainerStatuses") or []
    return sum(int(c.get("restartCount") or 0) for c in counted)


def _none(value: Any) -> str:
    return "<none>" if value in (None, "", []) else str(value)


# Kubernetes' own server-side columns for the core kinds `mls get` prints more briefly
# (kubernetes/pkg/printers/internalversion): kubectl shows these against a real cluster.
_KUBERNETES_COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        NAME,
        Column("READY", _pod_ready),
        Column("STATUS", _pod_status),
        Column("RESTARTS", _pod_restarts, type="integer"),
        AGE,
        Column("IP", lambda o: _none(get_field(o, "status", "podIP")), wide_only=True),
        Column("NODE", lambda o: _none(get_field(o, "spec", "nodeName")), wide_only=True),
        Column(
            "NOMINATED NODE", lambda o: _none(get_field(o, "status", "nominatedNodeName")), True
        ),
        Column("READINESS GATES", lambda o: _none(get_field(o, "spec", "readinessGates")), True),
    ],
    "PersistentVolumeClaim": [
        NAME,
        Column("STATUS", lambda o: get_field(o, "status", "phase")),
        Column("VOLUME", lambda o: get_field(o, "spec", "volumeName")),
        Column("CAPACITY", lambda o: get_field(o, "status", "capacity", "storage")),
        Column("ACCESS MODES", _access_modes),
        Column("STORAGECLASS", lambda o: get_field(o, "spec", "storageClassName")),
        Column(
            "VOLUMEATTRIBUTESCLASS", lambda o: get_field(o, "spec", "volumeAttributesClassName")
        ),
        AGE,
        Column("VOLUMEMODE", lambda o: get_field(o, "spec", "volumeMode"), wide_only=True),
    ],
    "Event": [
        Column("LAST SEEN", _since("lastTimestamp")),
        Column("TYPE", lambda o: o.get("type")),
        Column("REASON", lambda o: o.get("reason")),
        Column("OBJECT", _event_object),
        Column("SUBOBJECT", lambda o: get_field(o, "involvedObject", "fieldPath"), True),
        Column("SOURCE", _event_source, wide_only=True),
        Column("MESSAGE", lambda o: o.get("message")),
        Column("FIRST SEEN", _since("firstTimestamp"), wide_only=True),
        Column("COUNT", lambda o: o.get("count"), wide_only=True, type="integer"),
        Column("NAME", NAME.value, wide_only=True, format="name"),
    ],
}


def cli_columns(kind: str, *, wide: bool = False, namespaces: bool = False) -> list[Column]:
    """What `mls get` prints for `kind`: NAMESPACE (across namespaces), NAME, then its own."""
    columns = [c for c in COLUMNS.get(kind, [AGE]) if wide or not c.wide_only]
    return [*([NAMESPACE] if namespaces else []), NAME, *columns]


def server_columns(kind: str) -> list[Column]:
    """The columns a Kubernetes Table of `kind` declares, wide ones included (priority 1):
    Kubernetes' own for PVCs and Events, else what `mls get` prints."""
    return _KUBERNETES_COLUMNS.get(kind) or [NAME, *COLUMNS.get(kind, [AGE])]
