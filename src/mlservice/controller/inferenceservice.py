"""KServe's InferenceService on the same machinery as an MLService: one track per component.

The predictor is a track with revisions `{name}-predictor-{NNNNN}`: a model predictor runs
the runtime KServe would select (the namespace's ServingRuntimes, then the
ClusterServingRuntimes) with the model at `/mnt/models`, served under the InferenceService's
name; a custom predictor runs its containers. A transformer is a second track,
`{name}-transformer-{NNNNN}`, forwarding to the `{name}-predictor` host. Hosts are KServe's:
`{name}.{ns}.{domain}` (the transformer if any, else the predictor), `{name}-predictor...`
and `{name}-transformer...`. Status is `kserve_status.py`'s.

`canaryTrafficPercent` P (other than 100) holds the rolled-out revision serving beside a
ready newer one, which takes P % (0 rolls back); absent or 100 promotes the newer one. The
percent is not part of the revision's hash, so a traffic-only change makes no revision.
With `serving.kserve.io/enable-tag-routing: "true"`, `latest-{name}-predictor...` and
`prev-{name}-predictor...` reach each side of a canary.

With `serving.mlservice.dev/analysis-*` annotations (ours) the canary analysis owns that
percent (`analysis_step.CanaryAnalyst.share`): it holds the rolled-out revision beside the
latest one at each step's percent, rolls the latest back to 0 or promotes it, and keeps its
progress in `status.canaryAnalysis`, never in `spec`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from mlservice.controller.analysis import ANNOTATION_PREFIX
from mlservice.controller.analysis_step import CanaryAnalyst, CanaryShare, MetricsSource
from mlservice.controller.context import Context
from mlservice.controller.events import Involved
from mlservice.controller.kserve_pod import (
    SelectedRuntime,
    autoscaling_annotations,
    custom_pod,
    model_pod,
    model_source,
    stand_in,
    transformer_pod,
    unsupported_scheme,
)
from mlservice.controller.kserve_status import ModelFailure, canary_split, isvc_status
from mlservice.controller.reconciler import (
    Components,
    Converged,
    TrackedReconciler,
    render_failure,
)
from mlservice.controller.revisions import plan_of
from mlservice.controller.routing import ServiceRoutes, Settings, activatable, routed_revision
from mlservice.controller.track import Failure, Plan, Track, TrackView
from mlservice.errors import InvalidInput, KServeSelectionError, MLServiceError
from mlservice.gateway.snapshot import (
    DEFAULT_CONTAINER_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    LoggerSpec,
)
from mlservice.naming import ComponentKey, kserve_predictor_key, kserve_transformer_key
from mlservice.resources import InferenceService
from mlservice.resources.kinds import KSERVE_GROUP
from mlservice.resources.kserve_component import ComponentSpec
from mlservice.resources.pod import PodSpec
from mlservice.runtime import RenderedReplica, render_pod
from mlservice.runtime.builtin import requires_of
from mlservice.runtime.kserve_container import MODEL_MOUNT_PATH
from mlservice.runtime.kserve_select import CLUSTER_KIND, RuntimeCandidate, select_runtime
from mlservice.store import Key, Obj, Scope

KIND: Final = "InferenceService"
NAMESPACE_KIND: Final = "ServingRuntime"


IMAGE_NOT_RUN: Final = "ImageNotRun"
"""The Warning event's reason when a predictor's image is served by its runtime's program."""


@dataclass
class _Service(Components):
    warned: str | None = None  # the last ImageNotRun message recorded


