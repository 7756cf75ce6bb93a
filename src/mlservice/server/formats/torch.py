"""PyTorch TorchScript modules (`*.pt`, `*.pth` saved with `torch.jit.save`).

Inputs go to `forward` in request order; a tensor result is `output-0`, a tuple gives
`output-0..n`, a dict keeps its keys. V1 float instances are sent as float32, the dtype
PyTorch modules are almost always built with.

TorchScript keeps no input shapes, so the request is checked as far as the file allows: numeric
tensors, as many as `forward` takes. Past that, an operator that refuses the tensors (a shape or
dtype mismatch, a RuntimeError) is the caller's 400: the graph's only variable is the request.
What the module's own scripted code raises (`torch.jit.Error`), and running out of memory, are
the model's 500.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from mlservice.errors import InvalidInput
from mlservice.model import Model
from mlservice.server.codecs.datatypes import datatype_of
from mlservice.server.formats.base import BuildOptions, Format, instances, numeric, respond
from mlservice.server.types import InferRequest, ModelMetadata, NDArray


class TorchScriptModel(Model):
    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name)
        self.path = path
        self._module: Any = None
        self._arity = (0, 0)  # how many tensors forward takes: (required, at most)

    def load(self) -> bool:
        import torch

        with warnings.catch_warnings():
            # TorchScript is deprecated upstream but is still what `*.pt` model files hold.
            warnings.simplefilter("ignore", DeprecationWarning)
            load: Any = torch.jit.load  # untyped upstream
            module = load(str(self.path), map_location="cpu")
        module.eval()
        self._module = module
        self._arity = _arity(module)
        self.ready = True
        return True

    def metadata(self) -> ModelMetadata:
        return ModelMetadata(platform="pytorch")

    def predict(self, payload: Any, headers: Any = None) -> Any:
        import torch

        if isinstance(payload, InferRequest):
            named = [(repr(tensor.name), tensor.data) for tensor in payload.inputs]
        else:
            x = numeric(instances(payload, model=self.name), model=self.name, label="'instances'")
            named = [("'instances'", x.astype(np.float32) if x.dtype == np.float64 else x)]
        self._check(named)
        # from_numpy shares memory and needs a writable array; request buffers are read-only.
        tensors = [torch.from_numpy(np.array(a, copy=True)) for _, a in named]
        try:
            with torch.inference_mode():
                result = self._module(*tensors)
        except torch.OutOfMemoryError:
            raise
        except RuntimeError as exc:  # an operator refused the tensors; torch.jit.Error is not one
            given = ", ".join(f"{label} {datatype_of(a)} {list(a.shape)}" for label, a in named)
            raise InvalidInput(
                f"Model {self.name} cannot run on {given}: {_last_line(exc)}"
            ) from exc
        return respond(payload, _outputs(result), model=self.name)

    def _check(self, named: list[tuple[str, NDArray]]) -> None:
        for label, array in named:
            if array.dtype.kind not in "biuf":
                raise InvalidInput(
                    f"Model {self.name} takes numeric tensors, but input {label} is "
                    f"{datatype_of(array)}."
                )
        least, most = self._arity
        if not least <= len(named) <= most:
            wanted = str(least) if least == most else f"{least} to {most}"
            raise InvalidInput(
                f"Model {self.name} takes {wanted} input tensor(s); the request has {len(named)}."
            )


def _arity(module: Any) -> tuple[int, int]:
    """(required, at most) tensors `forward` takes, from its TorchScript schema."""
    arguments = list(module.forward.schema.arguments)[1:]  # the first is self
    required = sum(1 for a in arguments if not a.has_default_value() and not a.kwarg_only)
    return required, sum(1 for a in arguments if not a.kwarg_only)


def _last_line(exc: BaseException) -> str:
    """The cause at the end of a TorchScript error, after the interpreter's own trace."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1].removeprefix("RuntimeError: ") if lines else type(exc).__name__


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
