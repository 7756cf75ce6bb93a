"""What every built-in format shares: how it is found, built, and fed from either protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlservice.errors import InvalidInput
from mlservice.model import Model
from mlservice.server.forward import PredictorConfig
from mlservice.server.types import InferRequest, InferResponse, NDArray, ResponseOutput


@dataclass(frozen=True, slots=True)
class BuildOptions:
    """What `mls serve` passes to a format besides the files: the name, transformer settings."""

    name: str
    predictor: PredictorConfig | None = None


@dataclass(frozen=True, slots=True)
class Format:
    """One model format: which files it claims, and how to turn them into a `Model`."""

    name: str
    patterns: str  # human-readable, for the "formats supported" message
    claims: Callable[[Path], bool]  # is this file (in the model dir) one of ours?
    build: Callable[[Path, BuildOptions], Model]  # from the one claimed file


def instances(payload: Any, *, model: str) -> NDArray:
    """The V1 `instances` as one array, or a 400 naming what is wrong."""
    if isinstance(payload, bytes):
        raise InvalidInput(f"Model {model} expects a JSON body, not raw bytes.")
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise InvalidInput(f'The V1 request for model {model} needs "instances", a list.')
    try:
        return np.asarray(payload["instances"])
    except ValueError as exc:
        raise InvalidInput(f'The "instances" for model {model} are ragged: {exc}.') from exc


def features(request: InferRequest) -> NDArray:
    """A tabular model's matrix: the one input, or single-column inputs side by side."""
    if len(request.inputs) == 1:
        data = request.inputs[0].data
        return data if data.ndim > 1 else data.reshape(-1, 1)
    columns = []
    for tensor in request.inputs:
        if tensor.data.ndim > 2 or (tensor.data.ndim == 2 and tensor.data.shape[1] != 1):
            raise InvalidInput(
                f"input {tensor.name!r} has shape {tensor.shape}; with several inputs each "
                "must be one column, [N] or [N, 1]."
            )
        columns.append(tensor.data.reshape(-1))
    try:
        return np.column_stack(columns)
    except ValueError as exc:
        raise InvalidInput(f"The inputs have different row counts: {exc}.") from exc


def tabular(payload: Any, *, model: str, width: int) -> NDArray:
    """The rows a tabular model predicts on, from either protocol, checked against the number
    of features the model was trained on (`width`, -1 when unknown) so a wrong shape is the
    caller's 400 rather than the library's 500."""
    x = features(payload) if isinstance(payload, InferRequest) else instances(payload, model=model)
    if width >= 0 and (x.ndim != 2 or x.shape[1] != width):
        raise InvalidInput(
            f"Model {model} expects rows of {width} features, shape [N, {width}]; "
            f"got shape {list(x.shape)}."
        )
    return x


def requested_names(payload: Any) -> list[str] | None:
    if isinstance(payload, InferRequest) and payload.outputs is not None:
        return [o.name for o in payload.outputs]
    return None


def respond(payload: Any, results: dict[str, NDArray], *, model: str) -> Any:
    """V1 gets the first result as `predictions`; V2 gets every result as a named output."""
    if isinstance(payload, InferRequest):
        return InferResponse(
            [ResponseOutput(name, array) for name, array in results.items()], model_name=model
        )
    return {"predictions": next(iter(results.values()))}


def unknown_output(name: str, *, model: str, known: list[str]) -> InvalidInput:
    return InvalidInput(
        f"output {name!r} is not produced by model {model} (outputs: {', '.join(known)})."
    )
