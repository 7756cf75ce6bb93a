"""The MLService reconciler: one track per release's predictor, one for the transformer.

Each pass renders every component from the store's current spec and runtimes, lets its track
converge the engine on it, and writes the status computed from what the tracks report. The
pass is idempotent: an unchanged spec renders to the same hash and changes nothing.
"""

from __future__ import annotations

from typing import Final

from mlservice.controller.analysis_step import CanaryAnalyst, MetricsSource
from mlservice.controller.context import Context
from mlservice.controller.reconciler import (
    Components,
    Converged,
    TrackedReconciler,
    render_failure,
)
from mlservice.controller.revisions import plan_of
from mlservice.controller.routing import ServiceRoutes, Settings, activatable, routed_revision
from mlservice.controller.shadow_metrics import TICK, ShadowSource, shadow_status
from mlservice.controller.status import mlservice_status
from mlservice.controller.track import Failure, Plan, TrackView
from mlservice.engine import ModelSource
from mlservice.errors import MLServiceError
from mlservice.gateway.snapshot import (
    DEFAULT_CONTAINER_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    LoggerSpec,
)
from mlservice.naming import ComponentKey, transformer_key
from mlservice.resources import MLService, MLServiceRuntime, Release
from mlservice.resources.kinds import API_VERSION
from mlservice.resources.mlservice import Logger
from mlservice.runtime import render_replica, render_transformer, select_runtime
from mlservice.runtime.builtin import required_programs
from mlservice.store import Key, Obj

KIND: Final = "MLService"


class MLServiceReconciler(TrackedReconciler[MLService, Components]):
    api_version = API_VERSION
    kind = KIND

    def __init__(
        self,
        ctx: Context,
        *,
        metrics: MetricsSource | None = None,
        shadows: ShadowSource | None = None,
    ) -> None:
        super().__init__(ctx, model=MLService, state=Components)
        self.shadows = shadows
        self.analyst = CanaryAnalyst(metrics=metrics, events=ctx.events)

    async def converge(
        self, key: Key, obj: Obj, service: MLService, state: Components
    ) -> Converged:
        runtimes = self.ctx.runtimes(service.namespace)
        paused = service.spec.paused
        views: dict[str, TrackView] = {}
        delays = []
        for release in service.spec.releases:
            track = self._track(state, key, obj, ComponentKey("predict", release.name))
            predictor = release.predictor
            delays.append(
                await self._apply(
                    track,
                    predictor_plan(service, release, runtimes),
                    min_replicas=predictor.min_replicas,
                    max_replicas=predictor.max_replicas,
                    paused=paused,
                    container_concurrency=predictor.container_concurrency,
                )
            )
            views[release.name] = await track.view()
        transformer, transformer_delay = await self._transformer(service, state, key, obj)
        delays.append(transformer_delay)
        await state.keep_only(_components(service))
        # The canary analysis (ours, optional) steers the percent routed and reported.
        serving = {
            name: state.tracks[ComponentKey("predict", name)].revision_id(view.serving)
            if view.serving
            else None
            for name, view in views.items()
        }
        now = self.ctx.clock().timestamp()
        steered = self.analyst.steer(service, obj, serving=serving, now=now)
        service = steered.service
        delays.append(steered.delay)
        status = mlservice_status(
            service,
            releases=views,
            transformer=transformer,
            hosts=self.ctx.hosts,
            previous=obj.get("status"),
            now=self.ctx.now(),
        )
        status = steered.annotate(status, previous=obj.get("status"), now=self.ctx.now())
        if (shadow := service.spec.shadow) is not None:
            # Looked at again each tick while there is a shadow; unchanged numbers write nothing.
            status["shadow"] = shadow_status(
                self.shadows,
                release=shadow.release,
                revision_id=serving.get(shadow.release),
                now=now,
            )
            delays.append(TICK if self.shadows is not None else None)
        return Converged(status, self._routes(service, views, transformer), delays)

    # -- components ----------------------------------------------------------------------

    async def _transformer(
        self, service: MLService, state: Components, key: Key, obj: Obj
    ) -> tuple[TrackView | None, float | None]:
        """The transformer's view (None without one) and its track's delay."""
        transformer = service.spec.transformer
        if transformer is None:
            return None, None
        track = self._track(state, key, obj, transformer_key())
        outcome = transformer_plan(
            service, predictor_host=self.ctx.hosts.predictor(service.name, service.namespace)
        )
        delay = await self._apply(
            track,
            outcome,
            min_replicas=transformer.min_replicas,
            max_replicas=transformer.max_replicas,
            paused=service.spec.paused,
        )
        return await track.view(), delay

    def _routes(
        self, service: MLService, views: dict[str, TrackView], transformer: TrackView | None
    ) -> ServiceRoutes:
        spec, paused = service.spec, service.spec.paused
        releases = {}
        for release in spec.releases:
            predictor, view = release.predictor, views[release.name]
            settings = Settings(
                container_concurrency=predictor.container_concurrency
                or DEFAULT_CONTAINER_CONCURRENCY,
                timeout_seconds=float(predictor.timeout_seconds or DEFAULT_TIMEOUT_SECONDS),
                logger=_logger(predictor.logger),
            )
            revision = routed_revision(
                view,
                namespace=service.namespace,
                service=service.name,
                component="predict",
                release=release.name,
                settings=settings,
                activatable=activatable(view, paused=paused),
            )
            if revision is not None:
                releases[release.name] = revision
        chain = None
        if transformer is not None and spec.transformer is not None:
            chain = routed_revision(
                transformer,
                namespace=service.namespace,
                service=service.name,
                component="transform",
                release="",
                settings=Settings(logger=_logger(spec.transformer.logger)),
                activatable=activatable(transformer, paused=paused),
            )
        return ServiceRoutes(
            kind=KIND,
            namespace=service.namespace,
            name=service.name,
            releases=releases,
            transformer=chain,
            default=spec.default,
            canary=spec.canary,
            canary_percent=spec.canary_traffic_percent or 0,
            paused=paused,
            shadow=spec.shadow.release if spec.shadow else None,
            shadow_percent=spec.shadow.percent if spec.shadow else 0,
        )


