"""Reading a gateway's shadow metrics, for the HTTP and gRPC shadow tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.gateway_procs import Gateway
from tests.support.polling import wait_until


def shadow_metrics(gateway: Gateway, revision_id: str) -> dict[str, float]:
    """The shadow's samples, keyed `name{label=value}` by their one extra label (or `name`)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(gateway.metrics()):
        for sample in family.samples:
            if sample.labels.get("revision") != revision_id or "shadow" not in sample.name:
                continue
            rest = {k: v for k, v in sample.labels.items() if k not in _COMMON}
            key = sample.name + "".join(f"{{{k}={v}}}" for k, v in sorted(rest.items()))
            found[key] = sample.value
    return found


_COMMON = ("namespace", "service", "release", "revision")


def settled(gateway: Gateway, revision_id: str, expected: int) -> dict[str, float]:
    """The shadow's metrics once `expected` copies are judged."""

    def judged() -> dict[str, float] | None:
        got = shadow_metrics(gateway, revision_id)
        total = sum(v for k, v in got.items() if k.startswith("mls_gateway_shadow_agreement"))
        return got if total >= expected else None

    return wait_until(judged, timeout=15, interval=0.05, message="shadow copies to be judged")
