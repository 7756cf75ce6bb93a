"""The demo's models and data: scikit-learn's bundled 8x8 digits, so nothing is downloaded.

Two classifiers of different kinds (the releases `v1` and `v2`) are trained into a volume, and
this module turns what a client sends the transformer (a PNG, or JSON arrays) into the 64
features those classifiers read: grey levels from 0 (background) to 16 (ink), row by row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlservice.demo import png
from mlservice.errors import InvalidInput
from mlservice.server.types import InferRequest

SIDE = 8
INK = 16.0  # the digits data's darkest stroke; 0 is background
TRANSFORMER = Path(__file__).parent / "transformer" / "model.py"
Rows = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DemoModels:
    """Where `train` put things, inside the volume."""

    releases: dict[str, Path]  # release name -> folder with model.joblib
    transformer: Path  # folder with model.py


def train(volume: Path) -> DemoModels:
    """Fit v1 (a logistic regression) and v2 (a random forest) on the digits, save them with
    joblib, and copy the transformer's model.py beside them."""
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = load_digits(return_X_y=True)
    estimators = {
        # Scaled inputs: the solver converges in a fraction of the time raw 0-16 levels take.
        "v1": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "v2": RandomForestClassifier(n_estimators=60, random_state=0),
    }
    releases: dict[str, Path] = {}
    for release, estimator in estimators.items():
        folder = volume / f"digits-{release}"
        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump(estimator.fit(features, labels), folder / "model.joblib")
        releases[release] = folder
    transformer = volume / "transformer"
    transformer.mkdir(parents=True, exist_ok=True)
    (transformer / "model.py").write_text(TRANSFORMER.read_text())
    return DemoModels(releases=releases, transformer=transformer)


def sample(label: int) -> Rows:
    """The first 8x8 image of `label` in the digits data (levels 0-16)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    index = int(np.flatnonzero(digits.target == label)[0])
    image: Rows = digits.images[index]
    return image


def sample_png(label: int) -> bytes:
    """`sample(label)` as a greyscale PNG, ink light on a dark background as in the data."""
    levels = np.round(sample(label) / INK * 255.0).astype(np.uint8)
    return png.encode_grey(levels)


def sample_files(label: int) -> dict[str, bytes]:
    """examples/data/: the image as a PNG, a V2 body with it as [1, 8, 8], a V1 body with its
    64 features as one row."""
    image = sample(label).astype(int)
    tensor = {"name": "image", "shape": [1, SIDE, SIDE], "datatype": "FP64"}
    v2 = {"inputs": [{**tensor, "data": image.tolist()}]}
    v1 = {"instances": [image.reshape(SIDE * SIDE).tolist()]}
    return {
        f"{label}.png": sample_png(label),
        f"{label}-8x8.json": (json.dumps(v2) + "\n").encode(),
        f"{label}-row.json": (json.dumps(v1) + "\n").encode(),
    }


def rows_of(payload: Any) -> Rows:
    """Feature rows, shape (N, 64), from a PNG (bytes), a V1 body (`{"instances": [...]}` or a
    bare array) or a V2 request (its first input)."""
    if isinstance(payload, bytes | bytearray):
        return image_row(png.decode_grey(bytes(payload)))[np.newaxis, :]
    if isinstance(payload, InferRequest):
        if not payload.inputs:
            raise InvalidInput("The V2 request has no inputs; send one tensor of 8x8 images.")
        return _rows(payload.inputs[0].data, what=f"input {payload.inputs[0].name!r}")
    if isinstance(payload, dict):
        if "instances" not in payload:
            raise InvalidInput('The JSON body needs "instances": a list of 8x8 arrays.')
        payload = payload["instances"]
    try:
        array = np.asarray(payload, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput("The JSON body is not a numeric array of 8x8 images.") from None
    return _rows(array, what="the JSON array")


def image_row(grey: npt.NDArray[np.float64]) -> Rows:
    """Any grey image (0-255) as one row of 64 features: dark ink on light paper is inverted
    (the data has light ink), then each of the 8x8 cells is the mean of the area it covers."""
    if grey.mean() > 127.5:
        grey = 255.0 - grey
    height, width = grey.shape
    cells = _area(height) @ grey @ _area(width).T
    row: Rows = (cells / 255.0 * INK).reshape(SIDE * SIDE)
    return row


def _area(n: int) -> npt.NDArray[np.float64]:
    """(8, n) weights: the share of each of n pixels that falls in each of 8 equal cells."""
    edges = np.linspace(0.0, n, SIDE + 1)
    pixels = np.arange(n, dtype=np.float64)
    low = np.maximum(pixels[np.newaxis, :], edges[:-1, np.newaxis])
    high = np.minimum(pixels[np.newaxis, :] + 1.0, edges[1:, np.newaxis])
    weights: npt.NDArray[np.float64] = np.clip(high - low, 0.0, None) / (n / SIDE)
    return weights


def _rows(array: npt.NDArray[Any], *, what: str) -> Rows:
    data = np.asarray(array, dtype=np.float64)
    if data.shape in ((SIDE, SIDE), (SIDE * SIDE,)):
        data = data[np.newaxis]
    if data.ndim not in (2, 3) or data.shape[1:] not in ((SIDE, SIDE), (SIDE * SIDE,)):
        raise InvalidInput(
            f"{what.capitalize()} has shape {list(data.shape)}; send 8x8 images as [8, 8], "
            "[N, 8, 8] or [N, 64]."
        )
    if data.size and not 0.0 <= float(data.min()) <= float(data.max()) <= INK:
        raise InvalidInput(
            f"{what.capitalize()} holds values from {data.min():g} to {data.max():g}; grey "
            "levels go from 0 (background) to 16 (ink), or send a PNG."
        )
    rows: Rows = data.reshape(len(data), SIDE * SIDE)
    return rows
