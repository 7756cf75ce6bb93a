"""An InferenceService's status as KServe writes it, from what its tracks report: pure.

`url` and `address.url` are the service's host; `components.{predictor,transformer}` give
each component's URL, its revisions (latest created, latest ready, latest and previous rolled
out) and `traffic`; conditions `PredictorReady`, `TransformerReady` (only with a
transformer), `IngressReady` and `Ready`; `modelStatus` says whether the serving model is the
spec's (`UpToDate`), on its way (`InProgress`), stuck (`BlockedByFailedLoad`) or cannot be
served at all (`InvalidSpec`), with KServe's failure reasons. `revisionHash` beside the
revision names lets a restarted `mls up` keep naming revisions where it left off.
An explainer is accepted but not run here: condition `ExplainerReady` False says so, and
`Ready` follows the components that do run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mlservice.controller.conditions import Condition, conditions_json
from mlservice.controller.status import Health, health
from mlservice.controller.track import TrackView
from mlservice.naming import Hosts

EXPLAINER_MESSAGE: Final = "Explainers are not supported by mlservice; the explainer does not run."


@dataclass(frozen=True)
class ModelFailure:
    """Why the spec's model cannot be served at all (`modelStatus.lastFailureInfo`)."""

    reason: str
    message: str


def _conditions(healths: list[tuple[str, Health]], *, explainer: bool) -> list[Condition]:
    """Each component's condition, IngressReady, an explainer's NotSupported, and Ready: the
    first component (or ingress) not ready says why."""
    ingress = _ingress(healths)
    conditions = [
        Condition(type_, h.ready, h.reason, h.message) for type_, h in [*healths, ingress]
    ]
    if explainer:
        conditions.append(Condition("ExplainerReady", False, "NotSupported", EXPLAINER_MESSAGE))
    blocking = next((h for _, h in [*healths, ingress] if not h.ready), None)
    reason, message = (blocking.reason, blocking.message) if blocking else ("", "")
    return [*conditions, Condition("Ready", blocking is None, reason, message)]


