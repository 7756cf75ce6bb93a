"""The benchmark's model: an iris LogisticRegression, and the one-row request every server gets."""

import dataclasses
import pathlib

import joblib
import orjson
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

MODEL_NAME = "iris"
MODEL_FILE = "model.joblib"
# Row 100 is a virginica (class 2): a server that answers 0 for everything fails the check.
ROW_INDEX = 100


@dataclasses.dataclass(frozen=True)
class IrisCase:
    """What to send and what must come back."""

    model_dir: pathlib.Path
    row: tuple[float, ...]
    expected: int

    def v2_body(self) -> bytes:
        """The V2 REST infer body: one FP32 row, the same bytes for every server."""
        return orjson.dumps(
            {
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": [1, len(self.row)],
                        "datatype": "FP32",
                        "data": list(self.row),
                    }
                ]
            }
        )


def train(model_dir: pathlib.Path) -> IrisCase:
    """Fits the model on sklearn's bundled iris data and writes `model.joblib` into `model_dir`."""
    data = load_iris()
    model = LogisticRegression(max_iter=1000).fit(data.data, data.target)
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / MODEL_FILE)
    # Round through float32 so the expected class is the one an FP32 request asks about.
    row = tuple(float(v) for v in data.data[ROW_INDEX].astype("float32"))
    expected = int(model.predict([row])[0])
    return IrisCase(model_dir=model_dir, row=row, expected=expected)


def prediction_of(v2_response: bytes) -> int:
    """The single class a V2 infer response carries; raises ValueError when it has none."""
    try:
        outputs = orjson.loads(v2_response)["outputs"]
        data = outputs[0]["data"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"V2 response {v2_response[:200]!r} carries no outputs[0].data") from exc
    if len(data) != 1:
        raise ValueError(f"V2 response data {data!r} is not a single prediction")
    return int(data[0])
