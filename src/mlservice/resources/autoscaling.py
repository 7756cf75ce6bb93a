"""The Knative autoscaling annotations of a pod template: parsing and validation in one place.

`validate_object` calls `check_annotations` for every release and transformer template, so a
bad value is refused when applied, naming the annotation; the autoscaler calls
`parse_annotations` on the merged runtime + release annotations (release wins) to build a
revision's policy. Ranges are Knative's own (`autoscaling.knative.dev/window` between 6s and
1h in whole seconds, panic threshold 110-1000%, ...). Keys are matched exactly: a typo under
the prefix is an error with a "did you mean" hint, not a silently ignored setting.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlservice.errors import BadValue, FieldCause

PREFIX = "autoscaling.knative.dev/"
METRICS = ("concurrency", "rps")
KPA_CLASS = "kpa.autoscaling.knative.dev"
WINDOW_MIN, WINDOW_MAX = 6.0, 3600.0  # seconds
TARGET_MIN = 0.01

Metric = Literal["concurrency", "rps"]


@dataclass(frozen=True)
class AutoscalingAnnotations:
    """The annotations a template sets, parsed; None where unset. Durations are seconds."""

    metric: Metric | None = None
    target: float | None = None
    target_utilization_percentage: float | None = None
    window: float | None = None
    panic_window_percentage: float | None = None
    panic_threshold_percentage: float | None = None
    scale_to_zero_pod_retention_period: float | None = None
    initial_scale: int | None = None
    activation_scale: int | None = None


_GO_DURATION = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (`90s`, `1m30s`, `500ms`, `1h`); a bare `0` is zero."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _GO_DURATION.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise BadValue(f'"{text}" is not a duration such as "60s", "1m30s" or "500ms"')
    return sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f'"{text}" is not a number') from None
    if not math.isfinite(value):
        raise BadValue(f'"{text}" is not a finite number')
    return value


def _percentage(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = _number(text)
        if not low <= value <= high:
            raise BadValue(f'"{text}" is outside {low:g}..{high:g}')
        return value

    return parse


def _target(text: str) -> float:
    value = _number(text)
    if value < TARGET_MIN:
        raise BadValue(f'"{text}" is below the smallest target, {TARGET_MIN:g}')
    return value


def _window(text: str) -> float:
    seconds = parse_duration(text)
    if not WINDOW_MIN <= seconds <= WINDOW_MAX:
        raise BadValue(f'"{text}" is outside 6s..1h')
    if seconds != int(seconds):
        raise BadValue(f'"{text}" is not a whole number of seconds')
    return seconds


def _retention(text: str) -> float:
    seconds = parse_duration(text)
    if not 0 <= seconds <= WINDOW_MAX:
        raise BadValue(f'"{text}" is outside 0s..1h')
    return seconds


def _count(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*\+?\d+\s*", text):
            raise BadValue(f'"{text}" is not a whole number')
        value = int(text)
        if value < low or value > 2**31 - 1:
            raise BadValue(f'"{text}" is outside {low}..{2**31 - 1}')
        return value

    return parse


def _metric(text: str) -> str:
    if text not in METRICS:
        raise BadValue(f'"{text}" is not one of {", ".join(METRICS)}')
    return text


def _class(text: str) -> str:
    if text != KPA_CLASS:
        raise BadValue(f'"{text}" is not supported; mlservice scales with {KPA_CLASS}')
    return text


# annotation name (after the prefix) -> (parser, field of AutoscalingAnnotations or "")
_RULES: dict[str, tuple[Callable[[str], Any], str]] = {
    "class": (_class, ""),
    "metric": (_metric, "metric"),
    "target": (_target, "target"),
    "target-utilization-percentage": (_percentage(1, 100), "target_utilization_percentage"),
    "window": (_window, "window"),
    "panic-window-percentage": (_percentage(1, 100), "panic_window_percentage"),
    "panic-threshold-percentage": (_percentage(110, 1000), "panic_threshold_percentage"),
    "scale-to-zero-pod-retention-period": (_retention, "scale_to_zero_pod_retention_period"),
    "initial-scale": (_count(0), "initial_scale"),
    "activation-scale": (_count(1), "activation_scale"),
}
_BOUNDS = {"min-scale": "minReplicas", "max-scale": "maxReplicas"}


def parse_annotations(
    annotations: Mapping[str, str] | None,
) -> tuple[AutoscalingAnnotations, dict[str, str]]:
    """The parsed values, and a message per annotation key that is not acceptable."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, raw in (annotations or {}).items():
        if not key.startswith(PREFIX):
            continue
        name = key.removeprefix(PREFIX)
        rule = _RULES.get(name)
        if rule is None:
            problems[key] = _unknown(name)
            continue
        parse, field = rule
        try:
            value = parse(raw) if isinstance(raw, str) else parse(str(raw))
        except BadValue as err:
            problems[key] = f"{key} {err}"
            continue
        if field:
            values[field] = value
    return AutoscalingAnnotations(**values), problems


def check_annotations(annotations: Mapping[str, str] | None, *, path: str) -> list[FieldCause]:
    """Causes for bad autoscaling annotations; `path` is the `annotations` field's path."""
    _, problems = parse_annotations(annotations)
    return [
        FieldCause(field=f"{path}[{key}]", message=message) for key, message in problems.items()
    ]


def _unknown(name: str) -> str:
    bound = _BOUNDS.get(re.sub(r"([a-z])([A-Z])", r"\1-\2", name).lower())
    if bound:
        return f"{PREFIX}{name} is not read by mlservice; set the component's {bound} instead"
    close = difflib.get_close_matches(name, list(_RULES), n=1)
    hint = f'; did you mean "{PREFIX}{close[0]}"?' if close else ""
    known = ", ".join(_RULES)
    return f"{PREFIX}{name} is not an autoscaling annotation mlservice reads ({known}){hint}"
