"""`make run` (interim): train an iris classifier and serve it with `mls serve` in the foreground.

The model goes to `$MLS_HOME/demo/iris/model.joblib`, trained on scikit-learn's bundled iris
data (no download); the server listens on 127.0.0.1:8080, or `$PORT`. A later issue replaces
this with the full platform demo.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mlservice.home import Home

MODEL_NAME = "iris"
ROW = "[6.8, 2.8, 4.8, 1.4]"


def train(home: Home) -> Path:
    """Fit a LogisticRegression on iris and save it; returns the model folder."""
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    folder = home.root / "demo" / MODEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    features, labels = load_iris(return_X_y=True)
    joblib.dump(LogisticRegression(max_iter=1000).fit(features, labels), folder / "model.joblib")
    return folder


def curl_commands(port: int) -> list[str]:
    base = f"http://127.0.0.1:{port}"
    v1 = f'{{"instances": [{ROW}]}}'
    v2 = (
        f'{{"inputs": [{{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": {ROW}}}]}}'
    )
    return [
        f"curl -s {base}/v1/models/{MODEL_NAME}:predict -d '{v1}'",
        f"curl -s {base}/v2/models/{MODEL_NAME}/infer -d '{v2}'",
    ]


def main() -> int:
    from mlservice.server.config import ServerConfig
    from mlservice.server.runner import run

    folder = train(Home.from_env())
    port = int(os.environ.get("PORT", "8080"))
    print(f"Serving {folder} as model {MODEL_NAME!r}. Try (Ctrl-C stops):", flush=True)
    for command in curl_commands(port):
        print(f"  {command}", flush=True)
    return run(ServerConfig(model_dir=folder, name=MODEL_NAME, port=port))


if __name__ == "__main__":
    sys.exit(main())
