"""digits.mar's custom handler, written as TorchServe users write one: a `BaseHandler` subclass
with preprocess / postprocess (BaseHandler's initialize loads `DigitsCNN` from `digits.pt`).

A request item's `data` (or `body`) may be a PNG (any size, made grayscale 8x8), its base64
text (what KServe's V1 `{"instances": [{"data": "<base64>"}]}` carries), or JSON: 64 numbers
0..16 (a flat row or 8x8), as sklearn's digits. Each answer is
`{"label": d, "probabilities": [10 floats]}`.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

PNG_MAGIC = b"\x89PNG"


def _bytes_of(value: Any) -> Any:
    """bytes for PNG/base64/JSON text; JSON already parsed stays as it is."""
    if isinstance(value, bytearray):
        value = bytes(value)
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            return json.loads(text)
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            raise ValueError("data is neither base64 nor JSON") from None
    return value


def _pixels(value: Any) -> torch.Tensor:
    value = _bytes_of(value)
    if isinstance(value, bytes) and value.startswith(PNG_MAGIC):
        from PIL import Image

        image = Image.open(io.BytesIO(value)).convert("L").resize((8, 8))
        grey = torch.tensor(list(image.tobytes()), dtype=torch.float32)
        return (grey * 16.0 / 255.0).reshape(1, 8, 8)
    if isinstance(value, bytes):
        value = _bytes_of(value.decode("utf-8"))
    if isinstance(value, dict):
        value = value.get("data", value.get("instances"))
    row = torch.tensor(value, dtype=torch.float32).flatten()
    if row.numel() != 64:
        raise ValueError(f"expected 64 pixel values (8x8), got {row.numel()}")
    return row.reshape(1, 8, 8)


class DigitsHandler(BaseHandler):  # type: ignore[misc]
    def preprocess(self, data: list[dict[str, Any]]) -> torch.Tensor:
        rows = [_pixels(item.get("data", item.get("body"))) for item in data]
        return torch.stack(rows).to(self.device)

    def postprocess(self, data: torch.Tensor) -> list[dict[str, Any]]:
        probabilities = torch.softmax(data, dim=1)
        return [
            {"label": int(p.argmax()), "probabilities": [round(float(x), 6) for x in p]}
            for p in probabilities
        ]
