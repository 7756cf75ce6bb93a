"""`mls operator`: the composition root of the kopf operator (`engine/kube/operator`).

The operator package knows Kubernetes; what it renders and how children's facts read as our
status are the controllers' (layers: engine below controller), so they are wired here: the
renderer behind `mls kube render` (`controller.offline.render_object`) and the status
functions `mls up` writes status with (`controller.status`, `controller.kserve_status`). What
a Knative Configuration or a Deployment says is turned into the `TrackView` those functions
read; the Route's (or HTTPRoute's) readiness and URLs then complete it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from mlservice.controller.conditions import Condition, conditions_json, rfc3339
from mlservice.controller.kserve_status import ModelFailure, isvc_status
from mlservice.controller.offline import render_object, unrendered_object
from mlservice.controller.simple import simple_status
from mlservice.controller.status import mlservice_status
from mlservice.controller.track import Failure, TrackView
from mlservice.engine import ReplicaId, ReplicaState, RevisionId
from mlservice.engine.kube import RenderOptions
from mlservice.engine.kube.operator import (
    Component,
    Ingress,
    Mode,
    Observation,
    Problem,
    Settings,
    Wiring,
    run,
)
from mlservice.engine.kube.render import DEFAULT_DOMAIN, DEFAULT_IMAGE
from mlservice.errors import InvalidInput
from mlservice.naming import Hosts
from mlservice.resources import InferenceService, MLService, SimpleMLService, parse

Body = Mapping[str, Any]
FIRST_REVISION = Failure("Deploying", "Waiting for the first revision.")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(name="operator")(operator)


def operator(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Watch this namespace (repeatable)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Watch every namespace (default).")
    ] = False,
    mode: Annotated[
        str, typer.Option(help="knative (Knative Serving) or standard (Deployments + HPA).")
    ] = "knative",
    kserve_kinds: Annotated[
        bool,
        typer.Option(help="Also reconcile InferenceService (off where KServe runs already)."),
    ] = False,
    image: Annotated[str, typer.Option(help="The mlservice image the pods run.")] = DEFAULT_IMAGE,
    domain: Annotated[str, typer.Option(help="The cluster's ingress domain.")] = DEFAULT_DOMAIN,
    verbose: Annotated[bool, typer.Option(help="kopf's debug logging.")] = False,
) -> None:
    """Reconcile our kinds on the current kubeconfig's cluster until SIGINT/SIGTERM."""
    if namespace and all_namespaces:
        raise typer.BadParameter("--namespace and --all-namespaces exclude each other.")
    if mode not in ("knative", "standard"):
        raise typer.BadParameter(f"--mode {mode!r} is not knative or standard.")
    chosen: Mode = "knative" if mode == "knative" else "standard"
    settings = Settings(mode=chosen, namespaces=tuple(namespace or ()), kserve_kinds=kserve_kinds)
    options = RenderOptions(mode=chosen, image=image, domain=domain)
    run(wiring=wiring(options), settings=settings, verbose=verbose)


def wiring(options: RenderOptions, *, clock: Callable[[], datetime] | None = None) -> Wiring:
    hosts = Hosts(options.domain)
    now = clock or (lambda: datetime.now(UTC))

    def render(parent: Body, *, runtimes: Sequence[Body]) -> list[dict[str, Any]]:
        return render_object(parent, runtimes=runtimes, options=options)

    def unrendered(parent: Body, *, runtimes: Sequence[Body]) -> list[str]:
        return unrendered_object(parent, runtimes=runtimes, options=options)

    def status(parent: Body, seen: Observation | Problem) -> dict[str, Any]:
        return status_of(parent, seen, hosts=hosts, now=rfc3339(now()))

    return Wiring(render=render, status=status, unrendered=unrendered)


