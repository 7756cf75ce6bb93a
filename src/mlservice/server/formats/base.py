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
        raise InvalidInput(
            f'The "instances" for model {model} are ragged or nested too deep: {exc}.'
        ) from exc


def input_label(payload: Any) -> str:
    """How a 400 names what the caller sent: V1's "instances", or the V2 input names."""
    if isinstance(payload, InferRequest):
        return ", ".join(repr(tensor.name) for tensor in payload.inputs)
    return "'instances'"


def numeric(x: NDArray, *, model: str, label: str) -> NDArray:
    """`x` as numbers, or a 400 naming the input: for formats that take numbers only.

    JSON numbers arrive numeric already; strings, objects and lists inside an object array are
    the caller's mistake, not the library's crash. A JSON null becomes NaN (a missing value).
    """
    kind = x.dtype.kind
    if kind in _NUMERIC_KINDS:
        return x
    if kind == "O":
        bad = next((item for item in x.flat if not _number_or_null(item)), _NOTHING)
        if bad is _NOTHING:
            return x.astype(np.float64)
    else:  # strings (numpy turns a mix of numbers and strings into strings)
        bad = next((item for item in x.flat if not _parses(item)), x.flat[0])
    raise InvalidInput(f"Model {model} takes numbers, but input {label} holds {_describe(bad)}.")


_NUMERIC_KINDS = "biuf"
_NOTHING = object()


def _number_or_null(item: Any) -> bool:
    return item is None or isinstance(item, int | float | np.number | np.bool_)


def _parses(item: Any) -> bool:
    try:
        float(item)
    except (TypeError, ValueError):
        return False
    return True


def _describe(item: Any) -> str:
    if isinstance(item, str | bytes | np.str_ | np.bytes_):
        text = item.decode(errors="replace") if isinstance(item, bytes) else str(item)
        return f"the string {_clip(text)!r}"
    return f"a JSON {_JSON_NAMES.get(type(item), type(item).__name__)}"


_JSON_NAMES: dict[type, str] = {dict: "object", list: "array"}


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def first_line(exc: BaseException) -> str:
    """A library's error for a 400: its first line (sklearn appends paragraphs of advice)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


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


def tabular(payload: Any, *, model: str, width: int, numbers: bool = False) -> NDArray:
    """The rows a tabular model predicts on, from either protocol, checked against the number
    of features the model was trained on (`width`, -1 when unknown) and, with `numbers`, made
    numeric, so a wrong shape or type is the caller's 400 rather than the library's 500."""
    x = features(payload) if isinstance(payload, InferRequest) else instances(payload, model=model)
    if numbers:
        x = numeric(x, model=model, label=input_label(payload))
    if width >= 0 and (x.ndim != 2 or x.shape[1] != width):
        raise InvalidInput(
            f"Model {model} expects rows of {width} features, shape [N, {width}]; "
            f"input {input_label(payload)} has shape {list(x.shape)}."
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
