"""Machine-wide autoscaler settings: Knative's `config-autoscaler` defaults, overridable by env.

Annotations on a template override the per-revision ones (`window`, `target`, ...); the rest
(tick, grace period, rates) apply to every revision. `MLS_AUTOSCALER_<FIELD>` (upper-case
field name) overrides a default, e.g. `MLS_AUTOSCALER_STABLE_WINDOW=6s`,
`MLS_AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD=2s`, `MLS_AUTOSCALER_TICK=0.5s`, so tests run in
seconds; env windows may be shorter than the 6 s an annotation may ask for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from mlservice.errors import BadValue, InvalidInput
from mlservice.resources.autoscaling import parse_duration

ENV_PREFIX = "MLS_AUTOSCALER_"


@dataclass(frozen=True)
class AutoscalerSettings:
    tick: float = 2.0
    """Seconds between decisions per revision (Knative's tick interval)."""
    stable_window: float = 60.0
    """Seconds of load the stable decision averages over (annotation `window`)."""
    panic_window_percentage: float = 10.0
    """The panic window as a share of the stable window."""
    panic_threshold_percentage: float = 200.0
    """Panic starts when the panic window wants this share of the ready replicas."""
    target_utilization_percentage: float = 70.0
    """How full a replica is meant to run, as a share of its target."""
    container_concurrency_target: float = 100.0
    """Per-replica concurrency target when neither containerConcurrency nor `target` is set."""
    rps_target: float = 200.0
    """Per-replica requests per second target when `target` is not set."""
    max_scale_up_rate: float = 1000.0
    """A decision never asks for more than this many times the ready replicas."""
    max_scale_down_rate: float = 2.0
    """A decision never drops below the ready replicas divided by this."""
    scale_to_zero_grace_period: float = 30.0
    """Seconds the last replica stays after the stable window has seen no traffic."""
    scale_to_zero_pod_retention_period: float = 0.0
    """Minimum seconds the last replica stays once zero is decided (annotation of that name)."""
    initial_scale: int = 1
    """Replicas a new revision starts with, until it has been that big once."""
    activation_scale: int = 1
    """Replicas a revision at zero is brought up to when a request arrives."""
    stale_after: float = 5.0
    """Decisions hold while the gateway has sent no load report for this many seconds."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AutoscalerSettings:
        env = os.environ if env is None else env
        changes: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw.strip():
                changes[field.name] = _value(field.name, raw, integer=field.type == "int")
        settings = replace(cls(), **changes)
        settings.check()
        return settings

    def check(self) -> None:
        """Refuse settings the decision cannot work with, naming the env variable."""
        positive = ("tick", "stable_window", "max_scale_up_rate", "max_scale_down_rate")
        for name in positive:
            if getattr(self, name) <= 0:
                raise InvalidInput(f"{ENV_PREFIX}{name.upper()} must be positive.")
        if self.max_scale_down_rate < 1 or self.max_scale_up_rate < 1:
            raise InvalidInput(f"{ENV_PREFIX}MAX_SCALE_*_RATE must be at least 1.")
        non_negative = ("scale_to_zero_grace_period", "scale_to_zero_pod_retention_period")
        for name in (*non_negative, "initial_scale", "stale_after"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"{ENV_PREFIX}{name.upper()} must not be negative.")
        if self.activation_scale < 1:
            raise InvalidInput(f"{ENV_PREFIX}ACTIVATION_SCALE must be at least 1.")

    @property
    def panic_window(self) -> float:
        return self.stable_window * self.panic_window_percentage / 100


def _value(name: str, raw: str, *, integer: bool) -> float | int:
    variable = ENV_PREFIX + name.upper()
    try:
        if integer:
            return int(raw)
        if name in ("tick", "stable_window", "stale_after") or name.endswith("_period"):
            return parse_duration(raw) if not _plain_number(raw) else float(raw)
        return float(raw)
    except (BadValue, ValueError):
        kind = "a whole number" if integer else "a number or a duration such as 6s"
        raise InvalidInput(f"{variable}={raw!r} is not {kind}.") from None


def _plain_number(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True
