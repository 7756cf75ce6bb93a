"""Status of an MLService from what its tracks report: a pure function, no I/O.

A release is ready once a replica of its serving revision has passed its readiness probe (or
the release is scaled to zero on purpose), as in Knative; the service is `Ready` when the
releases that take traffic (default, canary) and the transformer are. Paused services scale
to zero and are not ready. Extra fields beside the documented shape say which revisions run
and where their ready replicas listen (`endpoints`), for `mls describe` and `mls logs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlservice.controller.conditions import Condition, conditions_json
from mlservice.controller.track import TrackView
from mlservice.naming import Hosts
from mlservice.resources import MLService
from mlservice.resources.mlservice import MLServiceSpec

PAUSED_MESSAGE = "The service is paused (spec.paused is true)."


@dataclass(frozen=True)
class Health:
    ready: bool
    reason: str = ""
    message: str = ""


def traffic_percent(spec: MLServiceSpec, release: str) -> int:
    """Default gets 100 - canaryTrafficPercent, the canary gets canaryTrafficPercent, others 0."""
    canary = (spec.canary_traffic_percent or 0) if spec.canary else 0
    if release == spec.default:
        return 100 - canary
    return canary if release == spec.canary else 0


def health(view: TrackView, *, paused: bool) -> Health:
    """Whether one component can serve, and if not, the most telling reason why."""
    if paused:
        return Health(False, "Paused", PAUSED_MESSAGE)
    ready = view.serving is not None and (view.scale == 0 or view.ready_count() > 0)
    if view.failure is not None:
        return Health(ready, view.failure.reason, view.failure.message)
    broken = view.problem()
    if broken is not None:
        revision = broken.revision_id.split("/", 1)[-1]
        message = f"Revision {revision}: {broken.message}"
        return Health(ready, broken.reason or broken.phase, message)
    waiting = view.unschedulable()
    if waiting is not None and not (ready and view.latest == view.serving):
        revision = waiting.revision_id.split("/", 1)[-1]
        return Health(ready, waiting.reason, f"Revision {revision}: {waiting.message}")
    if view.latest is not None and view.latest != view.serving:
        if view.serving is not None:
            message = f"Revision {view.latest} is starting; {view.serving} serves until ready."
            return Health(ready, "RollingOut", message)
        return Health(False, "Deploying", f"Waiting for revision {view.latest} to become ready.")
    if not ready:
        return Health(False, "NoReadyReplicas", f"No replica of revision {view.serving} is ready.")
    return Health(True)


def endpoints(view: TrackView) -> list[dict[str, Any]]:
    """Where each ready replica listens (HTTP and gRPC), newest revision first."""
    found = []
    for revision in dict.fromkeys([view.latest, view.serving]):
        for replica in view.replicas.get(revision or "", ()):
            if replica.ready and replica.port is not None:
                entry = {"replica": replica.id, "revision": revision, "http": replica.address}
                if replica.grpc_port is not None:
                    entry["grpc"] = f"127.0.0.1:{replica.grpc_port}"
                found.append(entry)
    return found


def component_status(
    view: TrackView, state: Health, *, between: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The documented fields (`between` goes after the replica counts, as the reference
    orders them), then which revisions run and their endpoints."""
    out: dict[str, Any] = {
        "ready": state.ready,
        "readyReplicas": view.ready_count(),
        "totalReplicas": view.total_count(),
        **(between or {}),
    }
    if state.message:
        out["message"] = state.message
    for key, value in (
        ("latestRevision", view.latest),
        ("readyRevision", view.serving),
        ("revisionHash", view.hash),
    ):
        if value is not None:
            out[key] = value
    out["endpoints"] = endpoints(view)
    return out


def mlservice_status(
    service: MLService,
    *,
    releases: Mapping[str, TrackView],
    transformer: TrackView | None,
    hosts: Hosts,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    spec, name, ns = service.spec, service.name, service.namespace
    states = {r: health(v, paused=spec.paused) for r, v in releases.items()}
    rows = []
    for release in spec.releases:
        view, state = releases[release.name], states[release.name]
        where = {
            "trafficPercent": traffic_percent(spec, release.name),
            "url": hosts.url(hosts.release(name, ns, release.name)),
        }
        rows.append({"name": release.name, **component_status(view, state, between=where)})
    status: dict[str, Any] = {
        "observedGeneration": service.metadata.generation,
        "address": {"url": hosts.url(hosts.service(name, ns))},
        "defaultRelease": spec.default,
    }
    if spec.canary:
        status["canaryRelease"] = spec.canary
    serving = [(f"release {r}", states[r]) for r in (spec.default, spec.canary) if r in states]
    if transformer is not None:
        state = health(transformer, paused=spec.paused)
        serving.append(("transformer", state))
        where = {"url": hosts.url(hosts.transformer(name, ns))}
        status["transformer"] = component_status(transformer, state, between=where)
    ready = _overall(serving)
    conditions = [
        Condition("Paused", spec.paused, "Paused" if spec.paused else "", ""),
        Condition("Ready", ready.ready, ready.reason, ready.message),
    ]
    status["conditions"] = conditions_json(conditions, (previous or {}).get("conditions"), now=now)
    status["releases"] = rows
    status["ready"] = ready.ready
    return status


def _overall(parts: list[tuple[str, Health]]) -> Health:
    for label, state in parts:
        if not state.ready:
            return Health(False, state.reason, f"{label[0].upper()}{label[1:]}: {state.message}")
    return Health(True)
