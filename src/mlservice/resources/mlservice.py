"""`MLService`: releases of a predictor (default, canary, others) and an optional transformer."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Literal

from pydantic import Field, JsonValue

from mlservice.errors import FieldCause
from mlservice.naming import release_label
from mlservice.resources import autoscaling
from mlservice.resources._base import DnsLabel, DnsSubdomain, Model
from mlservice.resources.limits import (
    MAX_CONTAINER_CONCURRENCY,
    MAX_REPLICAS,
    MAX_TIMEOUT_SECONDS,
)
from mlservice.resources.meta import Envelope
from mlservice.resources.pod import USER_CONTAINER, PodTemplate, ResourceRequirements
from mlservice.resources.uri import HttpUrl, ModelUri, scheme_of


class ModelFormat(Model):
    name: str = Field(min_length=1)
    version: str | None = None


class ModelSpec(Model):
    runtime: DnsSubdomain | None = None
    model_format: ModelFormat | None = None
    model_uri: ModelUri | None = None
    # Values are usually strings; numbers, booleans and lists are kept for the templates.
    parameters: dict[str, JsonValue] | None = None


class S3Storage(Model):
    secret_name: DnsSubdomain


class Storage(Model):
    s3_storage: S3Storage | None = None


class Logger(Model):
    urls: list[HttpUrl] | None = None
    mode: Literal["all", "request", "response"] = "all"


class Predictor(Model):
    min_replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    # Absent or 0 means no upper bound.
    max_replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    model: ModelSpec
    storage: Storage | None = None
    template: PodTemplate | None = None
    resources: ResourceRequirements | None = None
    logger: Logger | None = None
    container_concurrency: int | None = Field(default=None, ge=0, le=MAX_CONTAINER_CONCURRENCY)
    timeout_seconds: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_SECONDS)


class Release(Model):
    name: DnsLabel
    predictor: Predictor


class Transformer(Model):
    min_replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    max_replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS)
    template: PodTemplate
    logger: Logger | None = None
    resources: ResourceRequirements | None = None


class T9kScheduler(Model):
    queue: str = Field(min_length=1)


class Scheduler(Model):
    t9k_scheduler: T9kScheduler | None = Field(default=None, alias="t9kScheduler")


DEFAULT_ANALYSIS_STEPS = (5, 25, 50, 100)
_DURATION = r"^[0-9]{1,6}(ms|s|m)$"


class CanaryAnalysis(Model):
    """Ours, not the reference's: the controller moves the canary's percent through `steps`,
    judging each step on the gateway's numbers (docs/canary-analysis.md)."""

    steps: list[int] = Field(default=list(DEFAULT_ANALYSIS_STEPS), min_length=1, max_length=20)
    interval: str = Field(default="30s", pattern=_DURATION)
    min_requests: int = Field(default=100, ge=1, le=10_000_000)
    # `maxErrorRate: 1` and `maxP99Ratio: 0` turn a check off (a null would be pruned); a check
    # whose number the gateway does not report holds the analysis (no promotion unjudged).
    max_error_rate: float = Field(default=0.01, ge=0.0, le=1.0)
    max_p99_ratio: float = Field(default=1.5, ge=0.0, le=1000.0)
    # A canary p99 under this is never judged slow: at a few milliseconds the ratio is noise.
    p99_floor: str = Field(default="50ms", pattern=_DURATION)


class Shadow(Model):
    """Ours (not in the reference): copies `percent` of the service's requests to `release`
    off the request path; its answers are compared, logged and discarded (docs/shadow.md)."""

    release: str
    percent: int = Field(default=100, ge=0, le=100)


class MLServiceSpec(Model):
    default: str
    canary: str | None = None
    canary_traffic_percent: int | None = Field(default=None, ge=0, le=100)
    shadow: Shadow | None = None
    """Ours: shadow traffic (docs/shadow.md)."""
    releases: list[Release] = Field(min_length=1)
    transformer: Transformer | None = None
    scheduler: Scheduler | None = None
    paused: bool = False
    analysis: CanaryAnalysis | None = None
    """Ours: automatic canary analysis (docs/canary-analysis.md)."""


class MLService(Envelope):
    spec: MLServiceSpec

    def release(self, name: str) -> Release | None:
        return next((r for r in self.spec.releases if r.name == name), None)

    def problems(self) -> list[FieldCause]:
        spec = self.spec
        causes = [
            *self.host_name_problems(),
            *_release_refs(spec),
            *_analysis_problems(spec),
            *_shadow_refs(spec),
        ]
        for i, release in enumerate(spec.releases):
            causes += _host_label_problems(self.name, release.name, index=i)
            causes += _predictor_problems(release.predictor, path=f"spec.releases[{i}].predictor")
        if spec.transformer:
            causes += _transformer_problems(spec.transformer, path="spec.transformer")
        return causes