def isvc_status(
    *,
    name: str,
    namespace: str,
    generation: int | None,
    predictor: TrackView,
    transformer: TrackView | None,
    explainer: bool,
    invalid: ModelFailure | None,
    canary: int | None = None,
    hosts: Hosts,
    previous: Mapping[str, Any] | None,
    now: str,
) -> dict[str, Any]:
    before = previous or {}
    old_components = before.get("components") or {}
    url = hosts.url(hosts.service(name, namespace))
    components = {
        "predictor": component_status(
            predictor,
            url=hosts.url(hosts.predictor(name, namespace)),
            previous=old_components.get("predictor") or {},
            canary=canary,
        )
    }
    predictor_health = health(predictor, paused=False)
    if predictor_health.reason == "RollingOut" and canary_split(predictor, canary):
        predictor_health = Health(True)  # a canary held beside the rolled-out revision
    healths = [("PredictorReady", predictor_health)]
    if transformer is not None:
        components["transformer"] = component_status(
            transformer,
            url=hosts.url(hosts.transformer(name, namespace)),
            previous=old_components.get("transformer") or {},
        )
        healths.append(("TransformerReady", health(transformer, paused=False)))
    conditions = _conditions(healths, explainer=explainer)
    status: dict[str, Any] = {
        "url": url,
        "address": {"url": url},
        "components": components,
        # Knative's condition sets keep conditions sorted by type; KServe's status shows them so.
        "conditions": conditions_json(
            sorted(conditions, key=lambda c: c.type), before.get("conditions"), now=now
        ),
        "modelStatus": model_status(predictor, invalid=invalid),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


@dataclass(frozen=True)
class CanarySplit:
    """A canary in progress: the latest revision takes `percent`, the rolled-out one the rest."""

    latest: str
    rolled_out: str
    percent: int


def canary_split(view: TrackView, percent: int | None) -> CanarySplit | None:
    """The split `canaryTrafficPercent` asks for, once the latest revision is ready beside the
    rolled-out one (until then, as in Knative, the rolled-out one takes everything)."""
    latest, serving = view.latest, view.serving
    if percent is None or percent == 100 or latest is None or serving is None:
        return None
    if latest == serving or not _has_ready(view, latest):
        return None
    return CanarySplit(latest, serving, percent)


def component_status(
    view: TrackView,
    *,
    url: str,
    previous: Mapping[str, Any],
    canary: int | None = None,
) -> dict[str, Any]:
    """`status.components.{component}`; the previous rolled-out revision is the one that
    rolled out before the current one (kept from the previous status)."""
    out: dict[str, Any] = {"url": url}
    if view.latest is not None:
        out["latestCreatedRevision"] = view.latest
    if view.serving is not None:
        latest_ready = view.latest if view.latest and _has_ready(view, view.latest) else None
        out["latestReadyRevision"] = latest_ready or view.serving
        out["latestRolledoutRevision"] = view.serving
        rolled = previous.get("latestRolledoutRevision")
        earlier = rolled if rolled and rolled != view.serving else None
        earlier = earlier or previous.get("previousRolledoutRevision")
        if earlier and earlier != view.serving:
            out["previousRolledoutRevision"] = earlier
        out["traffic"] = traffic(view, canary_split(view, canary))
    if view.hash is not None:
        out["revisionHash"] = view.hash
    return out


def model_status(view: TrackView, *, invalid: ModelFailure | None) -> dict[str, Any]:
    """`modelStatus`: KServe's transition status, model states and last failure."""
    active = "Loaded" if view.serving is not None and view.ready_count() > 0 else "Pending"
    if invalid is not None:
        return {
            "transitionStatus": "InvalidSpec",
            "modelRevisionStates": {"activeModelState": active, "targetModelState": "FailedToLoad"},
            "lastFailureInfo": {"reason": invalid.reason, "message": invalid.message},
        }
    failure = _load_failure(view)
    if failure is not None:
        return {
            "transitionStatus": "BlockedByFailedLoad",
            "modelRevisionStates": {"activeModelState": active, "targetModelState": "FailedToLoad"},
            "lastFailureInfo": {"reason": "ModelLoadFailed", "message": failure},
        }
    current = view.latest is not None and (
        view.serving == view.latest or (view.serving is not None and _has_ready(view, view.latest))
    )
    if current:
        up = "Loaded" if view.scale == 0 or view.ready_count() > 0 else "Pending"
        return {
            "transitionStatus": "UpToDate",
            "modelRevisionStates": {"activeModelState": up, "targetModelState": up},
        }
    target = "Loading" if view.replicas.get(view.latest or "") else "Pending"
    return {
        "transitionStatus": "InProgress",
        "modelRevisionStates": {"activeModelState": active, "targetModelState": target},
    }


def traffic(view: TrackView, split: CanarySplit | None) -> list[dict[str, Any]]:
    """`traffic`: the rolled-out revision at 100, or a canary's two targets, tagged."""
    if split is None:
        latest = view.serving == view.latest
        return [{"revisionName": view.serving, "percent": 100, "latestRevision": latest}]
    return [
        {
            "tag": "latest",
            "revisionName": split.latest,
            "percent": split.percent,
            "latestRevision": True,
        },
        {
            "tag": "prev",
            "revisionName": split.rolled_out,
            "percent": 100 - split.percent,
            "latestRevision": False,
        },
    ]


def _has_ready(view: TrackView, revision: str) -> bool:
    return any(r.ready for r in view.replicas.get(revision, ()))


def _load_failure(view: TrackView) -> str | None:
    if view.failure is not None:
        return view.failure.message
    broken = view.problem()
    if broken is not None and broken.revision_id.endswith(f"/{view.latest}"):
        return broken.message
    return None


def _ingress(healths: list[tuple[str, Health]]) -> tuple[str, Health]:
    """Routes are in place once every component has a revision serving."""
    waiting = [type_ for type_, h in healths if not h.ready]
    if not waiting:
        return "IngressReady", Health(True)
    return "IngressReady", Health(
        False, "NotReady", f"Waiting for {', '.join(waiting)} before routing traffic."
    )
