"""`mls describe`: one object as a person reads it: spec, status, the replicas that serve it and
where they listen, and the events recorded about it. Secret values are never printed."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import yaml

from mlservice.cli.output import age
from mlservice.client import Client
from mlservice.errors import MLServiceError

Obj = dict[str, Any]


def render(obj: Obj, *, events: list[Obj]) -> str:
    """The description, with the events recorded about `obj` (see `events_of`)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    created, observed = meta.get("creationTimestamp"), status.get("observedGeneration", "-")
    lines = [
        f"Name:         {meta.get('name')}",
        # A cluster-scoped object has none.
        *([f"Namespace:    {meta['namespace']}"] if meta.get("namespace") else []),
        f"Kind:         {obj.get('kind')} ({obj.get('apiVersion')})",
        f"Labels:       {_pairs(meta.get('labels'))}",
        f"Annotations:  {_pairs(meta.get('annotations'))}",
        f"Created:      {created} ({age(created)} ago)",
        f"Generation:   {meta.get('generation')} (observed {observed})",
        f"Version:      {meta.get('resourceVersion')}",
    ]
    if obj.get("kind") == "Secret":
        lines += ["Data:", *_secret_sizes(obj)]
    else:
        lines += ["Spec:", _indented(obj.get("spec"))]
    if url := status.get("url"):
        lines.append(f"URL:          {url}")
    if address := (status.get("address") or {}):
        lines.append(f"Address:      {address.get('url') or address.get('dns')}")
    lines += _components(status.get("components"))
    lines += _section(
        "Conditions",
        status.get("conditions"),
        fields=("type", "status", "reason", "message", "lastTransitionTime"),
    )
    lines += _section(
        "Releases",
        status.get("releases"),
        fields=(
            "name",
            "ready",
            "readyReplicas",
            "totalReplicas",
            "trafficPercent",
            "url",
            "message",
        ),
    )
    if transformer := status.get("transformer"):
        lines.append(f"Transformer:  ready={transformer.get('ready')} url={transformer.get('url')}")
    lines += _shadow(status.get("shadow"))
    lines += _replicas(status)
    rest = {k: v for k, v in status.items() if k not in _SHOWN_STATUS}
    if rest:
        lines += ["Status:", _indented(rest)]
    lines += _events(events)
    return "\n".join(lines)


_SHOWN_STATUS = {
    "url",
    "components",
    "address",
    "conditions",
    "releases",
    "transformer",
    "observedGeneration",
    "endpoints",
    "shadow",
}


def _shadow(shadow: Any) -> list[str]:
    """spec.shadow's copies over the recent window (status.shadow, docs/shadow.md)."""
    if not shadow:
        return []
    agreement = shadow.get("agreement")
    shown = f"{agreement:.1%}" if isinstance(agreement, int | float) else "-"
    latency = shadow.get("meanLatencyMs")
    return [
        f"Shadow:       {shadow.get('release')} ({shadow.get('revision', '-')}), "
        f"last {shadow.get('window')}",
        f"  agreement={shown} ({shadow.get('agree', 0)} of "
        f"{shadow.get('agree', 0) + shadow.get('disagree', 0)})"
        f"  sent={shadow.get('sent', 0)}  dropped={shadow.get('dropped', 0)}"
        f"  errors={shadow.get('errors', 0)}  incomparable={shadow.get('incomparable', 0)}"
        + (f"  meanLatency={latency}ms" if latency is not None else ""),
    ]


# An InferenceService component's revisions, as KServe's status names them.
_REVISIONS = (
    ("URL", "url"),
    ("Latest created", "latestCreatedRevision"),
    ("Latest ready", "latestReadyRevision"),
    ("Latest rolled out", "latestRolledoutRevision"),
    ("Previous rolled out", "previousRolledoutRevision"),
)


