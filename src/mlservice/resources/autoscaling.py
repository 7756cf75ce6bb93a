"""Checks on the Knative autoscaling annotations of a pod template.

This is the hook the autoscaler (KPA) issue extends; for now it checks the two annotations the
reference shows (`autoscaling.knative.dev/metric` and `.../target`).
"""

from __future__ import annotations

from collections.abc import Mapping

from mlservice.errors import FieldCause

PREFIX = "autoscaling.knative.dev/"
METRICS = ("concurrency", "rps")


def check_annotations(annotations: Mapping[str, str] | None, *, path: str) -> list[FieldCause]:
    """Causes for bad autoscaling annotations; `path` is the `annotations` field's path."""
    causes: list[FieldCause] = []
    for key, value in (annotations or {}).items():
        if not key.startswith(PREFIX):
            continue
        message = _check(key.removeprefix(PREFIX), value)
        if message:
            causes.append(FieldCause(field=f"{path}[{key}]", message=message))
    return causes


def _check(name: str, value: str) -> str | None:
    if name == "metric" and value not in METRICS:
        return f'metric "{value}" is not one of {", ".join(METRICS)}'
    if name == "target":
        try:
            ok = float(value) > 0
        except ValueError:
            ok = False
        if not ok:
            return f'target "{value}" must be a positive number'
    return None
