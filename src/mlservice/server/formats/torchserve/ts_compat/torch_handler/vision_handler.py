"""`ts.torch_handler.vision_handler`: images in (bytes, base64 text, or nested lists), a
batch tensor out; the ImageNet transform is done with Pillow and torch, not torchvision."""

from __future__ import annotations

import abc
import base64
import io
from typing import Any

from ..handler_utils.timer import timed
from .base_handler import BaseHandler

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class ImageNetTransform:
    """torchvision's Resize(256), CenterCrop(224), ToTensor(), Normalize(ImageNet)."""

    def __init__(self, resize: int = 256, crop: int = 224) -> None:
        self.resize = resize
        self.crop = crop

    def __call__(self, image: Any) -> Any:
        import numpy as np
        import torch
        from PIL import Image

        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.resize * long / short)  # torchvision truncates too
        size = (self.resize, new_long) if width <= height else (new_long, self.resize)
        image = image.resize(size, Image.Resampling.BILINEAR)
        width, height = image.size
        top = round((height - self.crop) / 2.0)
        left = round((width - self.crop) / 2.0)
        image = image.crop((left, top, left + self.crop, top + self.crop))
        array = np.asarray(image, dtype=np.float32) / 255.0
        tensor = torch.from_numpy(array if array.ndim == 3 else array[:, :, None].copy())
        tensor = tensor.permute(2, 0, 1)
        mean = torch.tensor(MEAN).view(-1, 1, 1)
        std = torch.tensor(STD).view(-1, 1, 1)
        return (tensor - mean) / std


class VisionHandler(BaseHandler, abc.ABC):
    image_processing: Any = ImageNetTransform()

    def initialize(self, context: Any) -> None:
        from PIL import Image

        super().initialize(context)
        if not context.system_properties.get("limit_max_image_pixels"):
            Image.MAX_IMAGE_PIXELS = None
        self.initialized = True

    @timed
    def preprocess(self, data: list[Any]) -> Any:
        import torch
        from PIL import Image

        images = []
        for row in data:
            image = row.get("data") or row.get("body")
            if isinstance(image, str):
                image = base64.b64decode(image)
            if isinstance(image, bytes | bytearray):
                image = self.image_processing(Image.open(io.BytesIO(image)))
            else:
                image = torch.FloatTensor(image)
            images.append(image)
        return torch.stack(images).to(self.device)