def _release_refs(spec: MLServiceSpec) -> list[FieldCause]:
    names = [r.name for r in spec.releases]
    causes = [
        FieldCause(
            f"spec.releases[{i}].name",
            f'release name "{name}" is used more than once',
            "FieldValueDuplicate",
        )
        for i, name in enumerate(names)
        if Counter(names)[name] > 1 and names.index(name) != i
    ]
    known = ", ".join(f'"{n}"' for n in names)
    if spec.default not in names:
        causes.append(FieldCause("spec.default", f'"{spec.default}" is not a release ({known})'))
    if spec.canary is not None and spec.canary not in names:
        causes.append(FieldCause("spec.canary", f'"{spec.canary}" is not a release ({known})'))
    elif spec.canary is not None and spec.canary == spec.default:
        causes.append(FieldCause("spec.canary", f'"{spec.canary}" is already the default release'))
    if spec.canary_traffic_percent is not None and spec.canary is None:
        causes.append(
            FieldCause(
                "spec.canaryTrafficPercent",
                f"{spec.canary_traffic_percent} is set but spec.canary is not",
                "FieldValueForbidden",
            )
        )
    return causes


def _analysis_problems(spec: MLServiceSpec) -> list[FieldCause]:
    analysis = spec.analysis
    if analysis is None:
        return []
    causes = []
    if spec.canary is None:
        causes.append(
            FieldCause("spec.analysis", "needs spec.canary: it judges the canary release")
        )
    steps = analysis.steps
    if any(not 1 <= s <= 100 for s in steps) or any(a >= b for a, b in itertools.pairwise(steps)):
        causes.append(
            FieldCause(
                "spec.analysis.steps",
                f"{steps} must rise strictly, each from 1 to 100",
            )
        )
    if 0 < analysis.max_p99_ratio < 1:
        causes.append(FieldCause("spec.analysis.maxP99Ratio", "must be 0 (off) or at least 1"))
    if analysis.interval.endswith("ms") and int(analysis.interval[:-2]) < 100:
        causes.append(FieldCause("spec.analysis.interval", "must be at least 100ms"))
    return causes


def _shadow_refs(spec: MLServiceSpec) -> list[FieldCause]:
    """The shadow is a release other than the default (it answers nobody)."""
    if spec.shadow is None:
        return []
    names = [r.name for r in spec.releases]
    release = spec.shadow.release
    if release not in names:
        known = ", ".join(f'"{n}"' for n in names)
        return [FieldCause("spec.shadow.release", f'"{release}" is not a release ({known})')]
    if release == spec.default:
        return [FieldCause("spec.shadow.release", f'"{release}" is the default release')]
    return []


def _host_label_problems(service: str, release: str, *, index: int) -> list[FieldCause]:
    label = release_label(service, release)
    if len(label) <= 63:
        return []
    return [
        FieldCause(
            f"spec.releases[{index}].name",
            f'release host label "{label}" is {len(label)} characters; at most 63 are allowed',
            "FieldValueTooLong",
        )
    ]


def _replica_bounds(min_replicas: int, max_replicas: int | None, *, path: str) -> list[FieldCause]:
    if max_replicas and max_replicas < min_replicas:
        return [
            FieldCause(
                f"{path}.maxReplicas",
                f"{max_replicas} is below minReplicas {min_replicas}",
            )
        ]
    return []


def _predictor_problems(predictor: Predictor, *, path: str) -> list[FieldCause]:
    causes = _replica_bounds(predictor.min_replicas, predictor.max_replicas, path=path)
    model = predictor.model
    if model.runtime is None and model.model_format is None:
        causes.append(
            FieldCause(
                f"{path}.model", "must set runtime or modelFormat.name", "FieldValueRequired"
            )
        )
    s3 = predictor.storage.s3_storage if predictor.storage else None
    if model.model_uri and scheme_of(model.model_uri) == "s3" and s3 is None:
        causes.append(
            FieldCause(
                f"{path}.storage.s3Storage.secretName",
                f'modelUri "{model.model_uri}" needs the name of a Secret with the S3 settings',
                "FieldValueRequired",
            )
        )
    causes += _patch_problems(predictor.template, path=f"{path}.template")
    return causes


def _patch_problems(template: PodTemplate | None, *, path: str) -> list[FieldCause]:
    """A release's pod template is a patch onto its runtime's: it may not add ports."""
    if template is None:
        return []
    causes = _annotation_problems(template, path=path)
    containers = template.spec.containers if template.spec else None
    for i, container in enumerate(containers or ()):
        if container.ports:
            causes.append(
                FieldCause(
                    f"{path}.spec.containers[{i}].ports",
                    f'container "{container.name}" may not set ports in a patch; '
                    "the runtime declares the serving port",
                    "FieldValueForbidden",
                )
            )
    return causes


def _transformer_problems(transformer: Transformer, *, path: str) -> list[FieldCause]:
    causes = _replica_bounds(transformer.min_replicas, transformer.max_replicas, path=path)
    causes += _annotation_problems(transformer.template, path=f"{path}.template")
    spec = transformer.template.spec
    containers = (spec.containers if spec else None) or []
    where = f"{path}.template.spec.containers"
    if not containers:
        causes.append(FieldCause(where, "must list at least one container", "FieldValueRequired"))
    elif len(containers) > 1 and not any(c.name == USER_CONTAINER for c in containers):
        causes.append(FieldCause(where, f'must name its serving container "{USER_CONTAINER}"'))
    return causes


def _annotation_problems(template: PodTemplate, *, path: str) -> list[FieldCause]:
    annotations = template.metadata.annotations if template.metadata else None
    return autoscaling.check_annotations(annotations, path=f"{path}.metadata.annotations")