def _components(components: Any) -> list[str]:
    """KServe's `status.components`: each component's URL, revisions and traffic split."""
    if not isinstance(components, dict) or not components:
        return []
    lines = ["Components:"]
    for name, part in components.items():
        part = part if isinstance(part, dict) else {}
        lines.append(f"  {name}:")
        lines += [f"    {label + ':':<22}{part[key]}" for label, key in _REVISIONS if part.get(key)]
        traffic = [t for t in part.get("traffic") or [] if isinstance(t, dict)]
        if traffic:
            lines.append("    Traffic:")
            lines += [f"      {_traffic_line(t)}" for t in traffic]
    return lines


def _traffic_line(target: Obj) -> str:
    parts = [str(target.get("revisionName") or "-"), f"{target.get('percent', 0)}%"]
    if target.get("latestRevision") is True:
        parts.append("latest")
    if target.get("tag"):
        parts.append(f"tag={target['tag']}")
    if target.get("url"):
        parts.append(f"url={target['url']}")
    return "  ".join(parts)


def _replicas(status: Obj) -> list[str]:
    """Each ready replica with its HTTP and gRPC address, by release (or transformer)."""
    groups = [(r.get("name"), r) for r in status.get("releases") or []]
    if status.get("transformer"):
        groups.append(("transformer", status["transformer"]))
    if "endpoints" in status:
        groups.append(("", status))
    rows = []
    for label, part in groups:
        for e in part.get("endpoints") or []:
            where = f"http={e.get('http')}" + (f"  grpc={e['grpc']}" if e.get("grpc") else "")
            prefix = f"{label}  " if label else ""
            rows.append(f"  {prefix}{e.get('replica')}  {where}")
    return ["Ready replicas:", *rows] if rows else []


def _events(events: list[Obj]) -> list[str]:
    if not events:
        return ["Events:       <none>"]
    ordered = sorted(events, key=lambda e: int(e["metadata"].get("resourceVersion") or 0))
    rows = [("Type", "Reason", "Age", "Count", "Message")]
    for event in ordered:
        message = str(event.get("message") or "").split("\n", 1)[0]
        when = age(event.get("lastTimestamp"))
        rows.append(
            (event.get("type", ""), event.get("reason", ""), when, event.get("count", 1), message)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    lines = ["Events:"]
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:4], widths, strict=False)]
        lines.append("  " + "  ".join([*cells, str(row[4])]))
    return lines


def events_of(client: Client, obj: Obj) -> list[Obj]:
    """The events about `obj`; none when the API has no events to give (describe still
    shows the object)."""
    meta = obj.get("metadata") or {}
    try:
        found = client.list("event", namespace=meta.get("namespace"))
    except MLServiceError:
        return []
    return [e for e in found if _about(e, obj)]


def _about(event: Obj, obj: Obj) -> bool:
    ref = event.get("involvedObject") or {}
    meta = obj.get("metadata") or {}
    same = (ref.get("kind"), ref.get("name")) == (obj.get("kind"), meta.get("name"))
    return same and ref.get("uid") in (None, meta.get("uid"))


def _pairs(mapping: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (mapping or {}).items()) or "<none>"


def _indented(value: Any) -> str:
    if value in (None, {}, []):
        return "  <none>"
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip("\n")
    return "\n".join("  " + line for line in text.splitlines())


def _secret_sizes(obj: Obj) -> list[str]:
    # As `kubectl describe secret`: sizes only, so a shared terminal never shows a credential.
    sizes = []
    for key, value in (obj.get("data") or {}).items():
        try:
            size = len(base64.b64decode(value))
        except (binascii.Error, ValueError):
            size = len(value)
        sizes.append(f"  {key}:  {size} bytes")
    return sizes or ["  <none>"]


def _section(title: str, rows: Any, *, fields: tuple[str, ...]) -> list[str]:
    if not rows:
        return []
    lines = [f"{title}:"]
    for row in rows:
        parts = [f"{f}={row[f]}" for f in fields if row.get(f) not in (None, "")]
        lines.append("  " + "  ".join(parts))
    return lines
