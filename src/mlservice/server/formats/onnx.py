"""ONNX models (`*.onnx`) on onnxruntime's CPU provider; metadata comes from the graph.

The graph declares each input's element type and shape, so a request is checked against them
before it runs (a 400 naming the input); onnxruntime's own INVALID_ARGUMENT, for whatever the
checks let through, is the caller's 400 too. Any other failure is the model's 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mlservice.errors import InvalidInput
from mlservice.model import Model
from mlservice.server.formats.base import (
    BuildOptions,
    Format,
    first_line,
    instances,
    numeric,
    requested_names,
    respond,
    unknown_output,
)
from mlservice.server.types import InferRequest, ModelMetadata, NDArray, TensorSpec

# onnxruntime's element type names -> (V2 datatype, numpy dtype).
_TYPES: dict[str, tuple[str, Any]] = {
    "tensor(bool)": ("BOOL", np.bool_),
    "tensor(int8)": ("INT8", np.int8),
    "tensor(int16)": ("INT16", np.int16),
    "tensor(int32)": ("INT32", np.int32),
    "tensor(int64)": ("INT64", np.int64),
    "tensor(uint8)": ("UINT8", np.uint8),
    "tensor(uint16)": ("UINT16", np.uint16),
    "tensor(uint32)": ("UINT32", np.uint32),
    "tensor(uint64)": ("UINT64", np.uint64),
    "tensor(float16)": ("FP16", np.float16),
    "tensor(float)": ("FP32", np.float32),
    "tensor(double)": ("FP64", np.float64),
    "tensor(string)": ("BYTES", np.object_),
}


class ONNXModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._session: Any = None
        self._inputs: list[Any] = []
        self._outputs: list[str] = []

    def load(self) -> bool:
        import onnxruntime

        self._session = onnxruntime.InferenceSession(
            str(self.path), providers=["CPUExecutionProvider"]
        )
        self._inputs = list(self._session.get_inputs())
        # Non-tensor outputs (e.g. skl2onnx's ZipMap dicts) have no V2 representation.
        self._outputs = [o.name for o in self._session.get_outputs() if o.type in _TYPES]
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        outputs = [o for o in self._session.get_outputs() if o.type in _TYPES]
        return ModelMetadata(
            inputs=tuple(_spec(i) for i in self._inputs),
            outputs=tuple(_spec(o) for o in outputs),
            platform="onnx",
        )

    def predict(self, payload: Any, headers: Any = None) -> Any:
        if isinstance(payload, InferRequest):
            feed = self._feed(payload)
        else:
            x = instances(payload, model=self.name)
            feed = {self._inputs[0].name: self._checked(x, 0, label="'instances'")}
        names = requested_names(payload) or self._outputs
        for name in names:
            if name not in self._outputs:
                raise unknown_output(name, model=self.name, known=self._outputs)
        arrays = self._run(names, feed)
        return respond(payload, dict(zip(names, arrays, strict=True)), model=self.name)

    def _run(self, names: list[str], feed: dict[str, NDArray]) -> Any:
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

        try:
            return self._session.run(names, feed)
        except InvalidArgument as exc:
            raise InvalidInput(f"Model {self.name} refused its inputs: {first_line(exc)}") from exc

    def _feed(self, request: InferRequest) -> dict[str, NDArray]:
        if len(request.inputs) == 1 and len(self._inputs) == 1:
            only = request.inputs[0]
            return {self._inputs[0].name: self._checked(only.data, 0, label=repr(only.name))}
        feed = {}
        for index, spec in enumerate(self._inputs):
            tensor = request.input(spec.name)
            if tensor is None:
                raise InvalidInput(f"input {spec.name!r} of model {self.name} is missing.")
            feed[spec.name] = self._checked(tensor.data, index, label=repr(spec.name))
        return feed

    def _checked(self, array: NDArray, index: int, *, label: str) -> NDArray:
        """`array` in the graph input's element type, its rank and fixed sizes checked."""
        spec = self._inputs[index]
        shape = [d if isinstance(d, int) else -1 for d in spec.shape]
        if array.ndim != len(shape) or any(
            want not in (-1, got) for want, got in zip(shape, array.shape, strict=True)
        ):
            raise InvalidInput(
                f"Model {self.name} takes input {label} with shape {shape} (-1: any size); "
                f"got shape {list(array.shape)}."
            )
        # JSON numbers arrive as float64/int64; the graph fixes its own element type.
        datatype, dtype = _TYPES.get(spec.type, ("", None))
        if dtype is None or array.dtype == dtype:
            return array
        if datatype == "BYTES":
            if array.dtype.kind not in "OSU":
                raise InvalidInput(f"Model {self.name} takes strings in input {label}.")
            return array.astype(dtype)
        array = numeric(array, model=self.name, label=label)
        if array.dtype.kind == "f" and np.dtype(dtype).kind in "biu":
            # A float must not silently truncate into an integer input.
            raise InvalidInput(
                f"Model {self.name} takes {datatype} in input {label}, not floating-point values."
            )
        return array.astype(dtype)


def _spec(node: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else -1 for d in node.shape)
    return TensorSpec(node.name, _TYPES.get(node.type, ("BYTES", None))[0], shape)


def _build(path: Path, options: BuildOptions) -> Model:
    return ONNXModel(options.name, path)


FORMAT = Format(
    name="onnx", patterns="*.onnx", claims=lambda path: path.suffix == ".onnx", build=_build
)
