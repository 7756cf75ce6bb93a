"""Protocol-agnostic inference types: what the data plane and models see, whatever the wire.

REST and gRPC adapters translate to and from these; tensors hold numpy arrays already shaped,
so models never parse wire formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Parameters = dict[str, Any]
NDArray = npt.NDArray[Any]


@dataclass(slots=True)
class RequestInput:
    """One named input tensor; `data` is already reshaped to `shape`."""

    name: str
    datatype: str
    shape: list[int]
    data: NDArray
    parameters: Parameters = field(default_factory=dict)

    def as_numpy(self) -> NDArray:
        return self.data


@dataclass(slots=True)
class ResponseOutput:
    """One named output tensor. `datatype` and `shape` default from the array when left empty."""

    name: str
    data: NDArray
    datatype: str = ""
    shape: list[int] = field(default_factory=list)
    parameters: Parameters = field(default_factory=dict)

    def as_numpy(self) -> NDArray:
        return self.data


@dataclass(slots=True)
class RequestedOutput:
    """An entry of a V2 request's `outputs`: which output to return, and how (`binary_data`)."""

    name: str
    parameters: Parameters = field(default_factory=dict)


@dataclass(slots=True)
class InferRequest:
    inputs: list[RequestInput]
    id: str | None = None
    parameters: Parameters = field(default_factory=dict)
    outputs: list[RequestedOutput] | None = None
    model_name: str = ""

    def input(self, name: str) -> RequestInput | None:
        return next((i for i in self.inputs if i.name == name), None)


@dataclass(slots=True)
class InferResponse:
    outputs: list[ResponseOutput]
    model_name: str = ""
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters = field(default_factory=dict)

    def output(self, name: str) -> ResponseOutput | None:
        return next((o for o in self.outputs if o.name == name), None)


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """Metadata of one input or output; -1 in `shape` means any size."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    platform: str = ""


def as_array(value: Any) -> NDArray:
    """Models may return lists or scalars; the data plane always works on arrays."""
    return value if isinstance(value, np.ndarray) else np.asarray(value)
