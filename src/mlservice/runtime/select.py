"""Choosing the runtime that serves a predictor's model.

`model.runtime` names one; otherwise every enabled runtime whose `supportedModelFormats` lists the
model's format (and version, when the model gives one) with `autoSelect` not false is a candidate
and the highest `priority` wins (unset counts as 0). A runtime in the service's namespace shadows a
built-in one (namespace `mls-system`) of the same name, and wins a tie against a built-in; any
other tie is an error rather than a silent pick.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlservice.errors import RuntimeSelectionError
from mlservice.resources.mlservice import ModelSpec
from mlservice.resources.mlserviceruntime import MLServiceRuntime, SupportedModelFormat

BUILTIN_NAMESPACE = "mls-system"


def select_runtime(
    model: ModelSpec, *, namespace: str, runtimes: Iterable[MLServiceRuntime]
) -> MLServiceRuntime:
    """The runtime for `model` among `runtimes` (the namespace's and the built-in ones)."""
    visible = _visible(list(runtimes), namespace)
    if model.runtime is not None:
        return _named(model, visible)
    assert model.model_format is not None  # validation requires runtime or modelFormat
    fmt = model.model_format.name
    ranked = sorted(
        ((_priority(r, model), r.namespace == namespace, r) for r in visible if _serves(r, model)),
        key=lambda c: (c[0], c[1]),
        reverse=True,
    )
    if not ranked:
        raise RuntimeSelectionError(f'No enabled runtime supports model format "{fmt}".')
    best = ranked[0]
    tied = [r.name for p, local, r in ranked if (p, local) == best[:2]]
    if len(tied) > 1:
        raise RuntimeSelectionError(
            f'Runtimes {", ".join(sorted(tied))} all serve model format "{fmt}" at priority '
            f"{best[0]}; set model.runtime or give one a higher priority."
        )
    return best[2]


def _visible(runtimes: list[MLServiceRuntime], namespace: str) -> list[MLServiceRuntime]:
    mine = [r for r in runtimes if r.namespace == namespace]
    names = {r.name for r in mine}
    builtin = [r for r in runtimes if r.namespace == BUILTIN_NAMESPACE and r.name not in names]
    return mine + builtin if namespace != BUILTIN_NAMESPACE else mine


def _named(model: ModelSpec, visible: list[MLServiceRuntime]) -> MLServiceRuntime:
    runtime = next((r for r in visible if r.name == model.runtime), None)
    if runtime is None:
        raise RuntimeSelectionError(f'Runtime "{model.runtime}" does not exist.')
    if not runtime.spec.enabled:
        raise RuntimeSelectionError(f'Runtime "{model.runtime}" is disabled.')
    if model.model_format is not None and _format(runtime, model) is None:
        raise RuntimeSelectionError(
            f'Runtime "{model.runtime}" does not support model format "{model.model_format.name}".'
        )
    return runtime


def _format(runtime: MLServiceRuntime, model: ModelSpec) -> SupportedModelFormat | None:
    wanted = model.model_format
    assert wanted is not None
    return next(
        (
            f
            for f in runtime.spec.supported_model_formats or ()
            if f.name == wanted.name and (wanted.version is None or f.version == wanted.version)
        ),
        None,
    )


def _serves(runtime: MLServiceRuntime, model: ModelSpec) -> bool:
    supported = _format(runtime, model)
    return runtime.spec.enabled and supported is not None and supported.auto_select


def _priority(runtime: MLServiceRuntime, model: ModelSpec) -> int:
    supported = _format(runtime, model)
    return (supported.priority if supported else None) or 0
