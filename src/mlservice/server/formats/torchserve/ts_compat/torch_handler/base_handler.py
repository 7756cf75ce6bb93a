"""`ts.torch_handler.base_handler`: `BaseHandler`, the class most custom handlers extend.

`initialize` loads the archive's model as TorchServe does: `modelFile` + `serializedFile` is an
eager model (the one class `modelFile` defines, with the state dict loaded), a `.pt` alone is
TorchScript, a `.onnx` an onnxruntime session; then `index_to_name.json` if present.
`handle` runs `preprocess -> inference -> postprocess` (or `explain_handle` when the request
says `explain: True`) and records `HandlerTime`.
"""

from __future__ import annotations

import abc
import importlib
import logging
import os
import time
from typing import Any

from ..handler_utils.timer import timed
from ..utils.util import list_classes_from_module, load_label_mapping

log = logging.getLogger("mlservice.server.torchserve")


class BaseHandler(abc.ABC):  # noqa: B024 (abstract in name only, as in TorchServe)
    def __init__(self) -> None:
        self.model: Any = None
        self.mapping: dict[str, str] | None = None
        self.device: Any = None
        self.initialized = False
        self.context: Any = None
        self.model_pt_path: str | None = None
        self.manifest: Any = None
        self.map_location: str | None = None
        self.explain = False
        self.target = 0
        self.profiler_args: dict[str, Any] = {}

    def initialize(self, context: Any) -> None:
        import torch

        self.model_yaml_config = getattr(context, "model_yaml_config", None) or {}
        properties = context.system_properties
        if torch.cuda.is_available() and properties.get("gpu_id") is not None:
            self.map_location = "cuda"
            self.device = torch.device(f"cuda:{properties.get('gpu_id')}")
        else:
            self.map_location = "cpu"
            self.device = torch.device("cpu")
        self.manifest = context.manifest
        model_dir = properties.get("model_dir")
        model = self.manifest["model"]
        self.model_pt_path = None
        if "serializedFile" in model:
            self.model_pt_path = os.path.join(model_dir, model["serializedFile"])
        model_file = model.get("modelFile", "")
        if model_file:
            self.model = self._load_pickled_model(model_dir, model_file, self.model_pt_path)
            self.model.to(self.device)
            self.model.eval()
        elif self.model_pt_path is not None and self.model_pt_path.endswith(".pt"):
            self.model = self._load_torchscript_model(self.model_pt_path)
            self.model.eval()
        elif self.model_pt_path is not None and self.model_pt_path.endswith(".onnx"):
            import onnxruntime

            self.model = onnxruntime.InferenceSession(
                self.model_pt_path, providers=["CPUExecutionProvider"]
            )
        else:
            raise RuntimeError("No model weights could be loaded")
        self.mapping = load_label_mapping(os.path.join(model_dir, "index_to_name.json"))
        self.initialized = True

    def _load_torchscript_model(self, model_pt_path: str) -> Any:
        import torch

        load: Any = torch.jit.load  # untyped upstream
        return load(model_pt_path, map_location=self.device)

    def _load_pickled_model(
        self, model_dir: str, model_file: str, model_pt_path: str | None
    ) -> Any:
        import torch

        if not os.path.isfile(os.path.join(model_dir, model_file)):
            raise RuntimeError("Missing the model.py file")
        module = importlib.import_module(model_file.split(".")[0])
        classes = list_classes_from_module(module)
        if len(classes) != 1:
            raise ValueError(f"Expected only one class as model definition. {classes}")
        model = classes[0]()
        if model_pt_path:
            model.load_state_dict(torch.load(model_pt_path, map_location=self.device))
        return model

    @timed
    def preprocess(self, data: Any) -> Any:
        import torch

        return torch.as_tensor(data, device=self.device)

    @timed
    def inference(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.model(data.to(self.device), *args, **kwargs)

    @timed
    def postprocess(self, data: Any) -> Any:
        return data.tolist()

    def handle(self, data: list[Any], context: Any) -> Any:
        started = time.time()
        self.context = context
        if self._is_describe():
            output = [self.describe_handle()]
        else:
            preprocessed = self.preprocess(data)
            if self._is_explain():
                output = self.explain_handle(preprocessed, data)
            else:
                output = self.postprocess(self.inference(preprocessed))
        context.metrics.add_time(
            "HandlerTime", round((time.time() - started) * 1000, 2), None, "ms"
        )
        return output

    def explain_handle(self, data_preprocess: Any, raw_data: list[Any]) -> Any:
        row = raw_data[0]
        inputs, target = None, 0
        if isinstance(row, dict):
            inputs = row.get("data") or row.get("body")
            target = row.get("target") or 0
        return self.get_insights(data_preprocess, inputs, target)

    def get_insights(self, tensor_data: Any, raw_data: Any, target: int = 0) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not explain its predictions.")

    def _is_explain(self) -> bool:
        if self.context is not None and self.context.get_request_header(0, "explain") == "True":
            self.explain = True
            return True
        return False

    def _is_describe(self) -> bool:
        return self.context is not None and self.context.get_request_header(0, "describe") == "True"

    def describe_handle(self) -> Any:
        return None

    def get_device(self) -> Any:
        return self.device