class InferenceServiceReconciler(TrackedReconciler[InferenceService, _Service]):
    api_version = f"{KSERVE_GROUP}/v1beta1"
    kind = KIND

    def __init__(self, ctx: Context, *, metrics: MetricsSource | None = None) -> None:
        super().__init__(ctx, model=InferenceService, state=_Service)
        self.analyst = CanaryAnalyst(metrics=metrics, events=ctx.events)

    async def converge(
        self, key: Key, obj: Obj, isvc: InferenceService, state: _Service
    ) -> Converged:
        predictor = isvc.spec.predictor
        track = self._track(state, key, obj, kserve_predictor_key())
        outcome = predictor_outcome(isvc, obj, runtimes=self._runtimes(isvc), local=True)
        # Recorded once while the spec says it: the event recorder would count every reconcile.
        if outcome.warning is not None and state.warned != outcome.warning:
            self.ctx.events.warning(Involved.of(obj), IMAGE_NOT_RUN, outcome.warning)
        state.warned = outcome.warning
        # The canary analysis (ours, optional) steers the percent held, routed and reported.
        # It judges the latest revision once it is ready, so the step holds until then.
        requested = predictor.canary_traffic_percent
        analysed = any(k.startswith(ANNOTATION_PREFIX) for k in isvc.metadata.annotations or {})
        hold = analysed or (requested is not None and requested != 100)
        delay = await self._step(track, predictor, outcome.plan, hold=hold)
        view = await track.view()
        share = self._share(obj, track, view, requested)
        if hold and not share.holds and view.serving != view.latest:
            # Promoted (or released) in this pass: the latest replaces the rolled-out one now.
            delay = await self._step(track, predictor, outcome.plan)
            view = await track.view()
        canary = share.percent
        delays = [delay, share.delay]
        transformer_view = None
        transformer = isvc.spec.transformer
        if transformer is not None:
            chain = self._track(state, key, obj, kserve_transformer_key())
            later = await self._step(
                chain,
                transformer,
                transformer_plan(
                    isvc, predictor_host=self.ctx.hosts.predictor(isvc.name, isvc.namespace)
                ),
            )
            delays.append(later)
            transformer_view = await chain.view()
        await state.keep_only(_components(isvc))
        status = isvc_status(
            name=isvc.name,
            namespace=isvc.namespace,
            generation=obj["metadata"].get("generation"),
            predictor=view,
            transformer=transformer_view,
            explainer=isvc.spec.explainer is not None,
            invalid=outcome.invalid,
            canary=canary,
            hosts=self.ctx.hosts,
            previous=obj.get("status"),
            now=self.ctx.now(),
        )
        status = share.annotate(status, previous=obj.get("status"), now=self.ctx.now())
        routes = self._routes(isvc, view, transformer_view, canary=canary)
        return Converged(status, routes, delays)

    # -- components ----------------------------------------------------------------------

    def _new_track(self, key: Key, obj: Obj, component: ComponentKey) -> Track:
        track = super()._new_track(key, obj, component)
        # KServe's status keeps each component's names in its block (`predictor`, ...).
        block = component.name_part
        recorded = ((obj.get("status") or {}).get("components") or {}).get(block) or {}
        track.restore(recorded.get("latestCreatedRevision"), recorded.get("revisionHash"))
        return track

    def _share(self, obj: Obj, track: Track, view: TrackView, requested: int | None) -> CanaryShare:
        # The latest revision is a canary to judge once a replica of it answers.
        ready = view.latest and any(r.ready for r in view.replicas.get(view.latest, ()))
        latest = view.latest if ready else None
        return self.analyst.share(
            obj,
            latest=track.revision_id(latest) if latest else None,
            rolled_out=track.revision_id(view.serving) if view.serving else None,
            requested=requested,
            now=self.ctx.clock().timestamp(),
        )

    async def _step(
        self,
        track: Track,
        component: ComponentSpec,
        outcome: Plan | Failure,
        *,
        hold: bool = False,
    ) -> float | None:
        low, high = component.replica_bounds
        return await self._apply(
            track,
            outcome,
            min_replicas=low,
            max_replicas=high,
            container_concurrency=component.container_concurrency,
            hold=hold,
        )

    def _runtimes(self, isvc: InferenceService) -> list[Obj]:
        scopes = [
            Scope(KSERVE_GROUP, NAMESPACE_KIND, isvc.namespace),
            Scope(KSERVE_GROUP, CLUSTER_KIND, None),
        ]
        return [item for scope in scopes for item in self.ctx.store.list(scope).items]

    def _routes(
        self,
        isvc: InferenceService,
        view: TrackView,
        transformer: TrackView | None,
        *,
        canary: int | None,
    ) -> ServiceRoutes:
        predictor = isvc.spec.predictor
        split = canary_split(view, canary)
        names = [view.serving or view.latest, *([split.latest] if split else [])]
        releases = {}
        for name in names:
            revision = routed_revision(
                replace(view, serving=name),
                namespace=isvc.namespace,
                service=isvc.name,
                component="predict",
                release=name or "",
                settings=_settings(predictor),
                activatable=activatable(view),
            )
            if revision is not None:
                releases[revision.release] = revision
        default = names[0] or ""
        tags = {}
        if split is not None and isvc.tag_routing:
            tags = {"latest": split.latest, "prev": split.rolled_out}
        chain = None
        if transformer is not None and isvc.spec.transformer is not None:
            chain = routed_revision(
                transformer,
                namespace=isvc.namespace,
                service=isvc.name,
                component="transform",
                release="",
                settings=_settings(isvc.spec.transformer),
                activatable=activatable(transformer),
            )
        return ServiceRoutes(
            kind=KIND,
            namespace=isvc.namespace,
            name=isvc.name,
            releases=releases,
            transformer=chain,
            default=default,
            canary=split.latest if split else None,
            canary_percent=split.percent if split else 0,
            tags=tags,
        )


@dataclass(frozen=True)
class PredictorOutcome:
    plan: Plan | Failure
    invalid: ModelFailure | None = None  # the spec itself cannot be served (modelStatus)
    warning: str | None = None  # served, but not as written (an image that does not run here)