def status_of(
    parent: Body, seen: Observation | Problem, *, hosts: Hosts, now: str
) -> dict[str, Any]:
    """The parent's status as `mls up` writes it, from its children (or a render error)."""
    previous = parent.get("status") or {}
    try:
        obj = parse(dict(parent))
    except InvalidInput as err:  # the CRD's schema let through what our models refuse
        problem = seen if isinstance(seen, Problem) else Problem("InvalidSpec", err.message)
        return _failed(parent, problem, previous=previous, now=now)
    if isinstance(obj, MLService):
        return _mlservice(obj, seen, hosts=hosts, previous=previous, now=now)
    if isinstance(obj, SimpleMLService):
        view = track_view(seen, ("predict", None), namespace=obj.namespace)
        return simple_status(obj, view, hosts=hosts, previous=previous, now=now)
    if isinstance(obj, InferenceService):
        return _inferenceservice(obj, seen, hosts=hosts, previous=previous, now=now)
    if isinstance(seen, Problem):
        return _failed(parent, seen, previous=previous, now=now)
    return dict(previous)  # not a kind the operator writes status for


def _mlservice(
    svc: MLService, seen: Observation | Problem, *, hosts: Hosts, previous: Body, now: str
) -> dict[str, Any]:
    ns = svc.namespace
    releases = {
        r.name: track_view(seen, ("predict", r.name), namespace=ns) for r in svc.spec.releases
    }
    transformer = (
        track_view(seen, ("transform", None), namespace=ns) if svc.spec.transformer else None
    )
    status = mlservice_status(
        svc, releases=releases, transformer=transformer, hosts=hosts, previous=previous, now=now
    )
    if isinstance(seen, Observation):
        _routed(status, seen, previous=previous, now=now)
    return status


def _inferenceservice(
    isvc: InferenceService,
    seen: Observation | Problem,
    *,
    hosts: Hosts,
    previous: Body,
    now: str,
) -> dict[str, Any]:
    ns, spec = isvc.namespace, isvc.spec
    canary = spec.predictor.canary_traffic_percent
    predictor = track_view(seen, ("predict", None), namespace=ns)
    rolled_out = ((previous.get("components") or {}).get("predictor") or {}).get(
        "latestRolledoutRevision"
    )
    if isinstance(seen, Observation) and rolled_out:
        predictor = held_canary(predictor, str(rolled_out), canary=canary, namespace=ns)
    transformer = track_view(seen, ("transform", None), namespace=ns) if spec.transformer else None
    status = isvc_status(
        name=isvc.name,
        namespace=ns,
        generation=isvc.metadata.generation,
        predictor=predictor,
        transformer=transformer,
        explainer=spec.explainer is not None,
        invalid=ModelFailure(seen.reason, seen.message) if isinstance(seen, Problem) else None,
        canary=canary,
        hosts=hosts,
        previous=previous,
        now=now,
    )
    if isinstance(seen, Observation):
        found = seen.components.get(("transform", None))
        route = (seen.ingress or Ingress(False)).url
        if route:
            status["components"]["predictor"]["url"] = route
        own = found.url if found is not None and found.url else route
        if found is not None and found.url and "transformer" in status["components"]:
            status["components"]["transformer"]["url"] = found.url
        if own:
            status["url"] = own
            status["address"] = {"url": own}
        held = ("IngressReady", "Ready")
        _held(status, seen.ingress or Ingress(False), types=held, previous=previous, now=now)
    return status


def held_canary(
    view: TrackView, rolled_out: str, *, canary: int | None, namespace: str
) -> TrackView:
    """While a canary runs (`canaryTrafficPercent` below 100), the revision rolled out before
    stays the rolled-out one, whichever Knative made ready since: the renderer pins it in the
    Route by name. A ready latest revision then shows as the canary beside it, pods counted
    or scaled to zero (KServe's status counts none)."""
    if canary is None or canary >= 100 or view.latest in (None, rolled_out):
        return view
    replicas = dict(view.replicas)
    if view.serving == view.latest and not any(r.ready for r in replicas.get(view.latest, ())):
        replicas[view.latest] = _states(view.latest, 1, 1, namespace)
    return replace(view, serving=rolled_out, replicas=replicas)


