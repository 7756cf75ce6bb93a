"""`mls describe`: one object as a person reads it. Secret values are never printed."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import yaml

from mlservice.cli.output import age

Obj = dict[str, Any]


def render(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    created, observed = meta.get("creationTimestamp"), status.get("observedGeneration", "-")
    lines = [
        f"Name:         {meta.get('name')}",
        f"Namespace:    {meta.get('namespace')}",
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
    if address := (status.get("address") or {}):
        lines.append(f"Address:      {address.get('url') or address.get('dns')}")
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
    rest = {k: v for k, v in status.items() if k not in _SHOWN_STATUS}
    if rest:
        lines += ["Status:", _indented(rest)]
    lines += _section(
        "Events", status.get("events"), fields=("type", "reason", "message", "lastTimestamp")
    )
    return "\n".join(lines)


_SHOWN_STATUS = {"address", "conditions", "releases", "transformer", "observedGeneration", "events"}


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
