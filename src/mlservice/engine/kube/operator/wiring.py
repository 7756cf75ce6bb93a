"""What the operator is given by its composition root (`mls operator`), and its settings.

The operator knows Kubernetes and kopf; turning a manifest into children (the renderer, over
the controllers' runtime selection) and children's facts into our status (the controllers'
pure status functions) sit above the engine layer, so the CLI hands them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mlservice.engine.kube.operator.observe import Observation, Problem

Mode = Literal["knative", "standard"]
Body = Mapping[str, Any]


class Render(Protocol):
    def __call__(self, parent: Body, *, runtimes: Sequence[Body]) -> list[dict[str, Any]]:
        """The parent's children (without owner references); raises `InvalidInput` when the
        manifest cannot run in this mode or its runtime is missing."""
        ...


class StatusOf(Protocol):
    def __call__(self, parent: Body, seen: Observation | Problem) -> dict[str, Any]:
        """The parent's `status`, from its children or from why it could not be rendered;
        `parent["status"]` is the previous one (conditions keep their transition times)."""
        ...


class Unrendered(Protocol):
    def __call__(self, parent: Body, *, runtimes: Sequence[Body]) -> list[str]:
        """Why fields of a renderable parent have no child (spec.analysis, a shadow in knative
        mode): a warning each, naming the field."""
        ...


def _nothing_unrendered(parent: Body, *, runtimes: Sequence[Body]) -> list[str]:
    return []


@dataclass(frozen=True)
class Wiring:
    render: Render
    status: StatusOf
    unrendered: Unrendered = _nothing_unrendered


@dataclass(frozen=True)
class Settings:
    mode: Mode = "knative"
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    kserve_kinds: bool = False