def predictor_outcome(
    isvc: InferenceService, obj: Obj, *, runtimes: Sequence[Obj], local: bool = False
) -> PredictorOutcome:
    """What the predictor runs, choosing among `runtimes` (ServingRuntime and
    ClusterServingRuntime manifests) as KServe does. `local`: for the local engine, which
    runs no image (a predictor that only overrides its runtime's image is served as the
    runtime serves, with a `warning`); else for a cluster, which runs every image as written."""
    predictor = isvc.spec.predictor
    model = None if predictor.is_custom else predictor.effective_model()
    source = None
    requires: list[str] = []
    warning = None
    try:
        if model is None:
            pod = custom_pod(predictor)
        else:
            uri = model.storage_uri
            scheme = unsupported_scheme(uri) if uri else None
            if scheme is not None:
                message = (
                    f"storageUri {uri}: the {scheme}:// scheme cannot be fetched here; "
                    "use pvc://, s3://, http(s):// or file://."
                )
                failure = ModelFailure("InvalidPredictorSpec", message)
                return PredictorOutcome(Failure("UnsupportedStorageUri", message), failure)
            runtime = _runtime(isvc, model.model_format.name, obj, runtimes)
            pod = model_pod(predictor, model, runtime, metadata=obj["metadata"], local=local)
            source = model_source(predictor, model, mount_path=MODEL_MOUNT_PATH)
            requires = requires_of(runtime.manifest.get("metadata") or {})
            swapped = stand_in(model, runtime) if local else None
            if swapped is not None:
                image, runtime_image = swapped
                warning = (
                    f"image {image} is not run on this machine: the predictor is served as "
                    f"{runtime.where}'s image {runtime_image} serves it, with the same flags "
                    "(a cluster runs the image as written)."
                )
        rendered = _rendered(isvc, predictor, pod)
    except KServeSelectionError as err:
        invalid = ModelFailure(err.reason, err.failure_message or err.message)
        return PredictorOutcome(Failure(err.reason, err.message), invalid)
    except MLServiceError as err:
        return PredictorOutcome(render_failure(err))
    return PredictorOutcome(
        plan_of(
            rendered,
            kind=KIND,
            namespace=isvc.namespace,
            service=isvc.name,
            component=kserve_predictor_key(),
            model=source,
            requires=requires,
        ),
        warning=warning,
    )


def transformer_plan(isvc: InferenceService, *, predictor_host: str) -> Plan | Failure:
    """What the transformer runs; it forwards to `predictor_host`."""
    transformer = isvc.spec.transformer
    assert transformer is not None
    try:
        pod = transformer_pod(transformer, name=isvc.name)
        rendered = _rendered(isvc, transformer, pod, role="transform")
    except MLServiceError as err:
        return render_failure(err)
    return plan_of(
        rendered,
        kind=KIND,
        namespace=isvc.namespace,
        service=isvc.name,
        component=kserve_transformer_key(),
        predictor_host=predictor_host,
    )


def _rendered(
    isvc: InferenceService,
    component: ComponentSpec,
    pod: dict[str, Any],
    *,
    role: str = "predict",
) -> RenderedReplica:
    try:
        typed = PodSpec.model_validate(pod)
    except ValueError as err:
        raise InvalidInput(f"The merged pod spec is invalid: {err}") from None
    rendered = render_pod(typed, component=role)
    annotations = autoscaling_annotations(component, metadata_annotations=isvc.metadata.annotations)
    labels = {**rendered.labels, **(component.labels or {})}
    return replace(rendered, annotations=annotations, labels=labels)


def _runtime(
    isvc: InferenceService, model_format: str, obj: Obj, runtimes: Sequence[Obj]
) -> SelectedRuntime:
    model = isvc.spec.predictor.effective_model()
    assert model is not None
    manifests: dict[tuple[bool, str], Obj] = {}
    local: list[RuntimeCandidate] = []
    cluster: list[RuntimeCandidate] = []
    for item in runtimes:
        candidate = RuntimeCandidate.from_manifest(item)
        if not candidate.cluster and item["metadata"].get("namespace") != isvc.namespace:
            continue
        manifests[(candidate.cluster, candidate.name)] = item
        (cluster if candidate.cluster else local).append(candidate)
    chosen = select_runtime(
        model_format,
        version=model.model_format.version,
        protocol_version=model.protocol_version,
        runtime=model.runtime,
        namespace_runtimes=local,
        cluster_runtimes=cluster,
        multi_node="workerSpec" in (obj.get("spec") or {}).get("predictor", {}),
    )
    return SelectedRuntime(chosen, manifests[(chosen.cluster, chosen.name)])


def _components(isvc: InferenceService) -> set[ComponentKey]:
    """The components the spec has: the predictor, and the transformer if any."""
    wanted = {kserve_predictor_key()}
    if isvc.spec.transformer is not None:
        wanted.add(kserve_transformer_key())
    return wanted


def _settings(component: ComponentSpec) -> Settings:
    logger = component.logger
    return Settings(
        container_concurrency=component.container_concurrency or DEFAULT_CONTAINER_CONCURRENCY,
        timeout_seconds=float(component.timeout or DEFAULT_TIMEOUT_SECONDS),
        # KServe's agent's events (types, `ce-inferenceservicename`, ...), so sinks written
        # for KServe read them unchanged.
        logger=None
        if logger is None
        else LoggerSpec(
            urls=(logger.url,) if logger.url else (), mode=logger.mode, flavor="kserve"
        ),
    )