def track_view(
    seen: Observation | Problem, key: tuple[str, str | None], *, namespace: str
) -> TrackView:
    """What the status functions read about one component, from its child's facts."""
    if isinstance(seen, Problem):
        return TrackView(None, None, None, 0, Failure(seen.reason, seen.message))
    found = seen.components.get(key)
    if found is None or ((found.latest or found.ready_revision) is None and found.problem is None):
        return TrackView(None, None, None, 0, FIRST_REVISION)
    failure = Failure(found.problem.reason, found.problem.message) if found.problem else None
    latest = found.latest or found.ready_revision
    if found.replicas is None:  # Knative: revisions scale on demand, to zero included
        counted = _revision_replicas(found, namespace)
        return TrackView(latest, found.ready_revision, None, 0, failure, replicas=counted)
    return TrackView(
        latest,
        found.ready_revision,
        None,
        found.replicas,
        failure,
        replicas=_replicas(found, namespace),
    )


def _replicas(found: Component, namespace: str) -> dict[str, tuple[ReplicaState, ...]]:
    """A Deployment counts its pods; the status functions count replica states."""
    revision = found.ready_revision or found.latest or ""
    return {revision: _states(revision, found.ready_replicas or 0, found.replicas or 0, namespace)}


def _revision_replicas(found: Component, namespace: str) -> dict[str, tuple[ReplicaState, ...]]:
    """Knative counts pods per Revision: those of the latest and the ready revision (older
    ones take no traffic and scale to zero). Scale stays 0 in the view, so a ready revision
    with no pod (scaled to zero) still serves."""
    out = {}
    for revision in dict.fromkeys(r for r in (found.latest, found.ready_revision) if r):
        pods = found.revisions.get(revision)
        if pods is not None:
            out[revision] = _states(revision, pods.ready, pods.desired, namespace)
    return out


def _states(revision: str, ready: int, wanted: int, namespace: str) -> tuple[ReplicaState, ...]:
    return tuple(
        ReplicaState(
            id=ReplicaId(f"{revision}-{index}"),
            revision_id=RevisionId(f"{namespace}/{revision}"),
            phase="Running" if index < ready else "Starting",
            ready=index < ready,
            pid=None,
            port=None,
            grpc_port=None,
            restarts=0,
        )
        for index in range(max(wanted, ready))
    )


def _routed(status: dict[str, Any], seen: Observation, *, previous: Body, now: str) -> None:
    """The route's URLs replace the ones our host scheme predicts, and a service whose
    components are ready is not Ready until its route (or HTTPRoute) is."""
    ingress = seen.ingress or Ingress(False)
    for row in status.get("releases", ()):
        row["url"] = ingress.tag_urls.get(row["name"], row["url"])
    transformer = seen.components.get(("transform", None))
    if transformer is not None and transformer.url and "transformer" in status:
        status["transformer"]["url"] = transformer.url
    own = transformer.url if transformer is not None and transformer.url else ingress.url
    if own:
        status["address"] = {"url": own}
    _held(status, ingress, types=("Ready",), previous=previous, now=now)


def _held(
    status: dict[str, Any],
    ingress: Ingress,
    *,
    types: tuple[str, ...],
    previous: Body,
    now: str,
) -> None:
    """A status whose components are Ready is not, until its route (or every HTTPRoute) is:
    conditions `types` turn False with the route's reason."""
    conditions = status.get("conditions") or []
    ready: Mapping[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    if ingress.ready or ready.get("status") != "True":
        return
    problem = ingress.problem or Problem("IngressNotReady", "Waiting for the route to be ready.")
    held = [Condition(t, False, problem.reason, problem.message) for t in types]
    replaced = {c["type"]: c for c in conditions_json(held, previous.get("conditions"), now=now)}
    status["conditions"] = [replaced.get(c.get("type"), c) for c in conditions]
    if "ready" in status:
        status["ready"] = False


def _failed(parent: Body, problem: Problem, *, previous: Body, now: str) -> dict[str, Any]:
    ready = Condition("Ready", False, problem.reason, problem.message)
    out = dict(previous)
    out["conditions"] = conditions_json([ready], previous.get("conditions"), now=now)
    generation = (parent.get("metadata") or {}).get("generation")
    if generation is not None:
        out["observedGeneration"] = generation
    return out