def predictor_plan(
    service: MLService, release: Release, runtimes: list[MLServiceRuntime]
) -> Plan | Failure:
    """What a release's predictor runs: its runtime's rendered pod as a revision plan."""
    ns, model = service.namespace, release.predictor.model
    try:
        runtime = select_runtime(model, namespace=ns, runtimes=runtimes)
        rendered = render_replica(service=service, release=release, runtime=runtime)
    except MLServiceError as err:
        return render_failure(err)
    s3 = release.predictor.storage.s3_storage if release.predictor.storage else None
    uri = model.model_uri
    secret = s3.secret_name if s3 and uri and uri.startswith("s3://") else None
    return plan_of(
        rendered,
        kind=KIND,
        namespace=ns,
        service=service.name,
        component=ComponentKey("predict", release.name),
        model=ModelSource(uri, secret) if uri else None,
        requires=required_programs(runtime),
    )


def transformer_plan(service: MLService, *, predictor_host: str) -> Plan | Failure:
    """What the transformer runs; it forwards to `predictor_host`."""
    try:
        rendered = render_transformer(service)
    except MLServiceError as err:
        return render_failure(err)
    return plan_of(
        rendered,
        kind=KIND,
        namespace=service.namespace,
        service=service.name,
        component=transformer_key(),
        predictor_host=predictor_host,
    )


def _components(service: MLService) -> set[ComponentKey]:
    """The components the spec has: a predictor per release, and its transformer if any."""
    wanted = {ComponentKey("predict", r.name) for r in service.spec.releases}
    if service.spec.transformer is not None:
        wanted.add(transformer_key())
    return wanted


def _logger(logger: Logger | None) -> LoggerSpec | None:
    # Without urls a logger still writes the local request log.
    return None if logger is None else LoggerSpec(urls=tuple(logger.urls or ()), mode=logger.mode)
