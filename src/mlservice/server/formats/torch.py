"""PyTorch TorchScript modules (`*.pt`, `*.pth` saved with `torch.jit.save`).

Inputs go to `forward` in request order; a tensor result is `output-0`, a tuple gives
`output-0..n`, a dict keeps its keys. V1 float instances are sent as float32, the dtype
PyTorch modules are almost always built with.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mlservice.model import Model
from mlservice.server.formats.base import BuildOptions, Format, instances, respond
from mlservice.server.types import InferRequest, ModelMetadata, NDArray


class TorchScriptModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._module: Any = None

    def load(self) -> bool:
        import torch

        with warnings.catch_warnings():
            # TorchScript is deprecated upstream but is still what `*.pt` model files hold.
            warnings.simplefilter("ignore", DeprecationWarning)
            load: Any = torch.jit.load  # untyped upstream
            module = load(str(self.path), map_location="cpu")
        module.eval()
        self._module = module
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(platform="pytorch")

    def predict(self, payload: Any, headers: Any = None) -> Any:
        import torch

        if isinstance(payload, InferRequest):
            arrays = [tensor.data for tensor in payload.inputs]
        else:
            x = instances(payload, model=self.name)
            arrays = [x.astype(np.float32) if x.dtype == np.float64 else x]
        # from_numpy shares memory and needs a writable array; request buffers are read-only.
        tensors = [torch.from_numpy(np.array(a, copy=True)) for a in arrays]
        with torch.inference_mode():
            result = self._module(*tensors)
        return respond(payload, _outputs(result), model=self.name)


def _outputs(result: Any) -> dict[str, NDArray]:
    if isinstance(result, dict):
        return {str(k): v.numpy() for k, v in result.items()}
    if isinstance(result, tuple | list):
        return {f"output-{i}": v.numpy() for i, v in enumerate(result)}
    return {"output-0": result.numpy()}


def _build(path: Path, options: BuildOptions) -> Model:
    return TorchScriptModel(options.name, path)


FORMAT = Format(
    name="pytorch",
    patterns="*.pt, *.pth (TorchScript)",
    claims=lambda path: path.suffix in (".pt", ".pth"),
    build=_build,
)
