"""`ts.torch_handler.image_classifier`: the top 5 classes of each image, as
`{label: probability}` with labels from `index_to_name.json` (class ids without it)."""

from __future__ import annotations

from typing import Any

from ..handler_utils.timer import timed
from ..utils.util import map_class_to_label
from .vision_handler import VisionHandler


class ImageClassifier(VisionHandler):
    topk = 5

    def set_max_result_classes(self, topk: int) -> None:
        self.topk = topk

    def get_max_result_classes(self) -> int:
        return self.topk

    @timed
    def postprocess(self, data: Any) -> Any:
        import torch

        probabilities = torch.softmax(data, dim=1)
        k = min(self.topk, probabilities.shape[1])  # a model with fewer classes than topk
        probs, classes = torch.topk(probabilities, k, dim=1)
        return map_class_to_label(probs.tolist(), self.mapping, classes.tolist())
