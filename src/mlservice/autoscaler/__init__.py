"""autoscaler: Knative's KPA over the gateway's load reports (see docs/architecture.md).

`kpa` (the decision) and `window` (load buckets) are pure and clock-free; `policy` resolves a
revision's settings from `settings` and its annotations; `service` runs it inside `mls up`.
"""

from mlservice.autoscaler.kpa import Decision, KpaState, Observation, activate, decide
from mlservice.autoscaler.policy import Bounds, Policy, policy_for
from mlservice.autoscaler.service import Autoscaler, ScaleChange, describe
from mlservice.autoscaler.settings import AutoscalerSettings
from mlservice.autoscaler.window import LoadWindow

__all__ = [
    "Autoscaler",
    "AutoscalerSettings",
    "Bounds",
    "Decision",
    "KpaState",
    "LoadWindow",
    "Observation",
    "Policy",
    "ScaleChange",
    "activate",
    "decide",
    "describe",
    "policy_for",
]
